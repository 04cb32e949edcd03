"""Fidelity: the client's environment, warnings, umask, hash seed, and the
test process's state (argv, signals, asyncio, threads at exit, atexit) as
plain pytest has them."""
import json
import subprocess

import pytest

from conftest import PYTHON, ltest_binary, summary_line, write_files
from fidelity_helpers import PROBE, SERVER_ONLY, assert_same, both, client_env, cold, header, warm
from fidelity_helpers import server  # noqa: F401 (the module-scoped fixture)


# --- the client's environment ------------------------------------------------

ENV_SUITE = {"test_env.py": f"""
    import os, sys

    def test_only_this():
        assert os.environ["PYTHONHASHSEED"] == "123"
        assert os.environ["LTEST_FID_CUSTOM"] == "a value with spaces, = and ü"
        assert os.environ.get("{SERVER_ONLY}") == os.environ.get("EXPECT_SERVER_ONLY")

    def test_not_selected():
        assert False, "PYTEST_ADDOPTS was ignored"
"""}


def test_client_environment_is_the_tests_environment(server, tmp_path):
    root = write_files(tmp_path, ENV_SUITE)
    env = client_env(server, PYTEST_ADDOPTS="-k only_this", PYTHONHASHSEED="123",
                     LTEST_FID_CUSTOM="a value with spaces, = and ü")
    # A variable the server had and the client unset is not in the test's environment.
    w, c = both(server, root, "-q", env=dict(env, **{SERVER_ONLY: "x", "EXPECT_SERVER_ONLY": "x"}))
    assert_same(w, c)
    unset = {k: v for k, v in env.items() if k != SERVER_ONLY}
    w, c = both(server, root, "-q", env=unset)
    assert_same(w, c)
    assert w.returncode == 0 and summary_line(w.stdout) == "1 passed, 1 deselected", w.stdout
    # The server did have it: kept by a client that has it too.
    w = warm(server, "-q", cwd=root, env=dict(env, EXPECT_SERVER_ONLY="from-server"))
    assert w.returncode == 0, w.stdout


def test_pythonwarnings_of_the_client_apply(server, tmp_path):
    root = write_files(tmp_path, {"test_warns.py": """
        import warnings
        def test_warns():
            warnings.warn("careful", UserWarning)
    """})
    # Scoped to the test's module: installed plugins (pytest-instafail, -benchmark)
    # raise pytest's own deprecation warnings, UserWarnings too, at start-up.
    w, c = both(server, root, "-q", env=client_env(server, PYTHONWARNINGS="error::UserWarning:test_warns"))
    assert_same(w, c)
    assert w.returncode == 1 and "UserWarning: careful" in w.stdout
    w, c = both(server, root, "-q")
    assert_same(w, c)
    assert w.returncode == 0 and "1 warning" in w.stdout




def probe(result):
    lines = [l for l in result.stdout.splitlines() if l.startswith("PROBE ")]
    assert len(lines) == 1, result.stdout + result.stderr
    return json.loads(lines[0][len("PROBE "):])


def test_process_state_equals_plain_pytest(server, tmp_path):
    """sys.path, argv, builtins, warning filters, signals, stdio, __main__,
    hooks: what a test can see of its process is what plain pytest shows."""
    root = write_files(tmp_path, {"test_probe.py": PROBE})
    w, c = both(server, root, "-q", "-s", "-p", "no:cacheprovider")
    assert_same(w, c)
    warm_state, cold_state = probe(w), probe(c)
    for key in cold_state:
        assert warm_state[key] == cold_state[key], key
    assert warm_state["path"][0] == str(root)


def test_main_argv_asyncio_and_no_kernel_leftovers(server, tmp_path):
    root = write_files(tmp_path, {"test_proc.py": """
        import asyncio, builtins, os, sys
        import pytest

        def test_path_main_argv():
            assert sys.path[0] == os.getcwd()
            assert sys.modules["__main__"].__spec__.name == "pytest.__main__"
            assert sys.argv[0].endswith("pytest/__main__.py")

        def test_asyncio_run():
            async def answer():
                await asyncio.sleep(0)
                return 42
            with pytest.raises(RuntimeError):
                asyncio.get_running_loop()
            assert asyncio.run(answer()) == 42
            assert asyncio.run(answer()) == 42

        def test_no_ipython():
            assert not hasattr(builtins, "get_ipython") and not hasattr(builtins, "__IPYTHON__")
            assert callable(builtins.exit) and callable(builtins.quit)
            import IPython
            assert IPython.get_ipython() is None

        def test_pdb_is_the_stdlib_one():
            import pdb
            assert pdb.Pdb.__module__ == "pdb"

        def test_spawned_process_works():
            import multiprocessing
            with multiprocessing.get_context("spawn").Pool(1) as pool:
                assert pool.map(abs, [-3]) == [3]
    """})
    w, c = both(server, root, "-q")
    assert_same(w, c)
    assert w.returncode == 0 and summary_line(w.stdout) == "5 passed", w.stdout + w.stderr


def test_exit_waits_for_threads_and_runs_atexit_like_python(server, tmp_path):
    marks = tmp_path / "marks"
    root = write_files(tmp_path / "s", {"test_exit.py": f"""
        import atexit, threading, time

        def late():
            time.sleep(0.5)
            with open({str(marks)!r}, "a") as f:
                f.write("thread\\n")

        def test_starts_work():
            atexit.register(lambda: open({str(marks)!r}, "a").write("atexit\\n"))
            threading.Thread(target=late).start()  # not a daemon: python waits for it
    """})
    w = warm(server, "-q", cwd=root)
    assert w.returncode == 0, w.stdout + w.stderr
    assert marks.read_text() == "thread\natexit\n"
    c = cold("-q", cwd=root, env=client_env(server))
    assert c.returncode == 0 and marks.read_text() == "thread\natexit\n" * 2


def test_umask_is_the_clients(server, tmp_path):
    root = write_files(tmp_path, {"test_umask.py": """
        import os
        def test_umask():
            assert oct(os.umask(0)) == oct(0o077)
    """})
    env = client_env(server)
    c = subprocess.run([PYTHON, "-m", "pytest", "-q"], cwd=root, env=env, capture_output=True, text=True,
                       umask=0o077)
    w = subprocess.run([ltest_binary(), "-p", str(server.port), "--", "-q"], cwd=root, env=env,
                       capture_output=True, text=True, umask=0o077)
    assert (w.returncode, c.returncode) == (0, 0), w.stdout


def test_a_pythonhashseed_the_kernel_cannot_honour_is_warned_about(server, tmp_path):
    # hash() uses the secret the kernel started with; a fork cannot change it
    # (every str already hashed in the kernel would disagree). Say so.
    root = write_files(tmp_path, {"test_hash.py": "def test_hash(): pass\n"})
    env = client_env(server, PYTHONHASHSEED="4242")  # a seed no other test uses: warned once per seed
    r = subprocess.run([ltest_binary(), "-p", str(server.port), "--", "-q"], cwd=root, env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0
    assert "PYTHONHASHSEED=4242" in r.stderr and "ltest -l" in r.stderr


@pytest.mark.xfail(strict=True, reason="limit: str hashes use the kernel's hash secret, fixed when the kernel "
                   "started; a client's PYTHONHASHSEED is visible but does not seed hash() (start the server "
                   "with the same PYTHONHASHSEED; the client is warned)")
def test_pythonhashseed_seeds_hash(server, tmp_path):
    root = write_files(tmp_path, {"test_hash.py": """
        def test_hash():
            print("HASH", hash("ltest"), "".join(sorted(set("abcdefgh"), key=hash)))
    """})
    env = client_env(server, PYTHONHASHSEED="123")
    w, c = both(server, root, "-q", "-s", env=env)
    assert w.returncode == c.returncode == 0
    assert header(w.stdout, "HASH") == header(c.stdout, "HASH")
