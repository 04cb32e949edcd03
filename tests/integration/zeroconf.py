"""Helpers for the zero-configuration tests: a private world
(runtime dir, cache dir, HOME) per test, and cleanup of every process that
lived in it, auto-started servers and their kernels included."""
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import PYTHON, ltest_binary, wait_for


class World:
    def __init__(self, tmp_path):
        self.runtime_dir = tmp_path / "runtime"
        self.cache_dir = tmp_path / "cache"
        self.home = tmp_path / "home"
        self.home.mkdir()
        self.env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(self.runtime_dir), XDG_CACHE_HOME=str(self.cache_dir),
                        HOME=str(self.home), OMP_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1")
        self.env.pop("PYTEST_ADDOPTS", None)

    def ltest(self, *args, cwd, timeout=300, **kw):
        return subprocess.run([ltest_binary(), *args], cwd=cwd, env=self.env, capture_output=True, text=True,
                              timeout=timeout, **kw)

    def install(self, name, text):
        """Module name (name.py holding text) installed as third-party code for
        the stack's python, before this world's first server starts: in its user
        site directory under the world's HOME (as pip --user), or where the stack
        reads none (a virtualenv) as an installed distribution in a directory on
        PYTHONPATH (as pip install --target). The directory holding it."""
        from conftest import installed, stack_has_user_site, write_files
        if stack_has_user_site():
            where = Path(subprocess.run([PYTHON, "-c", "import site; print(site.getusersitepackages())"],
                                        env=self.env, capture_output=True, text=True, check=True).stdout.strip())
            write_files(where, {f"{name}.py": text})
        else:
            where = self.home / "installed"
            write_files(where, installed({f"{name}.py": text}))
            self.env["PYTHONPATH"] = str(where)
        self.installed = where
        return where

    def cold_stderr(self, *args, cwd, python=PYTHON):
        """What a cold `python -m pytest ARGS` says on stderr in this world: a
        run through a server already running says that and nothing of its own
        (pytest-asyncio 1.x, say, warns there about its unset loop scope)."""
        return subprocess.run([str(python), "-m", "pytest", *args], cwd=cwd, env=self.env, capture_output=True,
                              text=True, timeout=300).stderr

    def popen(self, *args, cwd, **kw):
        return subprocess.Popen([ltest_binary(), *args], cwd=cwd, env=self.env, **kw)

    def servers(self):
        """The runtime files of the servers in this world."""
        if not self.runtime_dir.exists():
            return []
        return [json.loads(p.read_text()) for p in sorted(self.runtime_dir.glob("ltest-*.json"))]

    def server_log(self):
        return "".join(p.read_text() for p in self.runtime_dir.glob("ltest-*.log"))

    def processes(self):
        """Pids of the processes whose environment names this world's runtime dir."""
        mark = f"JUPYTER_RUNTIME_DIR={self.runtime_dir}".encode()
        out = []
        for d in Path("/proc").iterdir():
            if d.name.isdigit() and int(d.name) != os.getpid():
                try:
                    if mark in (d / "environ").read_bytes().split(b"\0"):
                        out.append(int(d.name))
                except OSError:
                    pass
        return out

    def kill_all(self):
        for s in self.servers():
            try:
                os.kill(s["pid"], signal.SIGTERM)
            except (ProcessLookupError, KeyError):
                pass
        wait_for(lambda: not self.processes(), 15)
        for pid in self.processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path)
    yield w
    w.kill_all()


def timed(fn):
    start = time.monotonic()
    result = fn()
    return result, time.monotonic() - start
