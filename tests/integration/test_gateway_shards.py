"""`ltest -n` on a server with several kernels from a real Jupyter
Enterprise Gateway (its local process proxy, gateway_helpers.py): the
client's run collects, every kernel's workers take tests from the server in
small batches, and the client gets one report with the outcomes, summary
and exit code of a serial cold run; a kernel killed mid-run has its
unfinished tests run on another; Ctrl-C stops every kernel's workers.
"""
import os
import signal
import subprocess

import pytest

from conftest import Server, alive, plain_pytest, summary_line, wait_for, write_files
from gateway_helpers import KERNELSPEC, running_gateway
from shard_suites import CONFTEST, WHICH_KERNEL, generated_suite, junit_outcomes

@pytest.fixture
def gateway(tmp_path):
    with running_gateway(tmp_path) as g:
        yield g


def gateway_server(tmp_path, gateway, kernels):
    return Server(tmp_path, extra_env={"LTEST_GATEWAY_TOKEN": gateway.token},
                  args=("--gateway", gateway.url, "--gateway-kernels", str(kernels), "--kernel", KERNELSPEC))


def project_with_marks(tmp_path, files):
    """The project's directory, and the one its tests mark what they reached in."""
    root = tmp_path / "proj"
    root.mkdir()
    write_files(root, files)
    marks = tmp_path / "marks"
    marks.mkdir()
    return root, marks


def started(server):
    server.start(timeout=300)
    assert server.proc.poll() is None, server.log.read_text()


def test_a_sharded_run_over_gateway_kernels_is_a_serial_cold_run(tmp_path, gateway):
    root = tmp_path / "proj"
    root.mkdir()
    write_files(root, generated_suite())
    cold = plain_pytest("-q", "-p", "no:cacheprovider", f"--junitxml={tmp_path / 'cold.xml'}", cwd=root)
    server = gateway_server(tmp_path, gateway, kernels=2)
    try:
        started(server)
        record = tmp_path / "record"
        record.mkdir()
        warm = server.client("-n", "2", "--", "-q", "-p", "no:cacheprovider", f"--junitxml={tmp_path / 'warm.xml'}",
                             cwd=root, env={"RECORD": str(record), "KERNELS": "2"}, timeout=600)
        text = warm.stdout + warm.stderr
        assert warm.returncode == cold.returncode == 1, text
        assert summary_line(warm.stdout) == summary_line(cold.stdout), text
        cold_outcomes = junit_outcomes(tmp_path / "cold.xml")
        assert len(cold_outcomes) == 12 * 25
        assert junit_outcomes(tmp_path / "warm.xml") == cold_outcomes
        # The failures' tracebacks and output, from whichever kernel ran them.
        failed = [line for line in cold.stdout.splitlines() if line.startswith("FAILED ")]
        assert sorted(line for line in warm.stdout.splitlines() if line.startswith("FAILED ")) == sorted(failed)
        assert "failing output 0/0" in warm.stdout and "RuntimeError: setup of module" in warm.stdout
        # Both kernels ran tests: two test processes' groups, one per kernel.
        assert len(os.listdir(record)) == 2, os.listdir(record)
        assert "sharded over 2 gateway kernels" in server.log.read_text()
        assert sorted(k["runs"] for k in server.status()["gateway_kernels"]) == [1, 1]
        # A run that is not -n still goes to one kernel.
        one = server.run("-q", "-p", "no:cacheprovider", "test_gen_00.py", cwd=root)
        assert one.returncode == 1 and summary_line(one.stdout) == summary_line(
            plain_pytest("-q", "-p", "no:cacheprovider", "test_gen_00.py", cwd=root).stdout)
    finally:
        server.stop()


# Every test passes on the lead's kernel (the server's first:
# gateway_kernels[0]) once one blocks on the helper's (so the lead's workers
# cannot run them all before the helper asks), whose kernel the test then
# kills: run again on the lead's kernel, they pass.
KILLED = {
    "conftest.py": CONFTEST,
    "test_killed.py": WHICH_KERNEL + """
@pytest.mark.parametrize("n", range(43))
def test_blocks_on_the_helper(n):
    if os.path.exists(os.path.join(MARKS, "killed")):
        return
    if on_lead():
        wait_for_mark("helper-blocked")
        return
    block_until_killed("helper-blocked")
""",
}


def run_and_kill_a_kernel(tmp_path, server, root, marks, blocked, before_kill=lambda: None):
    """`-n 2` in root (marks: the tests' MARKS); once a test wrote the pid of
    its kernel into the mark `blocked`, and before_kill() returned, that
    kernel is SIGKILLed. (exit code, stdout, stderr) of the client."""
    started(server)
    lead = server.status()["gateway_kernels"][0]["kernel_id"]
    p = server.popen("-n", "2", "--", "-q", "-p", "no:cacheprovider", f"--junitxml={tmp_path / 'warm.xml'}",
                     cwd=root, env={"MARKS": str(marks), "LEAD_KERNEL": lead},
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert wait_for(lambda: (marks / blocked).exists(), 300), server.log.read_text()
        kernel = int((marks / blocked).read_text())
        before_kill()
        (marks / "killed").touch()
        os.kill(kernel, signal.SIGKILL)
        out, err = p.communicate(timeout=600)
    finally:
        if p.poll() is None:
            p.kill()
    return p.returncode, out.decode(), err.decode()


def test_a_kernel_killed_mid_run_has_its_tests_run_on_another(tmp_path, gateway):
    root, marks = project_with_marks(tmp_path, KILLED)
    server = gateway_server(tmp_path, gateway, kernels=2)
    try:
        code, out, err = run_and_kill_a_kernel(tmp_path, server, root, marks, "helper-blocked")
        text = out + err
        assert code == 0, text + server.log.read_text()
        assert summary_line(out) == "43 passed", text
        assert "unfinished test(s) run again on another kernel" in text, text
        outcomes = junit_outcomes(tmp_path / "warm.xml")
        assert len(outcomes) == 43 and set(outcomes.values()) == {("passed",)}
    finally:
        server.stop()


SLEEPERS = {
    "conftest.py": CONFTEST,
    "test_sleepers.py": """
import os, time, pytest

@pytest.mark.parametrize("n", range(8))
def test_sleeps(n):
    with open(os.path.join(os.environ["MARKS"], f"{os.getpgid(0)}-{os.getpid()}"), "w"):
        pass
    time.sleep(600)
""",
}


def test_ctrl_c_stops_every_kernels_workers(tmp_path, gateway):
    root, marks = project_with_marks(tmp_path, SLEEPERS)
    server = gateway_server(tmp_path, gateway, kernels=2)
    try:
        started(server)
        p = server.popen("-n", "2", "--", "-q", "-p", "no:cacheprovider", cwd=root, env={"MARKS": str(marks)},
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            # A sleeping test in each kernel's worker (two process groups).
            assert wait_for(lambda: len({m.split("-")[0] for m in os.listdir(marks)}) == 2, 300), server.log.read_text()
            p.send_signal(signal.SIGINT)
            out, err = p.communicate(timeout=120)
        finally:
            if p.poll() is None:
                p.kill()
        text = out.decode() + err.decode()
        assert p.returncode == 2, text
        assert "KeyboardInterrupt" in text
        sleepers = [int(m.split("-")[1]) for m in os.listdir(marks)]
        assert wait_for(lambda: not any(alive(pid) for pid in sleepers), 60), sleepers
        # Both kernels serve the next run.
        r = server.client("-n", "2", "--", "-q", "-p", "no:cacheprovider", "-k", "not sleeps", cwd=root)
        assert r.returncode == 5, r.stdout + r.stderr
    finally:
        server.stop()


def test_workers_per_kernel_is_n_autos_workers_on_each_kernel(tmp_path, gateway, monkeypatch):
    root = tmp_path / "proj"
    root.mkdir()
    write_files(root, {
        "pyproject.toml": "[tool.ltest]\nworkers_per_kernel = 1\n",
        "conftest.py": CONFTEST,
        "test_count.py": """
import os, pytest

@pytest.mark.parametrize("n", range(20))
def test_records_its_siblings(n):
    parent = os.getppid()  # its kernel's test process: its children are that kernel's workers
    children = set()
    for task in os.listdir(f"/proc/{parent}/task"):
        with open(f"/proc/{parent}/task/{task}/children") as f:
            children.update(f.read().split())
    with open(os.path.join(os.environ["COUNTS"], f"{os.getpgid(0)}-{len(children)}"), "w"):
        pass
""",
    })
    record, counts = tmp_path / "record", tmp_path / "counts"
    record.mkdir()
    counts.mkdir()
    monkeypatch.chdir(root)  # the server reads this project's [tool.ltest]
    server = gateway_server(tmp_path, gateway, kernels=2)
    try:
        started(server)
        r = server.client("-n", "auto", "--", "-q", "-p", "no:cacheprovider", cwd=root,
                          env={"RECORD": str(record), "KERNELS": "2", "COUNTS": str(counts)})
        assert r.returncode == 0 and summary_line(r.stdout) == "20 passed", r.stdout + r.stderr
        marks = os.listdir(counts)
        assert len({m.split("-")[0] for m in marks}) == 2, marks  # both kernels
        assert {m.split("-")[1] for m in marks} == {"1"}, marks  # one worker each (os.cpu_count() would be more)
    finally:
        server.stop()


# The lead's kernel (the server's first) passes one test, then its tests
# block until the test kills that kernel; the helper's tests wait until the
# lead's kernel blocks. The run goes on: another kernel leads, with the
# first lead's passed test in its report once, and the tests the dead lead
# had run again.
LEAD_KILLED = {
    "conftest.py": CONFTEST,
    "test_lead_killed.py": WHICH_KERNEL + """
@pytest.mark.parametrize("n", range(43))
def test_lead_dies(n):
    open(os.path.join(MARKS, f"ran-{n}-{os.getpid()}-{time.monotonic_ns()}"), "w").close()
    if os.path.exists(os.path.join(MARKS, "killed")):
        return
    if not on_lead():
        wait_for_mark("lead-blocked")
        return
    if claim("lead-passed"):  # the first lead's one report
        with open(os.path.join(MARKS, "lead-passed"), "w") as f:
            f.write(os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0])
        return
    block_until_killed("lead-blocked" if claim("lead-blocking") else None)
""",
}


def lead_finished(server):
    """Tests the sharded run's lead reported to the server, as --status has them."""
    (run,) = server.status()["in_flight"]
    return run["shards"]["finished_by_kernel"].get(str(run["shards"]["lead_kernel"]), 0)


def test_the_leads_kernel_killed_mid_run_another_kernel_takes_the_run_over(tmp_path, gateway):
    root, marks = project_with_marks(tmp_path, LEAD_KILLED)
    server = gateway_server(tmp_path, gateway, kernels=2)

    def reported_one():
        # The server has the report of the test the lead passed (it would run again were it not in).
        assert wait_for(lambda: lead_finished(server) >= 1, 300), server.status()
        shown = server.client("--status")
        shown = shown.stdout + shown.stderr
        assert "sharded: led by gateway kernel 1, " in shown and "finished by kernel 1: " in shown, shown

    try:
        code, out, err = run_and_kill_a_kernel(tmp_path, server, root, marks, "lead-blocked", reported_one)
        text = out + err
        assert code == 0, text + server.log.read_text()
        assert "stopped while it led this run" in err, text
        assert "another kernel takes the run over" in err, text
        assert "unfinished test(s) run again on another kernel" in out, text
        assert summary_line(out) == "43 passed", text
        outcomes = junit_outcomes(tmp_path / "warm.xml")
        assert len(outcomes) == 43 and set(outcomes.values()) == {("passed",)}
        # The test the first lead passed is in the one report (from the server's record), not run again.
        passed_first = (marks / "lead-passed").read_text()
        assert passed_first.startswith("test_lead_killed.py::test_lead_dies["), passed_first
        n = passed_first.split("[")[1].rstrip("]")
        assert len([m for m in os.listdir(marks) if m.startswith(f"ran-{n}-")]) == 1
        assert "gateway kernel 2 leads it now" in server.log.read_text() or \
            "gateway kernel 1 leads it now" in server.log.read_text()
    finally:
        server.stop()


# A plain run holds the first kernel while an `-n` run shards over the two
# others; when it ends, the first kernel joins the sharded run. Each of the
# sharded run's tests waits until test processes on three kernels have run
# one (so the two kernels' workers cannot finish the queue before the third
# joins), bounded for a server that never lets it join.
JOINS = {
    "conftest.py": """
import os, time, pytest

@pytest.fixture(autouse=True)
def _where(request):
    if request.node.name.startswith("test_holds"):
        yield
        return
    record = os.environ["RECORD"]
    open(os.path.join(record, str(os.getpgid(0))), "a").close()
    deadline = time.monotonic() + 600
    while len(os.listdir(record)) < 3:
        assert time.monotonic() < deadline, "no third kernel's test process joined"
        time.sleep(0.02)
    yield
""",
    "test_hold.py": """
import os, time

def test_holds_the_first_kernel():
    open(os.path.join(os.environ["MARKS"], "holding"), "w").close()
    while not os.path.exists(os.path.join(os.environ["MARKS"], "release")):
        time.sleep(0.02)
""",
    "test_sharded.py": """
import pytest

@pytest.mark.parametrize("n", range(60))
def test_sharded(n):
    pass
""",
}


def test_a_kernel_freed_mid_run_joins_it(tmp_path, gateway):
    root, marks = project_with_marks(tmp_path, JOINS)
    record = tmp_path / "record"
    record.mkdir()
    server = gateway_server(tmp_path, gateway, kernels=3)
    try:
        started(server)
        env = {"MARKS": str(marks), "RECORD": str(record)}
        holder = server.popen("--", "-q", "-p", "no:cacheprovider", "test_hold.py", cwd=root, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        sharded = None
        try:
            assert wait_for(lambda: (marks / "holding").exists(), 300), server.log.read_text()
            sharded = server.popen("-n", "2", "--", "-q", "-p", "no:cacheprovider", "test_sharded.py", cwd=root, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            # Both free kernels' test processes run a test: then the first kernel is let go.
            assert wait_for(lambda: len(os.listdir(record)) == 2, 300), server.log.read_text()
            (marks / "release").touch()
            out, err = sharded.communicate(timeout=600)
            held_out, held_err = holder.communicate(timeout=120)
        finally:
            for p in (holder, sharded):
                if p is not None and p.poll() is None:
                    p.kill()
        assert holder.returncode == 0, held_out.decode() + held_err.decode()
        text = out.decode() + err.decode()
        assert sharded.returncode == 0 and summary_line(out.decode()) == "60 passed", text + server.log.read_text()
        assert len(os.listdir(record)) == 3  # three kernels' test processes
        log = server.log.read_text()
        assert "sharded over 2 gateway kernels" in log and "gateway kernel 1 joins" in log, log
    finally:
        server.stop()
