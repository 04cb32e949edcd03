"""`ltest -n` on a server with several kernels from a real Jupyter
Enterprise Gateway (its local process proxy, gateway_helpers.py): the
client's run collects, every kernel's workers take tests from the server in
small batches, and the client gets one report with the outcomes, summary
and exit code of a serial cold run; a kernel killed mid-run has its
unfinished tests run on another; Ctrl-C stops every kernel's workers.
"""
import json
import os
import signal
import subprocess

import pytest

from conftest import Server, alive, plain_pytest, read_until, summary_line, wait_for, write_files
from gateway_helpers import KERNELSPEC, running_gateway
from shard_suites import CONFTEST, generated_suite, junit_outcomes

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
    "test_killed.py": """
import os, time, pytest

MARKS = os.environ["MARKS"]
LEAD = os.environ["LEAD_KERNEL"]

def kernel_pid():
    with open(f"/proc/{os.getppid()}/stat") as f:  # the worker's parent: its kernel's test process
        return int(f.read().rsplit(")", 1)[1].split()[1])

def on_lead():
    with open(f"/proc/{kernel_pid()}/cmdline", "rb") as f:
        return LEAD.encode() in f.read()

@pytest.mark.parametrize("n", range(43))
def test_blocks_on_the_helper(n):
    if os.path.exists(os.path.join(MARKS, "killed")):
        return
    if on_lead():
        while not os.path.exists(os.path.join(MARKS, "helper-blocked")):
            time.sleep(0.02)
        return
    parent = os.getppid()
    tmp = os.path.join(MARKS, f"blocked-{os.getpid()}")
    with open(tmp, "w") as f:
        f.write(str(kernel_pid()))
    os.rename(tmp, os.path.join(MARKS, "helper-blocked"))
    while os.getppid() == parent:  # until its kernel (and so its test process) is killed
        time.sleep(0.02)
    os._exit(1)
""",
}


def test_a_kernel_killed_mid_run_has_its_tests_run_on_another(tmp_path, gateway):
    root, marks = project_with_marks(tmp_path, KILLED)
    server = gateway_server(tmp_path, gateway, kernels=2)
    try:
        started(server)
        lead = server.status()["gateway_kernels"][0]["kernel_id"]
        p = server.popen("-n", "2", "--", "-q", "-p", "no:cacheprovider", f"--junitxml={tmp_path / 'warm.xml'}",
                         cwd=root, env={"MARKS": str(marks), "LEAD_KERNEL": lead},
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert wait_for(lambda: (marks / "helper-blocked").exists(), 300), server.log.read_text()
            helper_kernel = int((marks / "helper-blocked").read_text())
            (marks / "killed").touch()
            os.kill(helper_kernel, signal.SIGKILL)
            out, err = p.communicate(timeout=600)
        finally:
            if p.poll() is None:
                p.kill()
        text = out.decode() + err.decode()
        assert p.returncode == 0, text + server.log.read_text()
        assert summary_line(out.decode()) == "43 passed", text
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
