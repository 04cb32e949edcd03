"""The processes bench/run starts and times: wall time from spawn to exit,
their last output line, their memory, and their death with this script."""
import ctypes
import signal
import socket
import subprocess
import time


def timed_run(cmd, cwd, env, what, capture=False):
    """Wall time (ms) of one process from start to exit; fails loudly on a non-zero exit."""
    out = subprocess.PIPE if capture else subprocess.DEVNULL
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    ms = (time.perf_counter() - t0) * 1000.0
    if p.returncode != 0:
        detail = ""
        if not capture:  # run again to show why
            q = subprocess.run(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
            detail = (q.stdout + q.stderr)[-2000:]
        else:
            detail = ((p.stdout or b"") + (p.stderr or b"")).decode(errors="replace")[-2000:]
        raise RuntimeError(f"{what} exited with {p.returncode}: {' '.join(cmd)}\n{detail}")
    return (ms, p) if capture else ms


def last_line(text):
    lines = [l for l in text.strip().splitlines() if l.strip()]
    return lines[-1].strip() if lines else ""


def vm_rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up now: the preexec_fn below only calls it
except Exception:
    _prctl = None


def die_with_parent():
    # preexec_fn for the server and the floor helper: if this script is killed
    # outright, they get SIGTERM (the server then stops its kernel) instead of lingering.
    if _prctl is not None:
        _prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
