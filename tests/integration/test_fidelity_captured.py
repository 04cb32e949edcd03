"""What a library fixed at import from the cwd, HOME or the environment is
the run's (fidelity_captured.py), whether the kernel preloaded it or not:
hypothesis's example database is the `.hypothesis` of the directory the run
starts in, and a failing example stored there by a cold run is replayed
first by ltest, and the reverse. Against a cold `python -m pytest`."""
import json
import os
import subprocess

import pytest

from conftest import PYTHON, Server, ltest_binary, write_files
from fidelity_helpers import client_env

pytest.importorskip("hypothesis")

PROJECT = {
    "pytest.ini": "[pytest]\n",
    "tests/test_db.py": """
        from hypothesis import given, settings, strategies as st

        def test_where():
            print("DB", settings.default.database)

        @given(st.integers(min_value=0, max_value=10**6))
        def test_small(x):
            print("TRIED", x)
            assert x < 1000
    """,
}
ARGS = ("-q", "-s", "-p", "no:cacheprovider", "-p", "no:randomly")


@pytest.fixture(scope="module", params=["absent", "preloaded"])
def kernel(request, tmp_path_factory):
    """A server whose kernel has hypothesis imported (-m hypothesis) or not,
    started in a directory of its own (its cwd is where hypothesis was imported)."""
    home = tmp_path_factory.mktemp("hyp-server")
    modules = ("hypothesis",) if request.param == "preloaded" else ("json",)
    s = Server(home, modules=modules)
    here = os.getcwd()
    os.chdir(home)  # the server (and its kernel) start here
    try:
        s.start()
    finally:
        os.chdir(here)
    assert s.proc.poll() is None, s.log.read_text()
    yield s, home
    s.stop()


def lines(output, prefix):
    return [l for l in output.splitlines() if l.startswith(prefix)]


def test_the_example_database_is_the_runs_directorys(kernel, tmp_path):
    server, home = kernel
    root = write_files(tmp_path / "proj", PROJECT)
    tests = root / "tests"
    env = client_env(server)
    warm = [ltest_binary(), "-p", str(server.port), "--"]
    # ltest first: the example it stores must be where cold looks for it, and the reverse.
    w = subprocess.run([*warm, *ARGS], cwd=tests, env=env, capture_output=True, text=True, timeout=300)
    assert w.returncode == 1, w.stdout + w.stderr
    assert (tests / ".hypothesis" / "examples").is_dir() and not (home / ".hypothesis").exists()
    c = subprocess.run([PYTHON, "-m", "pytest", *ARGS], cwd=tests, env=env, capture_output=True, text=True,
                       timeout=300)
    assert lines(w.stdout, "DB ") == lines(c.stdout, "DB ") and str(tests / ".hypothesis") in lines(c.stdout, "DB ")[0]
    # Cold replays the failing example ltest stored before anything else (without
    # it, hypothesis starts from 0), and so does ltest with the one cold stored.
    assert first_tried(c.stdout) >= 1000, c.stdout
    w2 = subprocess.run([*warm, *ARGS], cwd=tests, env=env, capture_output=True, text=True, timeout=300)
    assert first_tried(w2.stdout) >= 1000, w2.stdout


def hypothesis_is_a_rewritten_plugin():
    """Does the stack's hypothesis distribution have a pytest11 entry point and
    a list of its files, so that pytest rewrites the asserts of its modules
    (its _iter_rewritable_modules)? Debian's lists none, PyPI's wheel does."""
    code = ("import importlib.metadata as m; d = m.distribution('hypothesis'); "
            "print(any(e.group == 'pytest11' for e in d.entry_points) and "
            "any(str(f).startswith('hypothesis/') for f in d.files or []))")
    return subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "True"


def first_tried(output):
    return int(lines(output, "TRIED ")[0].split()[1])


def test_the_example_database_is_the_runs_directorys_with_hypothesis_learned(tmp_path):
    """An auto-started server (in the project's root) learns hypothesis from
    a run in tests/, and the next server preloads it: runs from tests/ still
    keep their examples in tests/.hypothesis. Where hypothesis is a pytest
    plugin's distribution that lists its files (PyPI's wheel: pytest rewrites
    its modules' asserts), ltest never learns it, by design (preload.py): the
    next server's runs keep their examples there all the same."""
    from conftest import alive, wait_for
    from zeroconf import World
    world = World(tmp_path)
    try:
        root = write_files(tmp_path / "proj", PROJECT)
        tests = root / "tests"
        first = world.ltest("--", *ARGS, cwd=tests)
        assert first.returncode == 1, first.stdout + first.stderr
        [server] = world.servers()
        assert world.ltest("--stop", cwd=tests).returncode == 0
        assert wait_for(lambda: not alive(server["pid"]), 30)
        # What the first run learned, with hypothesis's import time put above the
        # learned-preload threshold (50 ms): the time measured depends on the
        # machine (0.05 s was seen), and what this test checks must not.
        [cache] = world.cache_dir.rglob("*.json")
        facts = json.loads(cache.read_text())
        entries = [e for e in facts["modules"] if e["module"] == "hypothesis"]
        rewritten = hypothesis_is_a_rewritten_plugin()
        assert len(entries) == (0 if rewritten else 1), (rewritten, facts)
        for entry in entries:
            entry["seconds"] = max(entry["seconds"], 1.0)
        cache.write_text(json.dumps(facts))
        learned = world.ltest("--", *ARGS, cwd=tests)
        status = json.loads(world.ltest("--status", "--json", cwd=tests).stdout)
        cached = [f.read_text() for f in world.cache_dir.rglob("*.json")]  # what the first run learned, for a failure
        preloaded = next((p for p in status["preloaded"] if p["module"] == "hypothesis"), {})
        if rewritten:
            assert preloaded == {}, (status, cached)
        else:
            assert {"module": "hypothesis", "source": "learned"}.items() <= preloaded.items(), (status, cached,
                                                                                               world.server_log())
        assert learned.returncode == 1, learned.stdout + learned.stderr
        assert str(tests / ".hypothesis") in lines(learned.stdout, "DB ")[0] and not (root / ".hypothesis").exists()
        assert first_tried(learned.stdout) >= 1000, learned.stdout  # the example the first run stored
    finally:
        world.kill_all()


@pytest.fixture(scope="module")
def ci_kernel(tmp_path_factory):
    """A server whose kernel imported hypothesis in an environment that names
    a CI service (hypothesis 6.131+ loads its "ci" profile then: no database)."""
    home = tmp_path_factory.mktemp("hyp-ci-server")
    s = Server(home, modules=("hypothesis",), extra_env={"CI": "true"})
    s.start()
    assert s.proc.poll() is None, s.log.read_text()
    yield s
    s.stop()


@pytest.mark.parametrize("run_ci", [None, "true"], ids=["run-without-CI", "run-with-CI"])
def test_the_runs_environment_decides_hypothesis_ci_profile(ci_kernel, tmp_path, run_ci):
    """Whether the kernel imported hypothesis with CI set or not, a run gets
    the profile its own environment gives a cold run (where the kernel's
    hypothesis is kept: PyPI's is imported afresh anyway, its modules being
    a plugin's that pytest rewrites)."""
    tests = write_files(tmp_path / "proj", PROJECT) / "tests"
    env = client_env(ci_kernel, CI=run_ci)
    select = ("-k", "test_where")
    w = subprocess.run([ltest_binary(), "-p", str(ci_kernel.port), "--", *ARGS, *select], cwd=tests, env=env,
                       capture_output=True, text=True, timeout=300)
    c = subprocess.run([PYTHON, "-m", "pytest", *ARGS, *select], cwd=tests, env=env, capture_output=True, text=True,
                       timeout=300)
    assert w.returncode == c.returncode == 0, w.stdout + w.stderr + c.stdout + c.stderr
    assert lines(w.stdout, "DB ") == lines(c.stdout, "DB "), (w.stdout, c.stdout)
