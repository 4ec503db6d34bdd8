#!/usr/bin/env bash
# Builds an sbatch script that runs one vjax job on SLURM GPU nodes (one process per node,
# owning all of the node's GPUs) and submits it. Run with --help for the options.
set -euo pipefail

PROG=${0##*/}
# shellcheck source=launch/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
  cat <<EOF
Usage: $PROG --config=FILE[:ARG] --workdir=DIR [options] [-- VJAX_MAIN_ARGS...]

Writes a batch script and submits it with 'sbatch' (script on standard input). The job runs
'PYTHON -m vjax.main --config=... --workdir=... --distributed [ARGS...]' through srun, one
process per node: each process owns all the GPUs of its node, one JAX controller per host
as on TPU VMs (one data pipeline with all the node's CPUs and one checkpoint writer per
host; XLA/NCCL drive the GPUs within the node).
jax.distributed.initialize() reads the rest from the job:
  JAX_COORDINATOR_ADDRESS  first host of 'scontrol show hostnames \$SLURM_JOB_NODELIST',
                           port 61440 + SLURM_JOB_ID % 4096 (JAX's own SLURM choice) or --port
  JAX_LOCAL_DEVICE_IDS     0,...,G-1: without it JAX's SLURM detection gives each process only
                           GPU \$SLURM_LOCALID (needs a JAX from mid-2024 or later)
  process count and id     SLURM_NTASKS and SLURM_PROCID, from srun
The job runs in the current directory, which must be on a file system the nodes share, with
the Python on PATH (sbatch passes this shell's environment on: activate the venv first).
SLURM sends SIGTERM 120 s before the time limit (#SBATCH --signal=TERM@120): vjax saves a
checkpoint and exits, and submitting the same command again resumes from the latest
checkpoint in the workdir.

Options:
  --config=FILE[:ARG]    experiment config, relative to the current directory (required)
  --workdir=DIR          checkpoints and logs, on a shared file system or gs:// (required)
  --nodes=N              nodes, one process each (default: 1)
  --gpus-per-node=G      GPUs per node (default: 8)
  --partition=NAME       #SBATCH --partition (default: the cluster's)
  --time=LIMIT           #SBATCH --time, e.g. 2-00:00:00 or 240 (default: the partition's)
  --account=NAME         #SBATCH --account (default: the user's)
  --job-name=NAME        #SBATCH --job-name (default: vjax)
  --cpus-per-task=C      CPUs for each node's process (default: the cluster's)
  --port=PORT            coordinator port (default: 61440 + SLURM_JOB_ID % 4096)
  --python=PYTHON        Python interpreter on the nodes (default: python3)
  --env=NAME=VALUE       export NAME=VALUE in the job (repeatable), e.g. XLA_FLAGS=...
  --sbatch-arg=ARG       extra '#SBATCH ARG' line (repeatable), e.g. --sbatch-arg=--exclusive
  --dry-run              print the sbatch command with the script (as a here-document)
                         instead of submitting it
  -h, --help             show this help
  -- ARGS...             everything after -- goes to vjax.main unchanged

Example:
  $PROG --nodes=4 --gpus-per-node=8 --partition=gpu --time=2-00:00:00 \\
      --config=configs/slowfast_k400.py --workdir=/shared/work_dirs/slowfast_k400
EOF
}

config=
workdir=
nodes=1
gpus_per_node=8
partition=
time_limit=
account=
job_name=vjax
cpus_per_task=
port=
python=python3
dry_run=0
envs=()
sbatch_args=()
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
    --config | --workdir | --nodes | --gpus-per-node | --partition | --time | --account | \
      --job-name | --cpus-per-task | --port | --python | --env)
      if ((!has_val)); then
        if (($# == 0)) || [[ $1 == --* ]]; then die "$opt needs a value"; fi
        val=$1
        shift
      fi ;;
    --sbatch-arg)  # its value usually starts with --
      if ((!has_val)); then
        (($#)) || die "$opt needs a value"
        val=$1
        shift
      fi ;;
    *) die "unknown option '$arg' (arguments for vjax.main go after --)" ;;
  esac
  case $opt in
    --config) config=$val ;;
    --workdir) workdir=$val ;;
    --nodes) nodes=$val ;;
    --gpus-per-node) gpus_per_node=$val ;;
    --partition) partition=$val ;;
    --time) time_limit=$val ;;
    --account) account=$val ;;
    --job-name) job_name=$val ;;
    --cpus-per-task) cpus_per_task=$val ;;
    --port) port=$val ;;
    --python) python=$val ;;
    --env) envs+=("$val") ;;
    --sbatch-arg) sbatch_args+=("$val") ;;
  esac
done

nl=$'\n'
for arg in "$config" "$workdir" "$python" ${envs[@]+"${envs[@]}"} ${extra[@]+"${extra[@]}"}; do
  [[ $arg != *"$nl"* ]] || die "arguments must not contain newlines: '$arg'"
done
[[ -n $config ]] || die "--config is required (e.g. --config=configs/slowfast_k400.py)"
[[ -n $workdir ]] || die "--workdir is required"
[[ -f ${config%%:*} ]] || die "--config: no such file '${config%%:*}' (paths are relative to $PWD)"
is_count "$nodes" || die "--nodes must be a positive integer, got '$nodes'"
is_count "$gpus_per_node" || die "--gpus-per-node must be a positive integer, got '$gpus_per_node'"
if [[ -n $cpus_per_task ]] && ! is_count "$cpus_per_task"; then
  die "--cpus-per-task must be a positive integer, got '$cpus_per_task'"
fi
if [[ -n $port ]] && { ! [[ $port =~ ^[1-9][0-9]{0,4}$ ]] || ((port > 65535)); }; then
  die "--port must be an integer in 1..65535, got '$port'"
fi
if [[ -n $time_limit ]] &&
  ! [[ $time_limit =~ ^([0-9]+-)?[0-9]+(:[0-9]+){0,2}$|^(UNLIMITED|unlimited|INFINITE|infinite)$ ]]; then
  die "--time must be a SLURM time limit (MINUTES, HH:MM:SS, D-HH[:MM[:SS]]), got '$time_limit'"
fi
directive_value='^[^[:space:]#]+$'
for pair in "partition:$partition" "account:$account" "job-name:$job_name"; do
  name=${pair%%:*}
  value=${pair#*:}
  if [[ -n $value || $name == job-name ]] && ! [[ $value =~ $directive_value ]]; then
    die "--$name must be one word without spaces or '#', got '$value'"
  fi
done
for value in ${sbatch_args[@]+"${sbatch_args[@]}"}; do
  [[ $value == -* && $value != *"$nl"* ]] ||
    die "--sbatch-arg must be an sbatch option such as --exclusive, got '$value'"
done
for value in ${envs[@]+"${envs[@]}"}; do
  [[ $value =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die "--env must be NAME=VALUE, got '$value'"
done

# The batch script.
gpu_ids=0
for ((g = 1; g < gpus_per_node; g++)); do gpu_ids+=",$g"; done
if [[ -n $port ]]; then
  port_expr=$port
else
  # shellcheck disable=SC2016  # expanded in the job, not here
  port_expr='$((61440 + SLURM_JOB_ID % 4096))'
fi
srun_cmd=(srun "--nodes=$nodes" --ntasks-per-node=1 "--gpus-per-node=$gpus_per_node")
if [[ -n $cpus_per_task ]]; then srun_cmd+=("--cpus-per-task=$cpus_per_task"); fi
srun_cmd+=(--kill-on-bad-exit=1 "$python" -m vjax.main "--config=$config" "--workdir=$workdir"
           --distributed ${extra[@]+"${extra[@]}"})

script="#!/bin/bash
#SBATCH --job-name=$job_name
#SBATCH --nodes=$nodes
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=$gpus_per_node"
if [[ -n $cpus_per_task ]]; then script+="$nl#SBATCH --cpus-per-task=$cpus_per_task"; fi
if [[ -n $partition ]]; then script+="$nl#SBATCH --partition=$partition"; fi
if [[ -n $time_limit ]]; then script+="$nl#SBATCH --time=$time_limit"; fi
if [[ -n $account ]]; then script+="$nl#SBATCH --account=$account"; fi
script+="$nl#SBATCH --signal=TERM@120"
for value in ${sbatch_args[@]+"${sbatch_args[@]}"}; do script+="$nl#SBATCH $value"; done
quote "$PWD"
job_dir=$REPLY
script+="
# Generated by launch/$PROG: one vjax process per node, owning all its GPUs ($gpus_per_node).
set -euo pipefail
cd $job_dir
# jax.distributed.initialize() reads JAX_COORDINATOR_ADDRESS (the first host of the job; not
# via '| head -n 1', whose SIGPIPE can fail the job under pipefail) and JAX_LOCAL_DEVICE_IDS;
# the process count and id come from srun (SLURM_NTASKS, SLURM_PROCID).
hosts=\$(scontrol show hostnames \"\$SLURM_JOB_NODELIST\")
coordinator_host=\${hosts%%\$'\\n'*}
export JAX_COORDINATOR_ADDRESS=\"\${coordinator_host}:$port_expr\"
export JAX_LOCAL_DEVICE_IDS=$gpu_ids"
for value in ${envs[@]+"${envs[@]}"}; do
  quote "$value"
  script+="${nl}export $REPLY"
done
command_line "${srun_cmd[@]}"
script+="$nl$LINE"

if ((dry_run)); then
  printf "sbatch <<'VJAX_SBATCH_SCRIPT'\n%s\nVJAX_SBATCH_SCRIPT\n" "$script"
  exit 0
fi
command -v sbatch >/dev/null || fail "sbatch not found: run this on a SLURM login node"
printf '+ sbatch (the batch script on standard input):\n%s\n' "$script" >&2
printf '%s\n' "$script" | sbatch
