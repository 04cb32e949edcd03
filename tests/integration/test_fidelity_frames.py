"""The frames above pytest's main look as a cold `python -m pytest`'s
(main_frames.py): a faulthandler dump from a test lists, from the test up
to `<frozen runpy>`'s `_run_module_as_main`, the frames cold lists (below
them a fork keeps its own: README, Known limits), and an exception that
escapes pytest's main prints cold's traceback. Prepared spare or not."""
import json
import subprocess
import time

import pytest

from conftest import PYTHON, ltest_binary, write_files
from fidelity_helpers import client_env
from fidelity_helpers import server  # noqa: F401 (the module-scoped fixture)

PAUSES = (0.3, 0.6, 1, 2, 4, 8, 16)


def dumped_frames(output):
    """The current thread's frames of the dump, up to _run_module_as_main."""
    lines = output.splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith(("Current thread", "Stack (most recent call first)")))
    frames = []
    for line in lines[start + 1:]:
        frames.append(line.strip())
        if "_run_module_as_main" in line:
            return frames
    pytest.fail(f"no _run_module_as_main in the dump:\n{output}")


def test_a_dump_from_a_test_shows_cold_frames_above_pytest(server, tmp_path):
    root = write_files(tmp_path / "p", {"test_dump.py": """
        import faulthandler, sys

        def test_dump():
            sys.stdout.flush()
            faulthandler.dump_traceback(sys.stdout.fileno(), all_threads=False)
    """})
    args = ("-q", "-s", "-p", "no:cacheprovider")
    env = client_env(server)
    c = subprocess.run([PYTHON, "-m", "pytest", *args], cwd=root, env=env, capture_output=True, text=True,
                       timeout=120)
    expected = dumped_frames(c.stdout)
    for pause in PAUSES:  # a practised spare first, then until one was prepared
        time.sleep(pause)
        w = subprocess.run([ltest_binary(), "-p", str(server.port), "--json", "--", *args], cwd=root, env=env,
                           capture_output=True, text=True, timeout=120)
        reply = json.loads(w.stdout.strip().splitlines()[-1])
        frames = dumped_frames(w.stdout)
        if reply["prepared"]:  # pytest's main is the preparation's: the frames between differ, not the ends
            assert (frames[:8], frames[-4:]) == (expected[:8], expected[-4:]), w.stdout
            return
        assert frames == expected, w.stdout
    pytest.fail("no run found its spare prepared")


def test_an_exception_escaping_pytest_prints_colds_traceback(server, tmp_path):
    root = write_files(tmp_path / "p", {
        "conftest.py": "def pytest_cmdline_main(config):\n    raise ValueError('from a conftest')\n",
        "test_x.py": "def test_x(): pass\n"})
    args = ("-q", "-p", "no:cacheprovider")
    env = client_env(server, LTEST_PREPARE="0")  # the conftest fails a preparation anyway
    c = subprocess.run([PYTHON, "-m", "pytest", *args], cwd=root, env=env, capture_output=True, text=True,
                       timeout=120)
    w = subprocess.run([ltest_binary(), "-p", str(server.port), "--", *args], cwd=root, env=env,
                       capture_output=True, text=True, timeout=120)
    assert c.returncode == 1 and c.stderr.startswith("Traceback (most recent call last):\n  File \"<frozen runpy>\""), \
        c.stderr
    assert (w.returncode, w.stderr) == (c.returncode, c.stderr)
