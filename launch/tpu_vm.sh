#!/usr/bin/env bash
# Creates a Cloud TPU VM (or queued resource), puts vjax on every worker, runs one vjax job
# on all of them, streams worker 0's log and deletes the TPU on exit. Run with --help.
set -euo pipefail

PROG=${0##*/}
# shellcheck source=launch/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Files on each worker, relative to its home directory.
REMOTE_DIR=vjax            # the checkout (or, with --install, just the config file)
REMOTE_LOG=vjax-run.log    # this worker's vjax.main output
REMOTE_TARBALL=vjax-src.tar.gz
QUEUE_POLL_S=30            # seconds between queued-resource state checks
LOG_GRACE_S=${VJAX_LOG_GRACE_S:-5}  # seconds the log stream gets after the job ends

usage() {
  cat <<EOF
Usage: $PROG --name=NAME --zone=ZONE --accelerator-type=TYPE --config=FILE[:ARG] \\
           --workdir=DIR [options] [-- VJAX_MAIN_ARGS...]

Runs one vjax job on a Cloud TPU VM slice with gcloud, in this order:
  1. create the TPU VM: 'gcloud compute tpus tpu-vm create' (with --queued: a queued resource,
     'gcloud compute tpus queued-resources create', then its state is polled every
     ${QUEUE_POLL_S} s until ACTIVE; --dry-run shows the poll command once)
  2. put vjax on every worker: this checkout (without .git, .venv, work_dirs and other build
     output) as a tarball, 'tpu-vm scp --worker=all', unpacked to ~/$REMOTE_DIR and
     pip-installed with jax[tpu]; or, with --install=SPEC, 'pip install jax[tpu] SPEC' and
     the config file copied to ~/$REMOTE_DIR
  3. run 'python3 -m vjax.main --config=... --workdir=... --distributed [ARGS...]' in
     ~/$REMOTE_DIR on every worker at once ('tpu-vm ssh --worker=all'), each writing to
     ~/$REMOTE_LOG, while worker 0's log is streamed here ('ssh --worker=0', tail -F)
  4. on exit, success or not (Ctrl-C too), delete the TPU, unless --keep
The coordinator comes from the TPU metadata (jax.distributed.initialize() with no
arguments), so there are no coordinator flags. The exit status is the job's.

Preemption and resume: vjax checkpoints into the workdir and resumes from its latest
checkpoint, so after a preemption (--spot/--preemptible) or any failure, running the same
command again continues the run. Use a gs:// workdir for that: a path on the workers' disks
is lost with the TPU (and on a multi-host slice each worker would hold part of a checkpoint).

Options:
  --name=NAME              TPU (and queued resource) name (required)
  --zone=ZONE              zone, e.g. us-east5-a (required)
  --accelerator-type=TYPE  e.g. v5p-32, v5litepod-16, v6e-8, v4-32 (required)
  --version=RUNTIME        TPU software version (default from the type: v2-alpha-tpuv6e for
                           v6e, v2-alpha-tpuv5 for v5p, v2-alpha-tpuv5-lite for v5e,
                           tpu-ubuntu2204-base for v2-v4)
  --project=PROJECT        GCP project (default: gcloud's configured project)
  --config=FILE[:ARG]      experiment config (required); a path in this checkout, or with
                           --install a local file, copied to the workers
  --workdir=DIR            gs://BUCKET/PATH (recommended), or a path on the workers
                           relative to ~/$REMOTE_DIR (required)
  --install=SPEC           pip-install vjax from SPEC on the workers instead of copying this
                           checkout, e.g. git+https://github.com/ORG/vjax.git@main
  --env=NAME=VALUE         set NAME=VALUE for vjax.main on the workers (repeatable), e.g.
                           --env=LIBTPU_INIT_ARGS=--xla_tpu_enable_latency_hiding_scheduler=true
  --spot                   Spot TPU VMs (may be preempted)
  --preemptible            preemptible TPU VMs (not with --queued: use --spot)
  --queued                 request the TPU as a queued resource (waits for capacity)
  --reuse                  use the existing TPU NAME (e.g. one kept with --keep): skip
                           step 1; it is still deleted on exit unless --keep
  --keep                   do not delete the TPU on exit
  --dry-run                print the commands, one per line, and run nothing
  -h, --help               show this help
  -- ARGS...               everything after -- goes to vjax.main unchanged

Examples:
  $PROG --name=vjax-sf --zone=us-east5-a --accelerator-type=v5p-32 --spot \\
      --config=configs/slowfast_k400.py --workdir=gs://my-bucket/vjax/slowfast_k400
  $PROG --name=vjax-demo --zone=us-central2-b --accelerator-type=v4-8 --keep \\
      --config=configs/slowfast_k400.py:synthetic --workdir=work_dirs/demo
EOF
}

# Prints the command (to stdout with --dry-run, else to stderr after '+ ') and runs it unless
# --dry-run.
run() {
  command_line "$@"
  if ((dry_run)); then
    printf '%s\n' "$LINE"
  else
    printf '+ %s\n' "$LINE" >&2
    "$@"
  fi
}

# As run, in the background, in a process group of its own (so that stopping it stops
# gcloud's ssh too) and with no terminal input; PID=its pid, which is also its group id.
run_bg() {
  command_line "$@"
  if ((dry_run)); then
    printf '%s\n' "$LINE"
  else
    printf '+ %s &\n' "$LINE" >&2
    set -m
    "$@" </dev/null &
    PID=$!
    set +m
  fi
}

name=
zone=
accelerator_type=
version=
project=
config=
workdir=
install=
envs=()
spot=0
preemptible=0
queued=0
reuse=0
keep=0
dry_run=0
extra=()

while (($#)); do
  arg=$1
  shift
  case $arg in
    --) extra=("$@"); break ;;
    --*=*) opt=${arg%%=*}; val=${arg#*=}; has_val=1 ;;
    *) opt=$arg; val=; has_val=0 ;;
  esac
  case $opt in
    -h | --help) usage; exit 0 ;;
    --spot | --preemptible | --queued | --reuse | --keep | --dry-run)
      ((!has_val)) || die "$opt takes no value"
      case $opt in
        --spot) spot=1 ;;
        --preemptible) preemptible=1 ;;
        --queued) queued=1 ;;
        --reuse) reuse=1 ;;
        --keep) keep=1 ;;
        --dry-run) dry_run=1 ;;
      esac
      continue ;;
    --name | --zone | --accelerator-type | --version | --project | --config | --workdir | \
      --install | --env)
      if ((!has_val)); then
        if (($# == 0)) || [[ $1 == --* ]]; then die "$opt needs a value"; fi
        val=$1
        shift
      fi ;;
    *) die "unknown option '$arg' (arguments for vjax.main go after --)" ;;
  esac
  case $opt in
    --name) name=$val ;;
    --zone) zone=$val ;;
    --accelerator-type) accelerator_type=$val ;;
    --version) version=$val ;;
    --project) project=$val ;;
    --config) config=$val ;;
    --workdir) workdir=$val ;;
    --install) install=$val ;;
    --env) envs+=("$val") ;;
  esac
done

# Validation.
nl=$'\n'
for arg in "$name" "$zone" "$accelerator_type" "$version" "$project" "$config" "$workdir" \
  "$install" ${envs[@]+"${envs[@]}"} ${extra[@]+"${extra[@]}"}; do
  [[ $arg != *"$nl"* ]] || die "arguments must not contain newlines: '$arg'"
done
[[ -n $name ]] || die "--name is required (the TPU's name, e.g. --name=vjax-\${USER:-me})"
[[ $name =~ ^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$ ]] ||
  die "--name must be lowercase letters, digits and hyphens, starting with a letter, got '$name'"
[[ -n $zone ]] || die "--zone is required (e.g. --zone=us-east5-a)"
[[ $zone =~ ^[a-z]+-[a-z]+[0-9]+-[a-z]$ ]] || die "--zone must be a zone such as us-east5-a, got '$zone'"
[[ -n $accelerator_type ]] || die "--accelerator-type is required (e.g. --accelerator-type=v5p-32)"
[[ $accelerator_type =~ ^v[0-9][a-z0-9]*-[1-9][0-9]*$ ]] ||
  die "--accelerator-type must look like v5p-32, v5litepod-16 or v6e-8, got '$accelerator_type'"
if [[ -z $version ]]; then
  case $accelerator_type in
    v6e-*) version='v2-alpha-tpuv6e' ;;
    v5p-*) version='v2-alpha-tpuv5' ;;
    v5litepod-* | v5e-*) version='v2-alpha-tpuv5-lite' ;;
    v2-* | v3-* | v4-*) version='tpu-ubuntu2204-base' ;;
    *) die "no default --version for '$accelerator_type': pass the TPU software version" ;;
  esac
fi
if [[ -n $project && ! $project =~ ^[a-z][-a-z0-9:.]*[a-z0-9]$ ]]; then
  die "--project must be a GCP project id, got '$project'"
fi
[[ -n $config ]] || die "--config is required (e.g. --config=configs/slowfast_k400.py)"
[[ -n $workdir ]] || die "--workdir is required (e.g. --workdir=gs://BUCKET/vjax/RUN)"
config_file=${config%%:*}
config_arg=
if [[ $config == *:* ]]; then config_arg=:${config#*:}; fi
if [[ -n $install ]]; then
  [[ -f $config_file ]] || die "--config: no such file '$config_file' (paths are relative to $PWD)"
  remote_config=${config_file##*/}$config_arg
else
  [[ $config_file != /* && -f $ROOT/$config_file ]] ||
    die "--config: '$config_file' is not a file in this checkout ($ROOT); give its path relative to the checkout, or use --install"
  remote_config=$config
fi
((!(spot && preemptible))) || die "--spot and --preemptible exclude each other"
((!(queued && preemptible))) || die "--preemptible does not apply to --queued: use --spot"
for value in ${envs[@]+"${envs[@]}"}; do
  [[ $value =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die "--env must be NAME=VALUE, got '$value'"
done
if [[ $workdir != gs://* ]] && ((!keep)); then
  warn "--workdir '$workdir' is on the workers' disks, which are deleted with the TPU on exit;" \
    "use a gs:// workdir to keep checkpoints (or --keep)"
fi

# The commands.
gflags=("--zone=$zone")
if [[ -n $project ]]; then gflags+=("--project=$project"); fi
tpu=(gcloud compute tpus tpu-vm)
qr=(gcloud compute tpus queued-resources)
if ((queued)); then
  create=("${qr[@]}" create "$name" "--node-id=$name" "${gflags[@]}"
          "--accelerator-type=$accelerator_type" "--runtime-version=$version")
  describe=("${qr[@]}" describe "$name" "${gflags[@]}" '--format=value(state.state)')
  delete=("${qr[@]}" delete "$name" "${gflags[@]}" --force --quiet)
else
  create=("${tpu[@]}" create "$name" "${gflags[@]}" "--accelerator-type=$accelerator_type"
          "--version=$version")
  delete=("${tpu[@]}" delete "$name" "${gflags[@]}" --quiet)
fi
if ((spot)); then create+=(--spot); fi
if ((preemptible)); then create+=(--preemptible); fi

# Remote shell commands: ~ and the fixed parts unquoted, every user value quoted.
setup="set -e; rm -rf ~/$REMOTE_DIR ~/$REMOTE_LOG; mkdir -p ~/$REMOTE_DIR; "
if [[ -n $install ]]; then
  quote "$install"
  setup+="python3 -m pip install -q \"jax[tpu]\" $REPLY"
else
  setup+="tar -xzf ~/$REMOTE_TARBALL -C ~/$REMOTE_DIR; rm -f ~/$REMOTE_TARBALL; "
  setup+="python3 -m pip install -q \"jax[tpu]\" -e ~/$REMOTE_DIR"
fi
main=()
if ((${#envs[@]})); then main+=(env "${envs[@]}"); fi
main+=(python3 -m vjax.main "--config=$remote_config" "--workdir=$workdir" --distributed
       ${extra[@]+"${extra[@]}"})
command_line "${main[@]}"
job="cd ~/$REMOTE_DIR && $LINE > ~/$REMOTE_LOG 2>&1"
follow="tail -n +1 -F ~/$REMOTE_LOG"
tarball=${TMPDIR:-/tmp}/vjax-src-$name.tar.gz

# Cleanup on exit: stop the local gcloud processes, delete the TPU (unless --keep).
created=0
run_pid=
tail_pid=
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  for pid in $tail_pid $run_pid; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  rm -f "$tarball"
  if ((created && !keep)); then
    ((rc == 0)) || printf '%s: deleting the TPU after a failure (status %d)\n' "$PROG" "$rc" >&2
    run "${delete[@]}" || printf '%s: could not delete %s: delete it by hand\n' "$PROG" "$name" >&2
  elif ((created)); then
    printf '%s: kept TPU %s (--keep); delete it with:\n  ' "$PROG" "$name" >&2
    command_line "${delete[@]}"
    printf '%s\n' "$LINE" >&2
  fi
  exit "$rc"
}
if ((!dry_run)); then
  command -v gcloud >/dev/null || fail "gcloud not found: install the Google Cloud CLI"
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
fi

# 1. The TPU. The delete trap is armed only once create has succeeded, so a name that is
# already taken (create fails) never deletes someone else's TPU.
if ((!reuse)); then
  run "${create[@]}"
fi
created=1
if ((queued && !reuse)); then
  if ((dry_run)); then
    run "${describe[@]}"
  else
    command_line "${describe[@]}"
    printf '+ %s  (every %d s until ACTIVE)\n' "$LINE" "$QUEUE_POLL_S" >&2
    while :; do
      state=$("${describe[@]}") || state="unknown (describe failed)"
      case $state in
        ACTIVE) break ;;
        FAILED | SUSPENDING | SUSPENDED | DELETING) fail "queued resource $name is $state" ;;
      esac
      printf '%s: queued resource %s is %s\n' "$PROG" "$name" "$state" >&2
      sleep "$QUEUE_POLL_S"
    done
  fi
fi

# 2. vjax on every worker.
if [[ -n $install ]]; then
  run "${tpu[@]}" ssh "$name" "${gflags[@]}" --worker=all --command "$setup"
  run "${tpu[@]}" scp "$config_file" "$name:$REMOTE_DIR/${config_file##*/}" "${gflags[@]}" \
    --worker=all
else
  run env COPYFILE_DISABLE=1 tar -czf "$tarball" -C "$ROOT" --exclude=.git --exclude=.venv \
    --exclude=work_dirs --exclude='workdir*' --exclude=__pycache__ --exclude='*.egg-info' \
    --exclude=.pytest_cache --exclude=tensorflow_datasets .
  run "${tpu[@]}" scp "$tarball" "$name:$REMOTE_TARBALL" "${gflags[@]}" --worker=all
  run rm -f "$tarball"
  run "${tpu[@]}" ssh "$name" "${gflags[@]}" --worker=all --command "$setup"
fi

# 3. The job on every worker, worker 0's log streamed here.
run_bg "${tpu[@]}" ssh "$name" "${gflags[@]}" --worker=all --command "$job"
run_pid=${PID:-}
run_bg "${tpu[@]}" ssh "$name" "${gflags[@]}" --worker=0 --command "$follow"
tail_pid=${PID:-}
if ((dry_run)); then
  # 4. What the exit trap runs.
  if ((!keep)); then run "${delete[@]}"; fi
  exit 0
fi
rc=0
wait "$run_pid" || rc=$?
run_pid=
sleep "$LOG_GRACE_S"  # let the stream show the last lines
if ((rc == 0)); then
  printf '%s: the job finished on all workers\n' "$PROG" >&2
else
  printf '%s: the job failed (status %d); worker logs: ~/%s on each worker\n' \
    "$PROG" "$rc" "$REMOTE_LOG" >&2
fi
exit "$rc"
