"""A test process holds what a fresh `python -m pytest` holds
(inherited_fds.py, warmup._stop_servers_left): none of the kernel's file
descriptors (ZeroMQ's sockets and eventfds, its log, history.sqlite), no
ltest import finder in sys.meta_path, no server thread left from the
spare's practice run; and a PYTHONDONTWRITEBYTECODE the kernel cannot
honour in sys.flags is named in one warning line. Against a cold run."""
import json
import subprocess
import time
from collections import Counter

import pytest

from conftest import PYTHON, ltest_binary, write_files
from fidelity_helpers import client_env
from fidelity_helpers import server  # noqa: F401 (the module-scoped fixture)

PROBE = {"test_holds.py": """
    import json, os, re, sys, threading

    def kind(fd):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            return None
        return re.sub(r"\\[[0-9]+\\]$", "", target)  # socket:[123] -> socket:

    def test_holds():
        fds = [kind(int(n)) for n in os.listdir("/proc/self/fd") if int(n) > 2]
        print("HOLDS " + json.dumps({
            "fds": sorted(k for k in fds if k),
            "meta_path": [type(f).__name__ for f in sys.meta_path],
            "threads": sorted(re.sub(r"^Thread-[0-9]+ ", "", t.name) for t in threading.enumerate()),
        }))
"""}
ARGS = ("-q", "-s", "-p", "no:cacheprovider")
PAUSES = (0.3, 0.6, 1, 2, 4, 8, 16)
IMPORT_RECORDING_FINDERS = {"_RecordingFinder", "HeldFinder"}
KERNELS = ("eventfd", "eventpoll", "history.sqlite", "ltest-kernel")


def holds(output):
    lines = [l for l in output.splitlines() if l.startswith("HOLDS ")]
    assert len(lines) == 1, output
    return json.loads(lines[0][len("HOLDS "):])


def test_the_test_process_holds_what_a_fresh_one_holds(server, tmp_path):
    root = write_files(tmp_path / "p", PROBE)
    env = client_env(server)
    # close_fds (subprocess's default): both hold only what their own start opened.
    c = subprocess.run([PYTHON, "-m", "pytest", *ARGS], cwd=root, env=env, capture_output=True, text=True,
                       timeout=120)
    cold = holds(c.stdout)
    for pause in PAUSES:  # a practised spare first, then until one was prepared
        time.sleep(pause)
        w = subprocess.run([ltest_binary(), "-p", str(server.port), "--json", "--", *ARGS], cwd=root, env=env,
                           capture_output=True, text=True, timeout=120)
        warm = holds(w.stdout)
        assert not [k for k in warm["fds"] if any(s in k for s in KERNELS)], warm["fds"]
        extra = Counter(warm["fds"]) - Counter(cold["fds"])
        # One pipe more: the control pipe to the server (README: Known limits); a
        # prepared spare's placeholder for stdin pytest saved may add /dev/null.
        assert not extra - Counter({"pipe:": 1, "/dev/null": 1}), (warm["fds"], cold["fds"])
        # The same finders (their order follows the kernel's imports) and threads;
        # beside them only the finders that record imports for learned preloads and
        # replay held modules' imports (import_record.py, fidelity_import_warnings.py: issue 31), named here.
        finders = sorted(f for f in warm["meta_path"] if f not in IMPORT_RECORDING_FINDERS)
        assert (finders, warm["threads"]) == (sorted(cold["meta_path"]), cold["threads"]), (warm, cold)
        assert "LtestRuntimeFinder" not in warm["meta_path"]
        if json.loads(w.stdout.strip().splitlines()[-1])["prepared"]:
            return
    pytest.fail("no run found its spare prepared")


@pytest.mark.parametrize("value", [None, "1"])
def test_a_dont_write_bytecode_flag_the_kernel_cannot_match_is_named(server, tmp_path, value):
    root = write_files(tmp_path / "p", {"test_flag.py": """
        import sys
        def test_flag():
            print("FLAG", sys.flags.dont_write_bytecode, sys.dont_write_bytecode)
    """})
    env = client_env(server, PYTHONDONTWRITEBYTECODE=value)
    w = subprocess.run([ltest_binary(), "-p", str(server.port), "--", *ARGS], cwd=root, env=env,
                       capture_output=True, text=True, timeout=120)
    kernel_flag = bool(server.env.get("PYTHONDONTWRITEBYTECODE"))
    named = [l for l in w.stderr.splitlines() if "PYTHONDONTWRITEBYTECODE" in l]
    assert w.returncode == 0, w.stdout + w.stderr
    assert f"FLAG {int(kernel_flag)} {bool(value)}" in w.stdout  # the attribute follows the client
    assert len(named) == (1 if bool(value) != kernel_flag else 0), w.stderr
    if named:
        assert named[0].startswith("ltest: warning: PYTHONDONTWRITEBYTECODE=") and "sys.flags" in named[0]
