"""Each pytest version's own main, prepared or not (finding 1 of issue 26):
the environment it gives the session (PYTEST_VERSION, from pytest 8.2), its
early exit on a lone --version (pytest 9), and its program name in --help and
usage errors (`python -m pytest` from pytest 9, `__main__.py` before) are
cold pytest's, in a run that found its spare prepared and in one that did
not. Valid on any stack: each run is compared with cold pytest on the same one."""
import json
import subprocess

import pytest

from conftest import ltest_binary, write_files
from fidelity_helpers import client_env, cold, normalised
from test_prepared_runs import PAUSES

PROJECT = {
    "pytest.ini": "[pytest]\n",
    "conftest.py": "import os\nprint('conftest sees PYTEST_VERSION', os.environ.get('PYTEST_VERSION'))\n",
    "test_env.py": ("import os\n\ndef test_env():\n"
                    "    print('test sees PYTEST_VERSION', os.environ.get('PYTEST_VERSION'))\n"),
}


@pytest.fixture
def server(shared_server):
    return shared_server


def _same_text(text):
    """normalised(), and pytest-benchmark's --help defaults stamped with the time."""
    import re
    return re.sub(r"_\d{8}_\d{6}", "_DATE_TIME", normalised(text))


def both_streams(server, root, *args):
    """(reply, stdout, stderr, exit code) of one ltest run, and cold's (None, stdout, stderr, exit code)."""
    env = client_env(server)
    p = subprocess.run([ltest_binary(), "-p", str(server.port), "--json", "--", *args], cwd=root, env=env,
                       capture_output=True, text=True, timeout=120)
    lines = p.stdout.strip().splitlines()
    assert lines and lines[-1].startswith("{"), f"no reply line (exit {p.returncode}):\n{p.stdout}{p.stderr}"
    c = cold(*args, cwd=root, env=env)
    warm = (_same_text("\n".join(lines[:-1])), _same_text(p.stderr.strip()), p.returncode)
    return json.loads(lines[-1]), warm, (_same_text(c.stdout.strip()), _same_text(c.stderr.strip()), c.returncode)


def differences(warm, expected, reply):
    import difflib
    out = [f"ltest (prepared: {reply['prepared']}) vs cold pytest:"]
    for name, w, c in zip(("stdout", "stderr", "exit code"), warm, expected):
        if w != c:
            out += [f"{name}:"] + list(difflib.unified_diff(str(c).splitlines(), str(w).splitlines(), "cold", "ltest",
                                                           lineterm=""))
    return "\n".join(out)


def same_on_every_run(server, root, *args, until_prepared=True):
    """Runs (waiting between them for the background preparation) until one
    found its spare prepared, or through every pause when until_prepared is
    False; each run's stdout, stderr and exit code are cold's."""
    import time
    replies = []
    for pause in PAUSES:
        time.sleep(pause)
        reply, warm, expected = both_streams(server, root, *args)
        assert warm == expected, differences(warm, expected, reply)
        replies.append(reply)
        if until_prepared and reply["prepared"]:
            return replies
    if until_prepared:
        pytest.fail(f"no run found its spare prepared: {replies[-1]}")
    return replies


def test_pytest_version_in_the_session_is_colds(server, tmp_path):
    root = write_files(tmp_path, PROJECT)
    replies = same_on_every_run(server, root, "-q", "-s", "-p", "no:cacheprovider")
    assert not replies[0]["prepared"]  # the first run, and the last (prepared): both as cold


def test_help_names_the_program_as_cold_pytest_does(server, tmp_path):
    root = write_files(tmp_path, PROJECT)
    same_on_every_run(server, root, "--help")


def test_a_usage_error_names_the_program_as_cold_pytest_does(server, tmp_path):
    root = write_files(tmp_path, PROJECT)
    # Never prepared (the preparation meets the same error): each run is unprepared, as cold.
    replies = same_on_every_run(server, root, "--tb=full", until_prepared=False)
    assert not any(r["prepared"] for r in replies)


def test_a_lone_version_a_second_time_is_answered_as_cold(server, tmp_path):
    root = write_files(tmp_path, PROJECT)
    # pytest 9 answers it before any configuration (nothing prepared then);
    # pytest 7 and 8 configure first (a spare may be prepared).
    for _ in range(3):
        _, warm, expected = both_streams(server, root, "--version")
        assert warm == expected
