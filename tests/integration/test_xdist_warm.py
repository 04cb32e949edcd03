"""`ltest -- -n 2`, what a pytest-xdist user types: the tests run in forks of
the warm test process (ltest's own -n), with xdist's summary line and exit
code; a --dist mode ltest cannot honour runs in xdist's own workers, said
once. Tests pytest-xdist: skipped where the stack has no xdist."""
import os
import re
import subprocess

import pytest

from conftest import PYTHON, write_files
from zeroconf import world  # noqa: F401 (fixture)

pytestmark = pytest.mark.skipif(
    subprocess.run([PYTHON, "-c", "import xdist"], capture_output=True).returncode != 0,
    reason=f"pytest-xdist is not installed for {PYTHON} (these tests test its -n)")

# Each test records the process it ran in and its command line: a fork of
# the warm kernel has the kernel's (ipykernel_launcher), xdist's worker its own.
RECORD = """\
    import os

    def record():
        cmdline = open("/proc/self/cmdline", "rb").read().replace(b"\\0", b" ").decode()
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        with open(os.environ["RECORD_FILE"], "a") as f:
            f.write(f"{os.getpid()} {worker} {cmdline}\\n")
    """
SUITE = {
    "pyproject.toml": "[project]\nname = 'proj'\n",
    "recorder.py": RECORD,
    "test_one.py": "from recorder import record\n\n" + "".join(
        f"def test_one_{i}():\n    record()\n\n" for i in range(4)),
    "test_two.py": "from recorder import record\n\n" + "".join(
        f"def test_two_{i}():\n    record()\n    assert {i} != 2\n\n" for i in range(4)),
}


def summary(text):
    """The summary line, without its time (and the = padding, whose width the time's changes)."""
    lines = [line for line in text.splitlines() if line.strip()]
    return re.sub(r" in \d+\.\d+s", " in Ts", lines[-1]).strip("= ") if lines else ""


def records(path):
    """(pid, command line) of the process each test ran in, in order; the
    pytest-xdist worker each said it was in `workers`."""
    if not path.exists():
        return []
    found = [line.split(" ", 2) for line in path.read_text().splitlines()]
    workers.setdefault(str(path), []).append(sorted({worker for _, worker, _ in found}))
    return [(pid, cmdline) for pid, _, cmdline in found]


workers = {}  # record file: [the PYTEST_XDIST_WORKER values its tests saw, per run]


def runs(world, proj, record_file, *command):
    world.env.update(RECORD_FILE=str(record_file), PYTHONPATH=str(proj))
    if record_file.exists():
        record_file.unlink()
    if command[0] == "ltest":
        result = world.ltest(*command[1:], cwd=proj)
    else:
        result = subprocess.run([PYTHON, "-m", "pytest", *command], cwd=proj, env=world.env, capture_output=True,
                                text=True, timeout=300)
    return result, records(record_file)


@pytest.fixture
def proj(world, tmp_path):
    proj = write_files(tmp_path / "proj", SUITE)
    world.env.update(RECORD_FILE=str(tmp_path / "first"), PYTHONPATH=str(proj))
    first = world.ltest("--python", PYTHON, "--", "-q", "-p", "no:cacheprovider", cwd=proj)
    assert first.returncode == 1 and "ltest: started a server" in first.stderr, first.stdout + first.stderr
    return proj


def test_n_2_after_the_dashes_runs_in_forks_of_the_warm_process(world, proj, tmp_path):
    record = tmp_path / "record"
    cold, cold_tests = runs(world, proj, record, "-n", "2", "-p", "no:cacheprovider")
    warm, warm_tests = runs(world, proj, record, "ltest", "--python", PYTHON, "--", "-n", "2", "-p",
                            "no:cacheprovider")
    assert cold.returncode == warm.returncode == 1, warm.stdout + warm.stderr
    assert summary(warm.stdout) == summary(cold.stdout) == "1 failed, 7 passed in Ts", warm.stdout
    # the progress without file names, as xdist's
    assert "test_one.py" not in warm.stdout.split("FAILURES")[0] and "test_one.py" not in cold.stdout
    assert "FAILED test_two.py::test_two_2" in warm.stdout
    # What plugins say on stderr as they are configured: xdist's workers configure them again and repeat it.
    assert set(warm.stderr.splitlines()) == set(cold.stderr.splitlines())
    # xdist: 2 fresh interpreters; ltest: 2 forks of the test process, a fork of the kernel (whose command line
    # they keep).
    assert len(cold_tests) == len(warm_tests) == 8
    assert len({pid for pid, _ in cold_tests}) == 2 and not any("ipykernel" in p for _, p in cold_tests)
    assert len({pid for pid, _ in warm_tests}) == 2, warm_tests
    assert all("ipykernel" in parent for _, parent in warm_tests), warm_tests
    # Each worker is an xdist worker to its tests (worker_id, PYTEST_XDIST_WORKER), as cold.
    assert workers[str(record)] == [["gw0", "gw1"], ["gw0", "gw1"]]


@pytest.mark.parametrize("n", ["-n2", "--numprocesses=2"])
def test_the_other_spellings_of_n_are_forks_too(world, proj, tmp_path, n):
    record = tmp_path / "record"
    warm, warm_tests = runs(world, proj, record, "ltest", "--python", PYTHON, "--", "-q", n)
    assert warm.returncode == 1 and summary(warm.stdout) == "1 failed, 7 passed in Ts", warm.stdout + warm.stderr
    assert len({pid for pid, _ in warm_tests}) == 2 and all("ipykernel" in p for _, p in warm_tests), warm_tests


def test_a_dist_mode_ltest_cannot_honour_is_xdists_said_once(world, proj, tmp_path):
    record = tmp_path / "record"
    cold, _ = runs(world, proj, record, "-q", "-n", "2", "--dist", "loadfile")
    warm, warm_tests = runs(world, proj, record, "ltest", "--python", PYTHON, "--", "-q", "-n", "2",
                            "--dist", "loadfile")
    assert warm.returncode == cold.returncode == 1
    assert summary(warm.stdout) == summary(cold.stdout) == "1 failed, 7 passed in Ts"
    # (and what cold says too: pytest-benchmark's warning that xdist is on, where installed)
    assert warm.stderr.splitlines()[:1] == ["ltest: --dist loadfile runs in pytest-xdist's own workers (fresh "
                                        "interpreters): ltest's forked workers honour only --dist load and "
                                        "worksteal"], warm.stderr
    assert warm.stderr.splitlines()[1:] == cold.stderr.splitlines()
    # loadfile: each file's tests in one xdist worker
    assert len({pid for pid, _ in warm_tests}) == 2 and not any("ipykernel" in p for _, p in warm_tests)


def test_n_without_xdist_is_pytests_usage_error_as_cold(world, proj, tmp_path):
    record = tmp_path / "record"
    cold, _ = runs(world, proj, record, "-q", "-p", "no:xdist", "-n", "2")
    warm, _ = runs(world, proj, record, "ltest", "--python", PYTHON, "--", "-q", "-p", "no:xdist", "-n", "2")
    assert cold.returncode == warm.returncode == 4
    assert warm.stderr == cold.stderr and "unrecognized arguments: -n" in warm.stderr
