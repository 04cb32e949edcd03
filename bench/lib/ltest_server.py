"""`ltest -l` for bench/run: a server started on a port, timed from launch to
its ready line, asked for its status, and stopped without leaving anything."""
import json
import os
import signal
import subprocess
import threading
import time

from bench_common import PY
from bench_processes import alive, die_with_parent, last_line

READY_TIMEOUT = 300.0  # seconds for `ltest -l` to print its ready line


class Server:
    """`ltest -l -p PORT -m MODULE...`, timed from launch to its ready line."""

    def __init__(self, ltest, port, modules, env, log_path):
        self.ltest, self.port, self.env = ltest, port, env
        self.ready_at = None
        self.ready_event = threading.Event()
        self.log = open(log_path, "a")
        self.log.write(f"--- ltest -l -p {port} -m {' '.join(modules)}\n")
        self.log.flush()
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen([ltest, "-l", "-p", str(port), "--python", PY] + [a for m in modules for a in ("-m", m)],
                                     env=env, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.PIPE,
                                     preexec_fn=die_with_parent)
        self.kernel_pid = None
        self.reader = threading.Thread(target=self._read_stderr, daemon=True)
        self.reader.start()

    def _read_stderr(self):
        for raw in self.proc.stderr:  # keeps draining after ready: the server never blocks on a full pipe
            if self.ready_at is None and b"[server] ready on" in raw:
                self.ready_at = time.perf_counter()
                self.ready_event.set()
            self.log.write(raw.decode(errors="replace"))
            self.log.flush()
        self.ready_event.set()  # EOF: it exited

    def wait_ready(self):
        """Seconds from launch to the ready line."""
        if not self.ready_event.wait(READY_TIMEOUT) or self.ready_at is None:
            code = self.proc.poll()
            raise RuntimeError(f"ltest server on port {self.port} not ready "
                               f"({'exited with %s' % code if code is not None else 'timed out'}); see {self.log.name}")
        return self.ready_at - self.t0

    def ltest_cmd(self, *args):
        return [self.ltest, "-p", str(self.port), *args]

    def status(self):
        p = subprocess.run(self.ltest_cmd("--status", "--json"), env=self.env, capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            raise RuntimeError(f"ltest --status --json exited with {p.returncode}: {p.stderr.strip()}")
        s = json.loads(last_line(p.stdout))
        self.kernel_pid = s.get("kernel_pid", self.kernel_pid)
        return s

    def stop(self):
        """--stop, then SIGTERM, then SIGKILL: never leaves a server (or its kernel) behind."""
        if self.kernel_pid is None and self.proc.poll() is None and self.ready_at is not None:
            try:
                self.status()
            except Exception:
                pass
        if self.proc.poll() is None:
            try:
                subprocess.run(self.ltest_cmd("--stop"), env=self.env, capture_output=True, timeout=20)
            except Exception:
                pass
        for sig, wait in ((None, 5), (signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            if sig is not None and self.proc.poll() is None:
                self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        # The kernel dies with its server (PDEATHSIG); make sure of it.
        if self.kernel_pid and alive(self.kernel_pid):
            deadline = time.monotonic() + 5
            while alive(self.kernel_pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if alive(self.kernel_pid):
                try:
                    os.kill(self.kernel_pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        self.reader.join(timeout=5)
        self.log.close()
