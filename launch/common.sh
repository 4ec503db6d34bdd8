# shellcheck shell=bash
# Shared helpers of the launch scripts (sourced; PROG is the calling script's name).

die() {  # a usage error: exit 2
  printf '%s: error: %s\n' "$PROG" "$*" >&2
  printf "Run '%s --help' for the options.\n" "$PROG" >&2
  exit 2
}

fail() {  # a failure at run time: exit 1
  printf '%s: error: %s\n' "$PROG" "$*" >&2
  exit 1
}

warn() { printf '%s: warning: %s\n' "$PROG" "$*" >&2; }

is_count() { [[ $1 =~ ^[1-9][0-9]{0,5}$ ]]; }

# REPLY=$1 shell-quoted as Python's shlex.quote does (bare if it is only safe characters,
# else in single quotes), so each printed line can be pasted into a shell or shlex.split.
SAFE_WORD='^[-_@%+=:,./0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ]+$'
quote() {
  local s=$1 sq="'" esc="'\"'\"'"
  if [[ $s =~ $SAFE_WORD ]]; then
    REPLY=$s
  else
    REPLY="'${s//$sq/$esc}'"
  fi
}

# LINE=the arguments as one shell-quoted command line.
command_line() {
  local w
  LINE=
  for w in "$@"; do
    quote "$w"
    LINE+="${LINE:+ }$REPLY"
  done
}
