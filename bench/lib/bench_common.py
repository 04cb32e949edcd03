"""What every part of bench/run shares: where things are, progress on
stderr, medians, and the signals that stop a benchmark."""
import contextlib
import os
import signal
import statistics
import sys

BENCH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(BENCH)
# The stack under test: Debian's interpreter (torch, sklearn, pytest, ipykernel),
# or another one's (bench/run --python, which sets this before importing lib/).
PY = os.environ.get("LTEST_BENCH_PYTHON") or "/usr/bin/python3"
# The kernelspec of PY's kernel for `ltest -l --kernel` (bench/run makes one
# for a stack other than Debian's): the server's kernel runs the stack's python.
KERNEL = os.environ.get("LTEST_BENCH_KERNEL") or "python3"
DEFAULT_BIN = os.path.join(ROOT, "build-bench", "cli", "ltest")
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(Exception):
    pass


def on_signal(signum, frame):
    raise Interrupted(signal.Signals(signum).name)


@contextlib.contextmanager
def signals_ignored():
    """No second Ctrl-C may cut a clean-up short."""
    saved = {sig: signal.signal(sig, signal.SIG_IGN) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def summary(xs):
    """Median plus spread, for the JSON file (all in the unit of xs)."""
    if not xs:
        return None
    return {"median": median(xs), "min": min(xs), "max": max(xs), "n": len(xs), "samples": list(xs)}


def loadavg():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def suite_dir(name):
    """bench/suites/NAME and its path from the repository root."""
    suite = os.path.join(BENCH, "suites", name)
    return suite, os.path.relpath(suite, ROOT)


def suite_env(env, name, workdir):
    """The suite's own JUPYTER_RUNTIME_DIR, created owner-only."""
    env = dict(env, JUPYTER_RUNTIME_DIR=os.path.join(workdir, name + "-runtime"))
    os.makedirs(env["JUPYTER_RUNTIME_DIR"], mode=0o700)
    return env
