"""launch/*.sh, run as a user runs them (subprocesses): the exact commands each prints with
--dry-run, the same commands run for real against stand-ins for gcloud/sbatch/srun/python,
and the argument errors. Nothing here reaches GCP or SLURM."""

import json
import os
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tarfile
import time

import pytest

from tests.conftest import ROOT

LAUNCH = os.path.join(ROOT, "launch")
TPU = os.path.join(LAUNCH, "tpu_vm.sh")
SLURM = os.path.join(LAUNCH, "gpu_slurm.sh")
LOCAL = os.path.join(LAUNCH, "local_multiprocess.sh")
SCRIPTS = (TPU, SLURM, LOCAL)


def launch(script, *args, env=None, cwd=ROOT, timeout=30):
  e = dict(os.environ)
  e.update(env or {})
  return subprocess.run([script, *args], cwd=cwd, env=e, capture_output=True, text=True,
                        timeout=timeout)


def dry_run(script, *args, env=None):
  p = launch(script, "--dry-run", *args, env=env)
  assert p.returncode == 0, p.stderr
  return p.stdout


def lines(*commands):
  return "".join(shlex.join(c) + "\n" for c in commands)


def write_exe(path, text):
  with open(path, "w") as f:
    f.write(text)
  os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
  return str(path)


def fake_bin(tmp_path, name, text):
  """An executable `name` in tmp_path/bin, put first on PATH by path_env()."""
  os.makedirs(tmp_path / "bin", exist_ok=True)
  return write_exe(tmp_path / "bin" / name, text)


def path_env(tmp_path, **extra):
  return {"PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}", **extra}


@pytest.mark.parametrize("script", SCRIPTS)
def test_executable_bash_with_help(script):
  assert os.access(script, os.X_OK)
  with open(script) as f:
    head = f.read(400)
  assert head.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in head
  p = launch(script, "--help")
  assert p.returncode == 0 and p.stdout.startswith("Usage: ")
  assert "--dry-run" in p.stdout and "--config" in p.stdout and not p.stderr


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed")
def test_shellcheck_clean():
  # -x follows the helpers each script sources (launch/common.sh), paths relative to ROOT.
  p = subprocess.run(["shellcheck", "-x", *SCRIPTS, os.path.join(ROOT, "launch", "common.sh")],
                     cwd=ROOT, capture_output=True, text=True, timeout=60)
  assert p.returncode == 0, p.stdout


# --- launch/tpu_vm.sh ---------------------------------------------------------------------

TPU_ARGS = ["--name=vjax-sf", "--zone=us-east5-a", "--accelerator-type=v5p-32",
            "--project=my-proj", "--spot", "--config=configs/slowfast_k400.py",
            "--workdir=gs://my-bucket/vjax/slowfast_k400", "--",
            "--config.optimizer.lr=0.2", "--config.note=it's"]
G = ["--zone=us-east5-a", "--project=my-proj"]
SETUP = ("set -e; rm -rf ~/vjax ~/vjax-run.log; mkdir -p ~/vjax; "
         "tar -xzf ~/vjax-src.tar.gz -C ~/vjax; rm -f ~/vjax-src.tar.gz; "
         'python3 -m pip install -q "jax[tpu]" -e ~/vjax')
JOB = ("cd ~/vjax && python3 -m vjax.main --config=configs/slowfast_k400.py "
       "--workdir=gs://my-bucket/vjax/slowfast_k400 --distributed --config.optimizer.lr=0.2 "
       "'--config.note=it'\"'\"'s' > ~/vjax-run.log 2>&1")
FOLLOW = "tail -n +1 -F ~/vjax-run.log"
VM = ["gcloud", "compute", "tpus", "tpu-vm"]
QR = ["gcloud", "compute", "tpus", "queued-resources"]


def tpu_commands(tarball):
  return [
      VM + ["create", "vjax-sf", *G, "--accelerator-type=v5p-32", "--version=v2-alpha-tpuv5",
            "--spot"],
      ["env", "COPYFILE_DISABLE=1", "tar", "-czf", tarball, "-C", ROOT, "--exclude=.git",
       "--exclude=.venv", "--exclude=work_dirs", "--exclude=workdir*", "--exclude=__pycache__",
       "--exclude=*.egg-info", "--exclude=.pytest_cache", "--exclude=tensorflow_datasets", "."],
      VM + ["scp", tarball, "vjax-sf:vjax-src.tar.gz", *G, "--worker=all"],
      ["rm", "-f", tarball],
      VM + ["ssh", "vjax-sf", *G, "--worker=all", "--command", SETUP],
      VM + ["ssh", "vjax-sf", *G, "--worker=all", "--command", JOB],
      VM + ["ssh", "vjax-sf", *G, "--worker=0", "--command", FOLLOW],
      VM + ["delete", "vjax-sf", *G, "--quiet"],
  ]


def test_tpu_dry_run_create_copy_run_stream_delete(tmp_path):
  out = dry_run(TPU, *TPU_ARGS, env={"TMPDIR": str(tmp_path)})
  assert out == lines(*tpu_commands(f"{tmp_path}/vjax-src-vjax-sf.tar.gz"))


def test_tpu_dry_run_queued_install_env_keep():
  out = dry_run(TPU, "--name=vjax-q", "--zone=us-central2-b", "--accelerator-type=v4-32",
                "--queued", "--spot", "--keep", "--install", "git+https://github.com/o/vjax@v1",
                "--env=LIBTPU_INIT_ARGS=--xla_tpu_enable_latency_hiding_scheduler=true",
                "--config=configs/tsm_k400.py:synthetic", "--workdir=gs://b/tsm")
  g = ["--zone=us-central2-b"]
  assert out == lines(
      QR + ["create", "vjax-q", "--node-id=vjax-q", *g, "--accelerator-type=v4-32",
            "--runtime-version=tpu-ubuntu2204-base", "--spot"],
      QR + ["describe", "vjax-q", *g, "--format=value(state.state)"],
      VM + ["ssh", "vjax-q", *g, "--worker=all", "--command",
            "set -e; rm -rf ~/vjax ~/vjax-run.log; mkdir -p ~/vjax; "
            'python3 -m pip install -q "jax[tpu]" git+https://github.com/o/vjax@v1'],
      VM + ["scp", "configs/tsm_k400.py", "vjax-q:vjax/tsm_k400.py", *g, "--worker=all"],
      VM + ["ssh", "vjax-q", *g, "--worker=all", "--command",
            "cd ~/vjax && env "
            "LIBTPU_INIT_ARGS=--xla_tpu_enable_latency_hiding_scheduler=true python3 -m "
            "vjax.main --config=tsm_k400.py:synthetic --workdir=gs://b/tsm --distributed "
            "> ~/vjax-run.log 2>&1"],
      VM + ["ssh", "vjax-q", *g, "--worker=0", "--command", FOLLOW],
  )  # --keep: no delete


def test_tpu_dry_run_queued_delete_and_default_versions():
  out = dry_run(TPU, "--name=q", "--zone=us-east5-b", "--accelerator-type=v5litepod-16",
                "--queued", "--config=configs/tsn_k400.py", "--workdir=gs://b/w")
  assert out.splitlines()[-1] == shlex.join(
      QR + ["delete", "q", "--zone=us-east5-b", "--force", "--quiet"])
  assert "--runtime-version=v2-alpha-tpuv5-lite" in out.splitlines()[0]
  out = dry_run(TPU, "--name=t", "--zone=us-east5-b", "--accelerator-type=v6e-8",
                "--preemptible", "--reuse", "--config=configs/tsn_k400.py", "--workdir=w")
  assert "create" not in out and "--preemptible" not in out  # --reuse: no create
  out = dry_run(TPU, "--name=t", "--zone=us-east5-b", "--accelerator-type=v6e-8",
                "--preemptible", "--config=configs/tsn_k400.py", "--workdir=w")
  assert out.splitlines()[0].endswith("--version=v2-alpha-tpuv6e --preemptible")


FAKE_GCLOUD = f"""#!{sys.executable}
import json, os, shutil, sys, time
args = sys.argv[1:]
with open(os.environ["STUB_LOG"], "a") as f:
  f.write(json.dumps(args) + "\\n")
fail = os.environ.get("STUB_FAIL")
if fail and any(fail in a for a in args):
  sys.exit(3)
if "describe" in args:
  print("ACTIVE")
if "scp" in args and args[args.index("scp") + 1].endswith(".tar.gz"):
  shutil.copy(args[args.index("scp") + 1], os.environ["STUB_LOG"] + ".tar.gz")
if "--worker=0" in args:  # the log stream: runs until killed
  print("worker 0: training", flush=True)
  open(os.environ["STUB_LOG"] + ".streaming", "w").close()
  time.sleep(30)
if any("vjax.main" in a for a in args):  # the job: ends once the stream has shown a line
  for _ in range(100):
    if os.path.exists(os.environ["STUB_LOG"] + ".streaming"):
      break
    time.sleep(0.05)
  time.sleep(float(os.environ.get("STUB_JOB_S", "0")))
"""


def run_tpu_for_real(tmp_path, fail=None):
  fake_bin(tmp_path, "gcloud", FAKE_GCLOUD)
  log = tmp_path / "gcloud.log"
  env = path_env(tmp_path, TMPDIR=str(tmp_path), STUB_LOG=str(log), VJAX_LOG_GRACE_S="0",
                 STUB_FAIL=fail or "")
  start = time.monotonic()
  p = launch(TPU, *TPU_ARGS, env=env)
  calls = [json.loads(l) for l in log.read_text().splitlines()] if log.exists() else []
  return p, calls, time.monotonic() - start


def test_tpu_real_run_is_the_dry_run(tmp_path):
  p, calls, took = run_tpu_for_real(tmp_path)
  assert p.returncode == 0, p.stderr
  assert took < 10  # the log stream was stopped, not waited for
  tarball = f"{tmp_path}/vjax-src-vjax-sf.tar.gz"
  expected = [c[1:] for c in tpu_commands(tarball) if c[0] == "gcloud"]
  # The job and the log stream start together; their order in the log is a race.
  assert len(calls) == len(expected) == 6
  assert calls[:3] == expected[:3] and calls[-1] == expected[-1]
  assert sorted(calls[3:5]) == sorted(expected[3:5])
  assert "worker 0: training" in p.stdout
  assert not os.path.exists(tarball)  # removed after the copy
  with tarfile.open(f"{tmp_path}/gcloud.log.tar.gz") as t:
    names = set(t.getnames())
  assert {"./vjax/main.py", "./configs/slowfast_k400.py", "./launch/tpu_vm.sh"} <= names
  assert not any(n.split("/")[1] in (".git", ".venv") for n in names if n != ".")


def test_tpu_job_failure_still_deletes(tmp_path):
  p, calls, _ = run_tpu_for_real(tmp_path, fail="vjax.main")
  assert p.returncode == 3
  assert calls[-1] == VM[1:] + ["delete", "vjax-sf", *G, "--quiet"]
  assert "deleting the TPU after a failure" in p.stderr


def test_tpu_create_failure_deletes_nothing(tmp_path):
  p, calls, _ = run_tpu_for_real(tmp_path, fail="create")
  assert p.returncode == 3
  assert [c[3] for c in calls] == ["create"]  # a taken name is not someone else's to delete


def wait_for(predicate, timeout=10):
  end = time.monotonic() + timeout
  while not predicate():
    assert time.monotonic() < end, "timed out"
    time.sleep(0.05)


def test_tpu_ctrl_c_stops_the_job_and_deletes(tmp_path):
  fake_bin(tmp_path, "gcloud", FAKE_GCLOUD)
  log = tmp_path / "gcloud.log"
  env = {**os.environ, **path_env(tmp_path, TMPDIR=str(tmp_path), STUB_LOG=str(log),
                                  VJAX_LOG_GRACE_S="0", STUB_JOB_S="30")}
  p = subprocess.Popen([TPU, *TPU_ARGS], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
  try:
    wait_for(lambda: (tmp_path / "gcloud.log.streaming").exists())
    p.send_signal(signal.SIGINT)
    # communicate() returns once every holder of the pipes is gone: the gcloud stand-ins,
    # which would otherwise run for 30 s, were stopped.
    _, err = p.communicate(timeout=10)
  finally:
    p.kill()
  assert p.returncode == 130
  assert json.loads(log.read_text().splitlines()[-1]) == VM[1:] + ["delete", "vjax-sf", *G,
                                                                   "--quiet"]
  assert "deleting the TPU after a failure (status 130)" in err


@pytest.mark.parametrize("drop,add,message", [
    ("--config=configs/slowfast_k400.py", [], "--config is required"),
    ("--name=vjax-sf", [], "--name is required"),
    ("--zone=us-east5-a", [], "--zone is required"),
    ("--accelerator-type=v5p-32", [], "--accelerator-type is required"),
    ("--workdir=gs://my-bucket/vjax/slowfast_k400", [], "--workdir is required"),
    (None, ["--accelerator-type=v5p32"], "--accelerator-type must look like v5p-32"),
    (None, ["--accelerator-type=v9x-8"], "no default --version for 'v9x-8'"),
    (None, ["--name=My_TPU"], "--name must be lowercase"),
    (None, ["--preemptible"], "--spot and --preemptible exclude each other"),
    ("--spot", ["--queued", "--preemptible"], "--preemptible does not apply to --queued"),
    (None, ["--config=configs/nope.py"], "'configs/nope.py' is not a file in this checkout"),
    (None, ["--env=NOEQUALS"], "--env must be NAME=VALUE"),
    (None, ["--keep=yes"], "--keep takes no value"),
    (None, ["--zone"], "--zone needs a value"),
    (None, ["--bogus"], "unknown option '--bogus'"),
])
def test_tpu_bad_arguments(drop, add, message):
  head = TPU_ARGS[:TPU_ARGS.index("--")]
  args = [a for a in head if a != drop] + add
  p = launch(TPU, "--dry-run", *args)
  assert p.returncode == 2 and not p.stdout
  assert message in p.stderr, p.stderr


def test_tpu_local_workdir_warns():
  p = launch(TPU, "--dry-run", "--name=t", "--zone=us-east5-a", "--accelerator-type=v4-8",
             "--config=configs/tsn_k400.py", "--workdir=work_dirs/t")
  assert p.returncode == 0 and "use a gs:// workdir" in p.stderr


# --- launch/gpu_slurm.sh ------------------------------------------------------------------

SLURM_ARGS = ["--nodes=4", "--gpus-per-node", "8", "--partition=gpu", "--time=2-00:00:00",
              "--account=vid", "--job-name=sf", "--cpus-per-task=32",
              "--env=XLA_FLAGS=--xla_gpu_enable_latency_hiding_scheduler=true --xla_x",
              "--sbatch-arg=--exclusive", "--config=configs/slowfast_k400.py",
              "--workdir=/shared/work_dirs/sf", "--", "--config.optimizer.lr=0.2"]
SLURM_SCRIPT = f"""#!/bin/bash
#SBATCH --job-name=sf
#SBATCH --nodes=4
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=8
#SBATCH --cpus-per-task=32
#SBATCH --partition=gpu
#SBATCH --time=2-00:00:00
#SBATCH --account=vid
#SBATCH --signal=TERM@120
#SBATCH --exclusive
# Generated by launch/gpu_slurm.sh: one vjax process per node, owning all its GPUs (8).
set -euo pipefail
cd {shlex.quote(ROOT)}
# jax.distributed.initialize() reads JAX_COORDINATOR_ADDRESS (the first host of the job; not
# via '| head -n 1', whose SIGPIPE can fail the job under pipefail) and JAX_LOCAL_DEVICE_IDS;
# the process count and id come from srun (SLURM_NTASKS, SLURM_PROCID).
hosts=$(scontrol show hostnames "$SLURM_JOB_NODELIST")
coordinator_host=${{hosts%%$'\\n'*}}
export JAX_COORDINATOR_ADDRESS="${{coordinator_host}}:$((61440 + SLURM_JOB_ID % 4096))"
export JAX_LOCAL_DEVICE_IDS=0,1,2,3,4,5,6,7
export 'XLA_FLAGS=--xla_gpu_enable_latency_hiding_scheduler=true --xla_x'
srun --nodes=4 --ntasks-per-node=1 --gpus-per-node=8 --cpus-per-task=32 --kill-on-bad-exit=1 \
python3 -m vjax.main --config=configs/slowfast_k400.py --workdir=/shared/work_dirs/sf \
--distributed --config.optimizer.lr=0.2
"""


def test_slurm_dry_run_prints_sbatch_with_the_script():
  out = dry_run(SLURM, *SLURM_ARGS)
  assert out == f"sbatch <<'VJAX_SBATCH_SCRIPT'\n{SLURM_SCRIPT}VJAX_SBATCH_SCRIPT\n"


def test_slurm_dry_run_defaults_and_port():
  out = dry_run(SLURM, "--config=configs/tsn_k400.py", "--workdir=w", "--gpus-per-node=2",
                "--port=1234")
  assert "#SBATCH --nodes=1\n" in out and "#SBATCH --job-name=vjax\n" in out
  assert "#SBATCH --partition" not in out and "#SBATCH --time" not in out
  assert 'export JAX_COORDINATOR_ADDRESS="${coordinator_host}:1234"\n' in out
  assert "export JAX_LOCAL_DEVICE_IDS=0,1\n" in out
  assert ("\nsrun --nodes=1 --ntasks-per-node=1 --gpus-per-node=2 --kill-on-bad-exit=1 python3 "
          "-m vjax.main --config=configs/tsn_k400.py --workdir=w --distributed\n") in out


def test_slurm_job_script_runs_srun_with_the_coordinator(tmp_path):
  """The generated job script itself, with scontrol/srun stand-ins and a SLURM job's env."""
  job = tmp_path / "job.sh"
  job.write_text(SLURM_SCRIPT)
  fake_bin(tmp_path, "scontrol", "#!/bin/bash\n[ \"$*\" = 'show hostnames gpu[007-010]' ] && "
           "printf 'gpu007\\ngpu008\\ngpu009\\ngpu010\\n'\n")
  fake_bin(tmp_path, "srun", "#!/bin/bash\necho \"coordinator=$JAX_COORDINATOR_ADDRESS "
           "local_devices=$JAX_LOCAL_DEVICE_IDS xla=$XLA_FLAGS cwd=$PWD\"\n"
           "printf '%s\\n' \"$@\"\n")
  p = subprocess.run(["bash", str(job)], env={
      **os.environ, **path_env(tmp_path), "SLURM_JOB_NODELIST": "gpu[007-010]",
      "SLURM_JOB_ID": "123456"}, capture_output=True, text=True, timeout=10, cwd=tmp_path)
  assert p.returncode == 0, p.stderr
  info, *srun_args = p.stdout.splitlines()
  assert info == (f"coordinator=gpu007:{61440 + 123456 % 4096} local_devices=0,1,2,3,4,5,6,7 "
                  f"xla=--xla_gpu_enable_latency_hiding_scheduler=true --xla_x cwd={ROOT}")
  assert srun_args == ["--nodes=4", "--ntasks-per-node=1", "--gpus-per-node=8",
                       "--cpus-per-task=32", "--kill-on-bad-exit=1", "python3", "-m",
                       "vjax.main", "--config=configs/slowfast_k400.py",
                       "--workdir=/shared/work_dirs/sf", "--distributed",
                       "--config.optimizer.lr=0.2"]


def test_slurm_submits_the_script_on_stdin(tmp_path):
  fake_bin(tmp_path, "sbatch", f"#!/bin/bash\n[ $# = 0 ] && cat > {tmp_path}/submitted && "
           "echo 'Submitted batch job 42'\n")
  p = launch(SLURM, *SLURM_ARGS, env=path_env(tmp_path))
  assert p.returncode == 0, p.stderr
  assert p.stdout == "Submitted batch job 42\n"
  assert (tmp_path / "submitted").read_text() == SLURM_SCRIPT


@pytest.mark.parametrize("args,message", [
    (["!--config"], "--config is required"),
    (["!--workdir"], "--workdir is required"),
    (["--nodes=0"], "--nodes must be a positive integer, got '0'"),
    (["--nodes=two"], "--nodes must be a positive integer, got 'two'"),
    (["--gpus-per-node=-1"], "--gpus-per-node must be a positive integer"),
    (["--time=soon"], "--time must be a SLURM time limit"),
    (["--port=70000"], "--port must be an integer in 1..65535"),
    (["--partition=a b"], "--partition must be one word"),
    (["--env=1X=2"], "--env must be NAME=VALUE"),
    (["--sbatch-arg=exclusive"], "--sbatch-arg must be an sbatch option"),
    (["--config=configs/missing.py"], "no such file 'configs/missing.py'"),
])
def test_slurm_bad_arguments(args, message):
  base = {"--config": "--config=configs/tsn_k400.py", "--workdir": "--workdir=w"}
  for a in args:  # "!--x": leave --x out; "--x=v": replace --x
    base.pop(a.lstrip("!").split("=")[0], None)
  args = [a for a in args if not a.startswith("!")]
  p = launch(SLURM, "--dry-run", *base.values(), *args)
  assert p.returncode == 2 and not p.stdout
  assert message in p.stderr, p.stderr


# --- launch/local_multiprocess.sh ---------------------------------------------------------

def local_command(i, n=3, m=4, port=23456, python="python3"):
  return ["env", "JAX_PLATFORMS=cpu", f"JAX_NUM_CPU_DEVICES={m}", python, "-m", "vjax.main",
          "--config=configs/slowfast_k400.py:synthetic", "--workdir=work dirs/mp",
          "--distributed", f"--coordinator=127.0.0.1:{port}", f"--num_processes={n}",
          f"--process_id={i}", "--config.total_epochs=2"]


LOCAL_ARGS = ["--num-processes=3", "--devices-per-process", "4", "--port=23456",
              "--config=configs/slowfast_k400.py:synthetic", "--workdir=work dirs/mp", "--",
              "--config.total_epochs=2"]


def test_local_dry_run_one_command_per_process():
  assert dry_run(LOCAL, *LOCAL_ARGS) == lines(*(local_command(i) for i in range(3)))


# Stands in for python: records its arguments and JAX_NUM_CPU_DEVICES; as process $FAIL_ID
# fails once all three have started, otherwise runs until SIGTERM (recorded) or RUN_TICKS/10 s.
FAKE_PYTHON = """#!/bin/bash
for a; do case $a in --process_id=*) id=${a#*=} ;; esac; done
trap 'echo "$id" >> "$STUB_DIR/terminated"; exit 143' TERM
echo "$id $JAX_PLATFORMS $JAX_NUM_CPU_DEVICES $*" >> "$STUB_DIR/started"
if [ "$id" = "${FAIL_ID:-}" ]; then
  for _ in $(seq 50); do [ "$(wc -l < "$STUB_DIR/started")" -ge 3 ] && break; sleep 0.1; done
  exit 7
fi
for _ in $(seq "${RUN_TICKS:-3}"); do sleep 0.1; done
"""


def run_local(tmp_path, **env):
  python = write_exe(tmp_path / "python", FAKE_PYTHON)
  args = LOCAL_ARGS[:]
  args.insert(0, f"--python={python}")
  start = time.monotonic()
  p = launch(LOCAL, *args, env={"STUB_DIR": str(tmp_path), **env})
  started = sorted((tmp_path / "started").read_text().splitlines())
  terminated = tmp_path / "terminated"
  return p, started, terminated.read_text().split() if terminated.exists() else [], \
      time.monotonic() - start


def test_local_runs_every_process_and_waits(tmp_path):
  p, started, terminated, _ = run_local(tmp_path)
  assert p.returncode == 0, p.stderr
  python = str(tmp_path / "python")
  assert started == [f"{i} cpu 4 " + " ".join(local_command(i, python=python)[4:])
                     for i in range(3)]
  assert terminated == []
  assert "all 3 processes finished" in p.stderr


def test_local_one_failure_stops_the_others(tmp_path):
  p, started, terminated, took = run_local(tmp_path, FAIL_ID="1", RUN_TICKS="200")
  assert p.returncode == 7
  assert len(started) == 3
  assert sorted(terminated) == ["0", "2"]
  assert took < 8  # not the 20 s the others would have run
  assert "process 1" in p.stderr and "exited with status 7" in p.stderr


def test_local_ctrl_c_stops_every_process(tmp_path):
  python = write_exe(tmp_path / "python", FAKE_PYTHON)
  p = subprocess.Popen([LOCAL, f"--python={python}", *LOCAL_ARGS], cwd=ROOT,
                       env={**os.environ, "STUB_DIR": str(tmp_path), "RUN_TICKS": "300"},
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  started = tmp_path / "started"
  try:
    wait_for(lambda: started.exists() and len(started.read_text().splitlines()) == 3)
    p.send_signal(signal.SIGINT)
    p.communicate(timeout=10)
  finally:
    p.kill()
  assert p.returncode == 130
  assert sorted((tmp_path / "terminated").read_text().split()) == ["0", "1", "2"]


@pytest.mark.parametrize("args,message", [
    (["!--config"], "--config is required"),
    (["!--workdir"], "--workdir is required"),
    (["--num-processes=0"], "--num-processes must be a positive integer, got '0'"),
    (["--num-processes=2x"], "--num-processes must be a positive integer, got '2x'"),
    (["--devices-per-process=-4"], "--devices-per-process must be a positive integer"),
    (["--port=0"], "--port must be an integer in 1..65535, got '0'"),
    (["--port=65536"], "--port must be an integer in 1..65535, got '65536'"),
    (["--config=configs/missing.py"], "no such file 'configs/missing.py'"),
    (["--num-processes"], "--num-processes needs a value"),
    (["--mode=eval"], "unknown option '--mode=eval' (arguments for vjax.main go after --)"),
])
def test_local_bad_arguments(args, message):
  base = {"--config": "--config=configs/tsn_k400.py", "--workdir": "--workdir=w"}
  for a in args:  # "!--x": leave --x out; "--x=v": replace --x
    base.pop(a.lstrip("!").split("=")[0], None)
  args = [a for a in args if not a.startswith("!")]
  p = launch(LOCAL, "--dry-run", *base.values(), *args)
  assert p.returncode == 2 and not p.stdout
  assert message in p.stderr, p.stderr
