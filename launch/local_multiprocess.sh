#!/usr/bin/env bash
# Runs one vjax job as N cooperating processes on this machine, each with M CPU devices: the
# multi-host code paths (jax.distributed, per-process data shards, multi-process checkpoints)
# without a cluster. Run with --help for the options.
set -euo pipefail

PROG=${0##*/}
# shellcheck source=launch/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
  cat <<EOF
Usage: $PROG --config=FILE[:ARG] --workdir=DIR [options] [-- VJAX_MAIN_ARGS...]

Starts N processes of 'python -m vjax.main' on this machine that form one distributed JAX job
over 127.0.0.1, each with M CPU devices (JAX_PLATFORMS=cpu, JAX_NUM_CPU_DEVICES=M):

  env JAX_PLATFORMS=cpu JAX_NUM_CPU_DEVICES=M PYTHON -m vjax.main --config=... --workdir=... \\
      --distributed --coordinator=127.0.0.1:PORT --num_processes=N --process_id=I [ARGS...]

for I = 0..N-1, in the background, in the current directory (so relative --config and
--workdir paths are relative to it, as for vjax.main itself). All processes write to this
terminal. It waits for all of them; when one fails, the others get SIGTERM (SIGKILL 10 s
later) and this script exits with the failed process's status. Ctrl-C stops them all.
Starting the same command again resumes from the latest checkpoint in the workdir.

Options:
  --config=FILE[:ARG]      experiment config, as vjax.main's --config (required)
  --workdir=DIR            checkpoints and logs, shared by the processes (required)
  --num-processes=N        processes to start (default: 2)
  --devices-per-process=M  CPU devices per process (default: 1)
  --port=PORT              coordinator port on 127.0.0.1 (default: 12345)
  --python=PYTHON          Python interpreter (default: python3)
  --dry-run                print the N commands, one per line, and run nothing
  -h, --help               show this help
  -- ARGS...               everything after -- goes to each vjax.main unchanged,
                           e.g. -- --config.total_epochs=2

Example:
  $PROG --num-processes=2 --devices-per-process=4 \\
      --config=configs/slowfast_k400.py:synthetic --workdir=work_dirs/mp_demo
EOF
}

config=
workdir=
num_processes=2
devices_per_process=1
port=12345
python=python3
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
    --dry-run)
      ((!has_val)) || die "$opt takes no value"
      dry_run=1
      continue ;;
    --config | --workdir | --num-processes | --devices-per-process | --port | --python)
      if ((!has_val)); then
        if (($# == 0)) || [[ $1 == --* ]]; then die "$opt needs a value"; fi
        val=$1
        shift
      fi ;;
    *) die "unknown option '$arg' (arguments for vjax.main go after --)" ;;
  esac
  case $opt in
    --config) config=$val ;;
    --workdir) workdir=$val ;;
    --num-processes) num_processes=$val ;;
    --devices-per-process) devices_per_process=$val ;;
    --port) port=$val ;;
    --python) python=$val ;;
  esac
done

nl=$'\n'
for arg in "$config" "$workdir" "$python" ${extra[@]+"${extra[@]}"}; do
  [[ $arg != *"$nl"* ]] || die "arguments must not contain newlines: '$arg'"
done
[[ -n $config ]] || die "--config is required (e.g. --config=configs/slowfast_k400.py:synthetic)"
[[ -n $workdir ]] || die "--workdir is required"
[[ -f ${config%%:*} ]] || die "--config: no such file '${config%%:*}' (paths are relative to $PWD)"
is_count "$num_processes" || die "--num-processes must be a positive integer, got '$num_processes'"
is_count "$devices_per_process" ||
  die "--devices-per-process must be a positive integer, got '$devices_per_process'"
if ! [[ $port =~ ^[1-9][0-9]{0,4}$ ]] || ((port > 65535)); then
  die "--port must be an integer in 1..65535, got '$port'"
fi
[[ -n $python ]] || die "--python must not be empty"

process_command() {  # CMD=(...) for process $1
  CMD=(env JAX_PLATFORMS=cpu "JAX_NUM_CPU_DEVICES=$devices_per_process"
       "$python" -m vjax.main "--config=$config" "--workdir=$workdir" --distributed
       "--coordinator=127.0.0.1:$port" "--num_processes=$num_processes" "--process_id=$1"
       ${extra[@]+"${extra[@]}"})
}

if ((dry_run)); then
  for ((i = 0; i < num_processes; i++)); do
    process_command "$i"
    command_line "${CMD[@]}"
    printf '%s\n' "$LINE"
  done
  exit 0
fi

pids=()     # pids[i]: process i
running=()  # running[i]: 1 until process i has been waited for

# SIGTERM to every process still running (vjax saves a checkpoint where it can), then after
# 10 s SIGKILL to what is left of their process groups (their data-loader workers too).
stop_all() {
  local i waited=0 alive
  for i in "${!pids[@]}"; do
    if ((running[i])); then kill -TERM "${pids[i]}" 2>/dev/null || true; fi
  done
  while :; do
    alive=0
    for i in "${!pids[@]}"; do
      if ((running[i])) && kill -0 "${pids[i]}" 2>/dev/null; then alive=1; fi
    done
    ((alive && waited < 50)) || break
    sleep 0.2
    waited=$((waited + 1))
  done
  for i in "${!pids[@]}"; do
    if ((running[i])); then
      kill -KILL -- "-${pids[i]}" 2>/dev/null || true
      wait "${pids[i]}" 2>/dev/null || true
      running[i]=0
    fi
  done
}

on_exit() {
  local rc=$?
  trap - EXIT INT TERM
  if ((${#pids[@]})); then stop_all; fi
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for ((i = 0; i < num_processes; i++)); do
  process_command "$i"
  command_line "${CMD[@]}"
  printf '+ %s &\n' "$LINE" >&2
  set -m  # a process group of its own, so Ctrl-C reaches only this script, which stops them
  "${CMD[@]}" </dev/null &
  pids[i]=$!
  set +m
  running[i]=1
done

# Poll rather than 'wait -n' (bash >= 4.3) so this runs on macOS's bash 3.2 too.
remaining=$num_processes
while ((remaining > 0)); do
  for i in "${!pids[@]}"; do
    if ((running[i])) && ! kill -0 "${pids[i]}" 2>/dev/null; then
      rc=0
      wait "${pids[i]}" || rc=$?
      running[i]=0
      remaining=$((remaining - 1))
      if ((rc != 0)); then
        printf '%s: process %d (pid %d) exited with status %d; stopping the others\n' \
          "$PROG" "$i" "${pids[i]}" "$rc" >&2
        exit "$rc"
      fi
    fi
  done
  if ((remaining > 0)); then sleep 0.2; fi
done
printf '%s: all %d processes finished\n' "$PROG" "$num_processes" >&2
