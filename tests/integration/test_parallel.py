"""`ltest -n N`: sharded runs from one warm kernel give the serial answer (issue 9)."""
import re

import pytest

from conftest import plain_pytest, summary_line, write_files

MIXED = {
    "conftest.py": """
        import pytest
        @pytest.fixture(scope="module")
        def resource():
            return {"ready": True}
    """,
    "test_a.py": """
        import pytest
        @pytest.mark.parametrize("i", range(12))
        def test_param(i, resource):
            assert resource["ready"]
            assert i != 5
        @pytest.mark.skip(reason="sample suite: a skip the shards must count as a serial run does")
        def test_skipped(): pass
        @pytest.mark.xfail
        def test_xfail(): assert 0
    """,
    "test_b.py": """
        import pytest
        @pytest.fixture
        def broken(): raise RuntimeError("fixture error")
        def test_error(broken): pass
        @pytest.mark.parametrize("j", range(8))
        def test_more(j): assert j >= 0
        @pytest.mark.xfail(strict=True)
        def test_xpass_strict(): pass
    """,
}


@pytest.mark.parametrize("workers", ["2", "3", "auto"])
def test_sharded_run_gives_the_serial_counts_and_exit_code(shared_server, tmp_path, workers):
    root = write_files(tmp_path, MIXED)
    cold = plain_pytest("-q", "-p", "no:cacheprovider", cwd=root)
    serial = shared_server.run("-q", "-p", "no:cacheprovider", cwd=root)
    sharded = shared_server.client("-n", workers, "--", "-q", "-p", "no:cacheprovider", cwd=root)
    assert cold.returncode == serial.returncode == sharded.returncode == 1
    assert summary_line(sharded.stdout) == summary_line(serial.stdout) == summary_line(cold.stdout)
    # Failures keep their tracebacks in the combined report.
    for text in ("test_param[5]", "assert 5 != 5", "fixture error", "XPASS(strict)"):
        assert text in sharded.stdout


def test_collect_only_and_exitfirst_keep_their_meaning(shared_server, tmp_path):
    root = write_files(tmp_path, MIXED)
    co = shared_server.client("-n", "2", "--", "--co", "-q", cwd=root)
    assert co.returncode == 0 and "24 tests collected" in co.stdout
    x = shared_server.client("-n", "2", "--", "-x", "-q", "-p", "no:cacheprovider", cwd=root)
    assert x.returncode == 1
    assert "stopping after 1 failures" in x.stdout
    # The first failure stops every worker: fewer than the 24 tests ran (which
    # failure comes first depends on the workers' pace).
    counts = [int(n) for n in re.findall(r"(\d+) (?:passed|failed|skipped|xfailed|xpassed|errors?)\b",
                                         summary_line(x.stdout) or "")]
    assert 0 < sum(counts) < 24, x.stdout


def test_a_crashing_worker_fails_its_tests_not_the_run(shared_server, tmp_path):
    root = write_files(tmp_path, {"test_c.py": """
        import os, signal, pytest
        @pytest.mark.parametrize("i", range(6))
        def test_c(i):
            if i == 1:
                os.kill(os.getpid(), signal.SIGSEGV)
    """})
    r = shared_server.client("-n", "2", "--", "-q", "-p", "no:cacheprovider", cwd=root)
    assert r.returncode == 1
    assert "died (signal 11)" in r.stdout
    # Shards [0, 2, 4] and [1, 3, 5] (blocks dealt in turn): test 1 crashes its
    # worker; it and the two tests that worker never reached fail.
    assert "3 failed, 3 passed" in r.stdout


def test_workers_really_run_at_the_same_time(shared_server, tmp_path):
    # Two tests that each wait for the other: only concurrent workers can pass.
    root = write_files(tmp_path, {"test_meet.py": f"""
        import os, time
        D = {str(tmp_path)!r}
        def meet(me, other):
            open(os.path.join(D, me), "w").close()
            deadline = time.time() + 30
            while not os.path.exists(os.path.join(D, other)):
                assert time.time() < deadline, "the other worker never ran alongside"
                time.sleep(0.01)
        def test_left(): meet("left", "right")
        def test_right(): meet("right", "left")
    """})
    r = shared_server.client("-n", "2", "--", "-q", "-p", "no:cacheprovider", cwd=root, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 passed" in r.stdout


def test_bad_worker_count_is_a_usage_error(shared_server):
    r = shared_server.client("-n", "zero", "--", "-q")
    assert r.returncode == 64 and "-n" in r.stderr


SUBTESTS = {"test_sub.py": """
    def test_some_fail(subtests):
        for i in range(4):
            with subtests.test(i=i):
                assert i % 2 == 0

    def test_all_pass(subtests):
        for i in range(3):
            with subtests.test("named", i=i):
                pass

    def test_plain_a(): pass
    def test_plain_b(): assert 0
"""}


def test_failing_subtests_are_reported_as_cold_pytest_reports_them(shared_server, tmp_path):
    """pytest 9's built-in subtests (pytest-subtests on older stacks): a test
    whose subtests failed fails, with the same counts and the arguments
    printed as cold pytest prints them (issue 26, finding 5)."""
    root = write_files(tmp_path, SUBTESTS)
    args = ("-q", "-rA", "-p", "no:cacheprovider", "-p", "no:randomly")
    cold = plain_pytest(*args, cwd=root)
    sharded = shared_server.client("-n", "2", "--", *args, cwd=root)
    assert sharded.returncode == cold.returncode == 1, sharded.stdout + sharded.stderr

    def short_summary(out):  # the -rA lines, in pytest's order
        lines = out.splitlines()
        start = next(i for i, l in enumerate(lines) if "short test summary info" in l)
        return sorted(re.sub(r" - .*", "", l) for l in lines[start + 1:-1])
    assert summary_line(sharded.stdout) == summary_line(cold.stdout), sharded.stdout + "\n---\n" + cold.stdout
    assert short_summary(sharded.stdout) == short_summary(cold.stdout)  # pytest 9: SUBFAILED[...] (i=1)
