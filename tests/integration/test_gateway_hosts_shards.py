"""`ltest -n auto` over three hosts: network namespaces with their own sshd
and host name, whose kernels Enterprise Gateway's distributed process proxy
starts over ssh (gateway_hosts.py), one ltest server with
`--gateway-kernels 3`. A generated suite of 1,000 tests and
scipy.sparse.csgraph's test package (Debian's python3-scipy, as
bench/real_suite runs it) give the exit code, summary line and per-test
--junitxml outcomes of a serial cold `python -m pytest`, and every host's
kernel ran some of the tests: each test process writes the host name it
sees into a mark (shard_suites.CONFTEST; the namespaces share the
filesystem), and waits until every kernel's has, so the first kernel's
workers cannot take everything before the others ask.

The hosts' kernels and the cold runs are Debian's python3 on either stack
(EG's launcher needs Cryptodome, which the newest stack lacks, and scipy is
Debian's): what the newest stack changes here is the harness and the
client's side.
"""
import os
import signal
import subprocess

import pytest

from conftest import Server, summary_line, wait_for, write_files
from gateway_hosts import Gateway, started_gateway, started_hosts
from shard_suites import CONFTEST, WHICH_KERNEL, generated_suite, junit_outcomes

KERNEL_PYTHON = "/usr/bin/python3"
HOSTS = 3
HOST_NAMES = {f"ltest-h{i}" for i in range(1, HOSTS + 1)}
# Far above what a run takes on a loaded machine; reached only by a hang.
RUN_TIMEOUT = 600


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return tmp_path_factory.mktemp("hostshards")


@pytest.fixture(scope="module")
def hosts(base):
    # Each host its own name (a UTS namespace): what a test sees of where it runs.
    with started_hosts(base / "hosts", count=HOSTS, host_setup=lambda host: f"hostname ltest-{host.name}") as made:
        yield made


@pytest.fixture(scope="module")
def gateway(base, hosts):
    with started_gateway(base / "gateway", hosts, kernel_python=KERNEL_PYTHON) as made:
        yield made


@pytest.fixture(scope="module")
def server(base, gateway):
    """One server, its three kernels one on each host (EG's round robin)."""
    made = Server(base, extra_env={"LTEST_GATEWAY_TOKEN": gateway.token},
                  args=("--gateway", gateway.url, "--gateway-kernels", str(HOSTS), "--kernel", Gateway.KERNEL_NAME))
    try:
        made.start(timeout=600)
        assert made.proc.poll() is None, made.log.read_text()
        kernels = made.status()["gateway_kernels"]
        assert sorted(k["host"] for k in kernels) == sorted(HOST_NAMES), kernels
        assert all(k["state"] == "warm" for k in kernels), kernels
        yield made
    finally:
        made.stop()


def cold(*args, cwd, env):
    """Serial cold pytest on the kernels' interpreter."""
    return subprocess.run([KERNEL_PYTHON, "-m", "pytest", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=RUN_TIMEOUT)


def sharded(server, tmp_path, *args, cwd, env=None):
    """`ltest -n auto -- ARGS` once every kernel is free (the last run's
    helpers answered), its test processes marking their hosts in a new
    directory; (the result, {process group: host name})."""
    assert wait_for(lambda: not server.status()["in_flight"], 120), server.status()["in_flight"]
    record = tmp_path / "record"
    record.mkdir()
    sharded_before = server.log.read_text().count(f"sharded over {HOSTS} gateway kernels")
    try:
        r = server.client("-n", "auto", "--", *args, cwd=cwd,
                          env=dict(env or {}, RECORD=str(record), KERNELS=str(HOSTS)), timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        # A host whose kernel never gets a test holds the others at their first (the marks say which).
        pytest.fail(f"the sharded run did not end in {RUN_TIMEOUT} s; hosts marked: "
                    f"{ {g: (record / g).read_text() for g in os.listdir(record)} }; "
                    f"server log:\n{server.log.read_text()[-5000:]}", pytrace=False)
    log = server.log.read_text()
    assert log.count(f"sharded over {HOSTS} gateway kernels") == sharded_before + 1, r.stdout + r.stderr + log
    return r, {group: (record / group).read_text() for group in os.listdir(record)}


def assert_same_run(warm, cold_run, warm_xml, cold_xml):
    text = warm.stdout + warm.stderr
    assert warm.returncode == cold_run.returncode, text + cold_run.stdout
    assert summary_line(warm.stdout) == summary_line(cold_run.stdout), text + cold_run.stdout
    outcomes = junit_outcomes(cold_xml)
    assert junit_outcomes(warm_xml) == outcomes
    return outcomes


def test_a_thousand_tests_over_three_hosts_are_a_serial_cold_run(tmp_path, server):
    root = write_files(tmp_path / "proj", generated_suite(modules=40, per_module=25))
    args = ("-q", "-p", "no:cacheprovider")
    c = cold(*args, f"--junitxml={tmp_path / 'cold.xml'}", cwd=root, env=server.env)
    w, marks = sharded(server, tmp_path, *args, f"--junitxml={tmp_path / 'warm.xml'}", cwd=root)
    assert c.returncode == 1, c.stdout[-3000:] + c.stderr
    outcomes = assert_same_run(w, c, tmp_path / "warm.xml", tmp_path / "cold.xml")
    assert len(outcomes) == 40 * 25
    assert set(outcomes.values()) == {("passed",), ("failure",), ("skipped",), ("error",)}
    # The failures' lines, tracebacks and output, from whichever host ran them.
    assert sorted(l for l in w.stdout.splitlines() if l.startswith(("FAILED ", "ERROR "))) == \
        sorted(l for l in c.stdout.splitlines() if l.startswith(("FAILED ", "ERROR ")))
    assert "failing output 39/" in w.stdout and "RuntimeError: setup of module 39 fails" in w.stdout
    # One test process per kernel ran tests, one on each host.
    assert len(marks) == HOSTS and set(marks.values()) == HOST_NAMES, marks


def csgraph_tests():
    """scipy.sparse.csgraph's test package as Debian's python3-scipy ships it."""
    r = subprocess.run([KERNEL_PYTHON, "-c", "import os, scipy.sparse.csgraph as g; "
                                             "print(os.path.join(os.path.dirname(g.__file__), 'tests'))"],
                       capture_output=True, text=True)
    assert r.returncode == 0, f"{KERNEL_PYTHON} has no scipy (python3-scipy): {r.stderr}"
    return r.stdout.strip()


def test_scipy_csgraphs_test_package_over_three_hosts_is_a_serial_cold_run(tmp_path, server):
    tests = csgraph_tests()
    # An empty project directory (as bench/real_suite's): the package's own
    # rootdir and conftest files, the same in both runs. The marks are a
    # plugin both runs load (it does nothing without RECORD, which only the
    # sharded run has); the suite's files are as shipped.
    project = tmp_path / "proj"
    project.mkdir()
    write_files(tmp_path / "plugin", {"ltest_host_marks.py": CONFTEST})
    env = {"PYTHONPATH": str(tmp_path / "plugin")}
    args = ("-q", "-p", "no:cacheprovider", "-p", "ltest_host_marks", tests)
    c = cold(*args, f"--junitxml={tmp_path / 'cold.xml'}", cwd=project, env=dict(server.env, **env))
    w, marks = sharded(server, tmp_path, *args, f"--junitxml={tmp_path / 'warm.xml'}", cwd=project, env=env)
    assert c.returncode == 0, c.stdout[-3000:] + c.stderr
    outcomes = assert_same_run(w, c, tmp_path / "warm.xml", tmp_path / "cold.xml")
    assert len(outcomes) > 500, len(outcomes)
    assert len(marks) == HOSTS and set(marks.values()) == HOST_NAMES, marks


# The first test a helper's kernel runs blocks until that kernel is killed;
# every other test waits for it first (so the lead's workers cannot take
# them all), then all pass. Last in the file: the server restarts the
# killed kernel, and a later sharded run would wait for it.
ONE_HOST_DIES = {
    "test_one_host_dies.py": WHICH_KERNEL + """
@pytest.mark.parametrize("n", range(60))
def test_one_host_dies(n):
    if os.path.exists(os.path.join(MARKS, "killed")):
        return
    if on_lead() or not claim("blocking"):
        wait_for_mark("blocked")
        return
    block_until_killed("blocked")
""",
}


def test_a_hosts_kernel_killed_mid_run_has_its_tests_run_on_the_others(tmp_path, server):
    root = write_files(tmp_path / "proj", ONE_HOST_DIES)
    marks = tmp_path / "marks"
    marks.mkdir()
    assert wait_for(lambda: not server.status()["in_flight"], 120), server.status()["in_flight"]
    kernels = server.status()["gateway_kernels"]
    p = server.popen("-n", "auto", "--", "-q", "-p", "no:cacheprovider", f"--junitxml={tmp_path / 'warm.xml'}",
                     cwd=root, env={"MARKS": str(marks), "LEAD_KERNEL": kernels[0]["kernel_id"]},
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert wait_for(lambda: (marks / "blocked").exists(), RUN_TIMEOUT), server.log.read_text()[-5000:]
        kernel = int((marks / "blocked").read_text())
        with open(f"/proc/{kernel}/cmdline", "rb") as f:
            cmdline = f.read()
        (killed,) = [k for k in kernels if k["kernel_id"].encode() in cmdline]
        (marks / "killed").touch()
        os.kill(kernel, signal.SIGKILL)
        out, err = p.communicate(timeout=RUN_TIMEOUT)
    finally:
        if p.poll() is None:
            p.kill()
    text = out.decode() + err.decode()
    assert p.returncode == 0 and summary_line(out.decode()) == "60 passed", text + server.log.read_text()[-5000:]
    assert killed["host"] != kernels[0]["host"]  # a helper's host
    assert f"on {killed['host']} stopped before its tests were done" in text, text
    assert "unfinished test(s) run again on another kernel" in text, text
    outcomes = junit_outcomes(tmp_path / "warm.xml")
    assert len(outcomes) == 60 and set(outcomes.values()) == {("passed",)}
