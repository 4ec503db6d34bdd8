"""vjax.main's restart with glibc malloc settings on the CPU backend (vjax/train/host_memory.py)."""

import os
import subprocess
import sys

import pytest

from vjax.train import host_memory
from vjax.train.host_memory import MALLOC_ENV, cpu_backend_expected, malloc_env


def test_cpu_backend_expected_follows_jax_platforms_then_plugins():
  assert cpu_backend_expected({}, plugins_present=False)
  assert not cpu_backend_expected({}, plugins_present=True)
  assert cpu_backend_expected({"JAX_PLATFORMS": "cpu"}, plugins_present=True)
  assert not cpu_backend_expected({"JAX_PLATFORMS": "cuda,cpu"}, plugins_present=False)
  assert cpu_backend_expected({"JAX_PLATFORMS": " cpu , cuda"}, plugins_present=True)


def test_malloc_env_adds_the_settings_once_and_respects_the_user():
  env = malloc_env({"PATH": "/bin"}, plugins_present=False)
  assert env == {"PATH": "/bin", "MALLOC_ARENA_MAX": "1", "MALLOC_MMAP_MAX_": "0",
                 "MALLOC_TRIM_THRESHOLD_": str(2**46)}
  assert malloc_env(env, plugins_present=False) is None  # after the restart: run as is
  assert malloc_env({"MALLOC_ARENA_MAX": "4"}, plugins_present=False) is None  # user's choice
  assert malloc_env({"VJAX_KEEP_MALLOC": "1"}, plugins_present=False) is None
  assert malloc_env({}, plugins_present=True) is None  # accelerator host: defaults
  assert malloc_env({}, plugins_present=False, libc="") is None  # musl, macOS: no glibc


def test_reexec_for_cpu_restarts_with_same_argv(monkeypatch):
  calls = []
  monkeypatch.setattr(host_memory.sys, "platform", "linux")
  monkeypatch.setattr(host_memory.platform, "libc_ver", lambda: ("glibc", "2.36"))
  monkeypatch.setattr(host_memory, "_plugins_present", lambda: False)
  monkeypatch.setattr(host_memory.sys, "orig_argv", ["python", "-m", "vjax.main", "--x=1"])
  monkeypatch.setattr(host_memory.os, "execve", lambda *a: calls.append(a))
  for key in (*MALLOC_ENV, "VJAX_KEEP_MALLOC", "JAX_PLATFORMS"):
    monkeypatch.delenv(key, raising=False)
  host_memory.reexec_for_cpu()
  (path, argv, env), = calls
  assert path == sys.executable and argv == ["python", "-m", "vjax.main", "--x=1"]
  assert {k: env[k] for k in MALLOC_ENV} == MALLOC_ENV and env["PATH"] == os.environ["PATH"]
  monkeypatch.setenv("MALLOC_ARENA_MAX", "2")
  host_memory.reexec_for_cpu()
  assert len(calls) == 1


@pytest.mark.skipif(sys.platform != "linux", reason="glibc restart is Linux-only")
def test_main_runs_restarted_with_the_settings():
  # The process boundary is the point: the settings must be in the environment glibc saw at
  # start-up. --helpfull exits after flag parsing, i.e. after the restart.
  env = {k: v for k, v in os.environ.items() if k not in MALLOC_ENV and k != "VJAX_KEEP_MALLOC"}
  env["JAX_PLATFORMS"] = "cpu"
  code = ("import runpy, sys, os; sys.argv = ['vjax.main', '--helpshort'];"
          "print('ARENA', os.environ.get('MALLOC_ARENA_MAX'), flush=True);"
          "runpy.run_module('vjax.main', run_name='__main__')")
  out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                       timeout=120)
  arenas = [line for line in out.stdout.splitlines() if line.startswith("ARENA")]
  # -c is re-run by the restart: first without the setting, then with it.
  assert arenas == ["ARENA None", "ARENA 1"], out.stdout + out.stderr
