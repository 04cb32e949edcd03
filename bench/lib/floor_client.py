"""The fork floor's driver: bench/lib/floor.py, a warm /usr/bin/python3 that
forks pytest.main per request, asked one command a line."""
import json
import os
import subprocess

from bench_common import BENCH, PY, ROOT, log
from bench_processes import die_with_parent


class Floor:
    """bench/lib/floor.py: a warm /usr/bin/python3 that forks pytest.main per request."""

    def __init__(self, modules, args, cwd, env):
        env = dict(env, LTEST_BENCH_RUNTIME=runtime_dir()) if runtime_dir() else env
        self.proc = subprocess.Popen([PY, os.path.join(BENCH, "lib", "floor.py"), *modules, "--", *args],
                                     cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, bufsize=1, preexec_fn=die_with_parent)
        hello = self._read()
        if not hello.get("ready"):
            raise RuntimeError(f"fork floor helper did not start: {hello}")
        self.pid = hello["pid"]
        self.import_s = hello["import_s"]

    def _read(self):
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"fork floor helper exited (code {self.proc.wait()})")
        return json.loads(line)

    def ask(self, command):
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._read()

    def run(self, out_path=None, frozen=False):
        r = self.ask(("run-frozen" if frozen else "run") + (" " + out_path if out_path else ""))
        if r.get("code") != 0:
            raise RuntimeError(f"fork floor: pytest exited with {r.get('code')}")
        return r["ms"]

    def run_runtime(self):
        """ltest.run() in this plain process (no kernel); None if the runtime cannot be used."""
        r = self.ask("run-runtime")
        if "error" in r or r.get("code") != 0:
            if not getattr(self, "warned", False):
                log(f"note: ltest's runtime outside a kernel not measured: {r.get('error') or 'exit code %s' % r.get('code')}")
                self.warned = True
            return None
        return r["ms"]

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except Exception:
                self.proc.kill()
                self.proc.wait()


def runtime_dir():
    """The kernel-side runtime the server loads (share/ltest), for the floor's `run-runtime`."""
    for d in (os.environ.get("LTEST_SHARE_DIR"), os.path.join(ROOT, "share", "ltest")):
        if d and os.path.isfile(os.path.join(d, "ltest", "__init__.py")):
            return d
    return None
