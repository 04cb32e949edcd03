"""The warm run path end to end: real server, real kernel, real pytest (issue 3)."""
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import children_states, install_third_party, plain_pytest, read_until, summary_line, wait_for, write_files

SUITES = {
    "passing": {"test_ok.py": "def test_a(): assert 1\ndef test_b(): assert 2\n"},
    "failing": {"test_mixed.py": "def test_a(): assert 1\ndef test_b(): assert 0\n"},
    "collection_error": {"test_broken.py": "import no_such_module_ltest\ndef test_a(): pass\n"},
    "empty": {"README.txt": "no tests here\n"},
}


@pytest.mark.parametrize("suite,args,expected", [
    ("passing", ["-q"], 0),
    ("failing", ["-q"], 1),
    ("collection_error", ["-q"], 2),
    ("passing", ["-q", "--no-such-flag"], 4),
    ("passing", ["-q", "missing_path.py"], 4),
    ("empty", ["-q"], 5),
])
def test_exit_codes_and_counts_equal_plain_pytest(shared_server, tmp_path, suite, args, expected):
    root = write_files(tmp_path / suite, SUITES[suite])
    cold = plain_pytest(*args, cwd=root)
    warm = shared_server.run(*args, cwd=root)
    assert cold.returncode == expected, cold.stdout + cold.stderr
    assert warm.returncode == expected, warm.stdout + warm.stderr
    assert summary_line(warm.stdout) == summary_line(cold.stdout)
    # Usage errors go to stderr in both.
    assert bool(warm.stderr.strip()) == bool(cold.stderr.strip())


def test_seed_readme_commands(shared_server, tmp_path):
    root = write_files(tmp_path, {
        "pytest.ini": "[pytest]\nmarkers =\n    slow: slow tests\n",
        "path/to/suite/my_test.py": """
            import pytest
            def test_fast(): print("fast-output")
            @pytest.mark.slow
            def test_slow(): assert True
        """,
        "test_top.py": "def test_top(): print('top-output')\n",
    })
    r = shared_server.run("-s", "-v", cwd=root)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "fast-output" in r.stdout and "top-output" in r.stdout  # -s shows prints
    assert "PASSED" in r.stdout  # -v
    r = shared_server.run("--co", cwd=root)
    assert r.returncode == 0
    assert "3 tests collected" in r.stdout
    # The seed README's `--tb=full` is not a pytest 7 choice: ltest must fail
    # exactly as plain pytest does (usage error 4), and work with --tb=long.
    args = ["-v", "--tb=full", "-m", "slow", "--", "path/to/suite/my_test.py"]
    r, cold = shared_server.run(*args, cwd=root), plain_pytest(*args, cwd=root)
    assert r.returncode == cold.returncode == 4
    assert "invalid choice: 'full'" in r.stderr
    # What -m slow leaves to run depends on the plugins (pytest-astropy skips
    # slow tests without --run-slow): as plain pytest, whatever they are.
    args = ["-v", "--tb=long", "-m", "slow", "--", "path/to/suite/my_test.py"]
    r, cold = shared_server.run(*args, cwd=root), plain_pytest(*args, cwd=root)
    assert r.returncode == cold.returncode == 0, r.stdout + r.stderr
    assert summary_line(r.stdout) == summary_line(cold.stdout) and "1 deselected" in summary_line(r.stdout)


def test_json_prints_the_reply(shared_server, tmp_path):
    root = write_files(tmp_path, SUITES["failing"])
    r = shared_server.client("--json", "--", "-q", cwd=root)
    assert r.returncode == 1
    reply = json.loads(r.stdout.strip().splitlines()[-1])
    assert reply["exit_code"] == 1 and reply["status"] == "ok" and reply["duration"] > 0


def test_output_streams_while_a_test_runs(shared_server, tmp_path):
    # The test prints a mark, then waits until the harness has seen that mark
    # and created `go`. Buffered-to-the-end output would never let it finish.
    go = tmp_path / "go"
    root = write_files(tmp_path / "s", {"test_slow.py": f"""
        import os, sys, time
        def test_waits():
            print("MARK-STREAMED", flush=True)
            deadline = time.time() + 60
            while not os.path.exists({str(go)!r}):
                assert time.time() < deadline, "output was not streamed"
                time.sleep(0.02)
    """})
    p = shared_server.popen("--", "-s", "-q", cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert b"MARK-STREAMED" in read_until(p, b"MARK-STREAMED")
        assert p.poll() is None  # still running: the mark came while the test ran
        go.write_text("go")
        assert p.wait(timeout=60) == 0
    finally:
        if p.poll() is None:
            p.kill()


def test_segfault_gives_139_and_the_next_run_works(shared_server, tmp_path):
    root = write_files(tmp_path, {
        "test_crash.py": "import os, signal\ndef test_crash(): os.kill(os.getpid(), signal.SIGSEGV)\n",
        "test_fine.py": "def test_fine(): pass\n",
    })
    r = shared_server.run("-q", "test_crash.py", cwd=root)
    assert r.returncode == 128 + signal.SIGSEGV == 139
    r = shared_server.run("-q", "test_fine.py", cwd=root)
    assert r.returncode == 0 and "1 passed" in r.stdout


def test_ten_runs_in_a_row_leave_no_zombies(shared_server, tmp_path):
    root = write_files(tmp_path, SUITES["passing"])
    for _ in range(10):
        r = shared_server.run("-q", cwd=root)
        assert r.returncode == 0 and "2 passed" in r.stdout
    kernel_pid = shared_server.status()["kernel_pid"]
    # The last child is reaped just after its reply, and a dropped spare once it is
    # gone (off the critical path): a zombie that stays is a leak, one that goes is not.
    zombies = lambda: [pid for pid, s in children_states(kernel_pid) if s == "Z"]  # noqa: E731
    assert wait_for(lambda: not zombies(), 60), zombies()
    assert shared_server.status()["runs"] >= 10


def test_preloaded_module_is_not_imported_again(start_server, tmp_path):
    # Installed (a user site directory, or installed on PYTHONPATH), not the user's
    # own code: a package of one's own is imported afresh by each run
    # (docs/design.md, "Own packages").
    env, _ = install_third_party(tmp_path, {"slowmod.py": f"""
        import time
        with open({str(tmp_path / 'imports.log')!r}, "a") as f:
            f.write("imported\\n")
        time.sleep(0.5)  # a "fat" import
        VALUE = 42
    """})
    server = start_server(modules=["slowmod"], extra_env=env)
    root = write_files(tmp_path / "proj", {"test_uses.py": """
        import sys
        def test_preloaded():
            assert "slowmod" in sys.modules   # already there before the test imports it
            import slowmod
            assert slowmod.VALUE == 42
    """})
    for _ in range(3):
        r = server.run("-q", cwd=root, env=env)
        assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "imports.log").read_text().count("imported") == 1
    assert "preloaded slowmod" in server.log.read_text()


def test_environment_cwd_and_argv_are_the_clients(shared_server, tmp_path):
    root = write_files(tmp_path, {"test_env.py": """
        import os, sys
        def test_env():
            assert os.environ["LTEST_PROBE"] == "from-client"
            assert os.getcwd() == os.environ["EXPECTED_CWD"]
            assert sys.path[0] == os.environ["EXPECTED_CWD"]
            assert sys.argv[0].endswith("pytest/__main__.py")
    """})
    r = shared_server.run("-q", cwd=root, env={"LTEST_PROBE": "from-client", "EXPECTED_CWD": str(root)})
    assert r.returncode == 0, r.stdout + r.stderr


def test_stdout_and_stderr_stay_separate(shared_server, tmp_path):
    root = write_files(tmp_path, {"test_streams.py": """
        import sys
        def test_streams():
            print("to-stdout")
            print("to-stderr", file=sys.stderr)
    """})
    r = shared_server.run("-q", "-s", cwd=root)
    assert r.returncode == 0
    assert "to-stdout" in r.stdout and "to-stdout" not in r.stderr
    assert "to-stderr" in r.stderr and "to-stderr" not in r.stdout


def test_input_is_answered_from_the_clients_stdin(shared_server, tmp_path):
    root = write_files(tmp_path, {"test_input.py": """
        def test_asks():
            name = input("name? ")
            print("got", name)
            assert name == "ltest-user"
    """})
    r = shared_server.run("-q", "-s", cwd=root, input="ltest-user\n")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "got ltest-user" in r.stdout


def test_input_at_eof_raises_eoferror_like_plain_pytest(shared_server, tmp_path):
    root = write_files(tmp_path, {"test_input.py": """
        import pytest
        def test_asks():
            with pytest.raises(EOFError):
                input("name? ")
    """})
    r = shared_server.run("-q", "-s", cwd=root, input="")
    cold = plain_pytest("-q", "-s", cwd=root)
    assert cold.returncode == 0
    assert r.returncode == 0, r.stdout + r.stderr


def test_no_server_is_one_clear_line(tmp_path):
    from conftest import free_port, ltest_binary
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path))
    r = subprocess.run([ltest_binary(), "-p", str(free_port()), "--", "-q"], env=env, capture_output=True, text=True)
    assert r.returncode == 69
    assert len(r.stderr.strip().splitlines()) == 1
    assert "ltest -l" in r.stderr


def test_bad_ltest_flag_is_a_usage_error(tmp_path):
    from conftest import ltest_binary
    r = subprocess.run([ltest_binary(), "--no-such-ltest-flag"], capture_output=True, text=True)
    assert r.returncode == 64
    assert "--no-such-ltest-flag" in r.stderr and "after `--`" in r.stderr


def test_preload_failure_stops_the_server_and_leaves_no_kernel(start_server):
    s = start_server(modules=["no_such_module_for_ltest"], expect_ready=False)
    assert s.proc.wait(timeout=60) == 78
    log = s.log.read_text()
    assert "ModuleNotFoundError" in log and "no_such_module_for_ltest" in log
    assert "ready on" not in log


def test_missing_kernelspec_is_a_clear_error(start_server):
    s = start_server(args=["--kernel", "no-such-kernel"], expect_ready=False)
    assert s.proc.wait(timeout=30) == 78
    assert "no kernelspec named 'no-such-kernel'" in s.log.read_text()


def test_sigterm_stops_the_server_and_its_kernel(start_server):
    s = start_server()
    kernel_pid = s.status()["kernel_pid"]
    s.proc.send_signal(signal.SIGTERM)
    assert s.proc.wait(timeout=30) == 0
    deadline = time.monotonic() + 10
    while Path(f"/proc/{kernel_pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{kernel_pid}").exists()
    assert not list(s.runtime_dir.glob("*.json"))  # runtime and connection files removed


@pytest.mark.parametrize("pace", [0.0, 0.1, 2.0], ids=["back-to-back", "0.1s-apart", "2s-apart"])
def test_runs_at_any_pace_use_a_test_process_forked_ahead_of_time(start_server, tmp_path, pace):
    # Two spares are kept and one practises while the other waits (spare.py):
    # whatever the pace, and whatever the practice leaves (pytest-rerunfailures'
    # thread), every run finds one. The pace is the scenario, not a wait for an event.
    server = start_server()
    root = write_files(tmp_path, SUITES["passing"])
    replies = []
    for _ in range(4):
        time.sleep(pace)
        r = server.client("--json", "--", "-q", cwd=root)
        assert r.returncode == 0, r.stdout + r.stderr
        replies.append(json.loads(r.stdout.strip().splitlines()[-1]))
    assert [reply["prestarted"] for reply in replies] == [True] * 4
    assert all(reply["exit_code"] == 0 for reply in replies)