"""The same code everywhere: a gateway kernel on a host whose copy of the
project tree differs from the client's is brought up to date before it runs
anything ([tool.ltest] gateway_sync = "send", the default), or the run is
refused with one line naming the host and the first differing file
("refuse"); a path that would lead out of the project root is refused.

The host is a network namespace with its own sshd under Enterprise
Gateway's distributed process proxy (gateway_hosts.py), with a UTS namespace
of its own (its host name is ltest-h1) and a tmpfs over the project's
directory: the same absolute path holds another tree there, as on a host
with a checkout of its own. What the host holds is read over ssh, in its
namespaces."""
import json
import secrets
import shlex
import subprocess

import pytest

from conftest import Server, summary_line, wait_for, write_files
from gateway_hosts import Gateway, started_gateway, started_hosts

HOST_NAME = "ltest-h1"

CLIENT = {
    "pyproject.toml": "[tool.pytest.ini_options]\n",
    "pkg/__init__.py": "",
    "pkg/mod.py": "VALUE = 2\n",
    "tests/test_value.py": "from pkg import mod\n\n\ndef test_value():\n    assert mod.VALUE == 2\n",
}
# The host's stale copy: older code, and a test the client deleted since.
STALE = {
    "pyproject.toml": "[tool.pytest.ini_options]\n",
    "pkg/__init__.py": "",
    "pkg/mod.py": "VALUE = 1\n",
    "tests/test_value.py": "from pkg import mod\n\n\ndef test_value():\n    assert mod.VALUE == 1\n",
    "tests/test_deleted.py": "def test_deleted():\n    assert False, 'a test the client no longer has'\n",
}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return tmp_path_factory.mktemp("treesync")


@pytest.fixture(scope="module")
def project(base):
    root = base / "proj"
    root.mkdir()
    return root


@pytest.fixture(scope="module")
def hosts(base, project):
    with started_hosts(base / "hosts", count=1, host_setup=lambda host: (
            f"hostname {HOST_NAME} && mount -t tmpfs ltest-tree {shlex.quote(str(project))}")) as made:
        yield made


@pytest.fixture(scope="module")
def gateway(base, hosts):
    with started_gateway(base / "gateway", hosts, kernel_python="/usr/bin/python3") as made:
        yield made


def on_host(hosts, command):
    result = hosts.ssh(hosts.hosts[0], command)
    assert result.returncode == 0, f"on the host: {command}: {result.stderr}"
    return result.stdout


def host_tree(hosts, project):
    """{relative path: text} of the host's copy of the project (no caches)."""
    code = ("import json, os, sys; r = sys.argv[1]; print(json.dumps({os.path.relpath(os.path.join(d, f), r): "
            "open(os.path.join(d, f)).read() for d, ds, fs in os.walk(r) "
            "if not any((p.startswith('.') and p != '.') or p == '__pycache__' for p in os.path.relpath(d, r).split(os.sep)) "
            "for f in fs}))")
    return json.loads(on_host(hosts, f"python3 -c {shlex.quote(code)} {shlex.quote(str(project))}"))


@pytest.fixture
def trees(base, hosts, project):
    """The client's tree as CLIENT, the host's as STALE (written on the host,
    over ssh: its tmpfs is not this machine's directory)."""
    for path in sorted(project.rglob("*"), reverse=True):
        path.unlink() if path.is_file() or path.is_symlink() else path.rmdir()
    write_files(project, CLIENT)
    stage = base / "stale"
    subprocess.run(["rm", "-rf", str(stage)], check=True)
    stage.mkdir()
    write_files(stage, STALE)
    on_host(hosts, f"find {shlex.quote(str(project))} -mindepth 1 -delete && cp -a {shlex.quote(str(stage))}/. "
                   f"{shlex.quote(str(project))}/")
    assert host_tree(hosts, project)["pkg/mod.py"] == "VALUE = 1\n"
    assert on_host(hosts, "hostname").strip() == HOST_NAME
    return project


def server_for(tmp_path, gateway, project, sync=None):
    """An ltest server started in the project (it reads [tool.ltest] there)."""
    if sync:
        (project / "pyproject.toml").write_text(f'[tool.pytest.ini_options]\n\n[tool.ltest]\ngateway_sync = "{sync}"\n')
    server = Server(tmp_path, extra_env={"LTEST_GATEWAY_TOKEN": gateway.token},
                    args=("--gateway", gateway.url, "--kernel", Gateway.KERNEL_NAME))
    server.cmd = ["env", "-C", str(project), *server.cmd]
    return server


def test_a_host_whose_tree_differs_gets_the_clients_files_and_runs_the_clients_code(tmp_path, gateway, hosts, trees):
    server = server_for(tmp_path, gateway, trees)
    try:
        server.start(timeout=300)
        assert server.proc.poll() is None, server.log.read_text()
        r = server.run("-q", cwd=trees, timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr + server.log.read_text()
        assert "1 passed" in r.stdout and "test_deleted" not in r.stdout
        on_host_now = host_tree(hosts, trees)
        assert "ltest keeps" in on_host_now.pop(".ltest-tree-copy")  # the copy is ltest's now
        assert on_host_now == CLIENT  # changed files written, the deleted test deleted
        assert f"on {HOST_NAME} up to date: 2 files sent, 1 deleted" in server.log.read_text()

        # A one-file edit: that file alone is sent, the next run tests it.
        (trees / "pkg" / "mod.py").write_text("VALUE = 3\n")
        (trees / "tests" / "test_value.py").write_text(CLIENT["tests/test_value.py"].replace("2", "3"))
        r = server.run("-q", cwd=trees, timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr + server.log.read_text()
        assert host_tree(hosts, trees)["pkg/mod.py"] == "VALUE = 3\n"
        assert f"on {HOST_NAME} up to date: 2 files sent, 0 deleted" in server.log.read_text()

        # An unchanged tree: nothing asked of the kernel, the run passes.
        r = server.run("-q", cwd=trees, timeout=300)
        assert r.returncode == 0 and "1 passed" in r.stdout, r.stdout + r.stderr
        assert server.log.read_text().count("up to date:") == 2
    finally:
        server.stop()


def refused_run(server, trees):
    """Starts the server and runs in trees: a refusal, exit 78 and one line on stderr."""
    server.start(timeout=300)
    assert server.proc.poll() is None, server.log.read_text()
    r = server.run("-q", cwd=trees, timeout=300)
    assert r.returncode == 78, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    return r, lines


def test_refuse_is_one_line_naming_the_host_and_the_first_differing_file(tmp_path, gateway, hosts, trees):
    server = server_for(tmp_path, gateway, trees, sync="refuse")
    try:
        r, lines = refused_run(server, trees)
        # pkg/mod.py, tests/test_value.py, pyproject.toml (its [tool.ltest]
        # table) differ, tests/test_deleted.py is the host's alone.
        assert lines[0] == (f"ltest: the project tree of the kernel on {HOST_NAME} ({trees}) differs from this one: "
                            'first differing file pkg/mod.py (4 files differ; [tool.ltest] gateway_sync = "send" '
                            'sends them)'), lines[0]
        assert 'gateway_sync = "send"' in lines[0]
        assert r.stdout == ""
        assert host_tree(hosts, trees)["pkg/mod.py"] == "VALUE = 1\n"  # nothing written
    finally:
        server.stop()


def test_a_symlink_leading_out_of_the_root_on_the_host_is_refused(tmp_path, base, gateway, hosts, trees):
    outside = base / "outside"
    outside.mkdir(exist_ok=True)
    on_host(hosts, f"rm -rf {shlex.quote(str(trees))}/pkg && ln -s {shlex.quote(str(outside))} "
                   f"{shlex.quote(str(trees))}/pkg")
    server = server_for(tmp_path, gateway, trees)
    try:
        _, lines = refused_run(server, trees)
        assert f"{HOST_NAME}: refusing to write 'pkg/__init__.py'" in lines[0]
        assert "a symlink on the way leads out of the project root" in lines[0]
        assert list(outside.iterdir()) == []
    finally:
        server.stop()


def test_a_kernel_that_keeps_the_tree_elsewhere_gets_it_there_and_runs_there(tmp_path):
    """LTEST_TREE_ROOT in the kernel's environment (its kernelspec's env):
    the copy is made there, the run's directory is the same place in it.
    EG's local process proxy: the host is this machine, the tree elsewhere."""
    from gateway_helpers import KERNELSPEC, Gateway as LocalGateway
    project, elsewhere = tmp_path / "proj", tmp_path / "kernel-side" / "copy"
    write_files(project, dict(CLIENT, **{"tests/test_where.py": "import os\n\n\ndef test_where():\n"
                                                                 "    print('cwd:', os.getcwd())\n"}))
    gateway = LocalGateway(tmp_path, token=secrets.token_hex(16))
    spec = json.loads(gateway.spec_file.read_text())
    spec["env"] = {"LTEST_TREE_ROOT": str(elsewhere)}
    gateway.spec_file.write_text(json.dumps(spec))
    server = None
    try:
        gateway.start()
        server = Server(tmp_path, extra_env={"LTEST_GATEWAY_TOKEN": gateway.token},
                        args=("--gateway", gateway.url, "--kernel", KERNELSPEC))
        server.cmd = ["env", "-C", str(project), *server.cmd]
        server.start(timeout=300)
        assert server.proc.poll() is None, server.log.read_text()
        r = server.run("-q", "-s", "test_where.py", cwd=project / "tests", timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr + server.log.read_text()
        assert "1 passed" in r.stdout and f"cwd: {elsewhere / 'tests'}" in r.stdout, r.stdout
        assert (elsewhere / "pkg" / "mod.py").read_text() == CLIENT["pkg/mod.py"]
        assert sorted(str(p.relative_to(elsewhere)) for p in elsewhere.rglob("*.py")) == \
            sorted(str(p.relative_to(project)) for p in project.rglob("*.py"))
    finally:
        if server is not None:
            server.stop()
        gateway.stop()


def start_cell(gateway, kernel_id, code):
    """Sends an execute request to a gateway kernel over the gateway's
    websocket, as a notebook sharing the kernel does, and returns once the
    kernel is busy with it; the connection lives on in a thread of its own
    until the cell ends."""
    import asyncio
    import threading
    from gateway_helpers import send_execute

    busy = threading.Event()

    async def converse():
        connection, msg_id = await send_execute(gateway, kernel_id, code)
        while True:
            raw = await connection.read_message()
            if raw is None:
                return
            message = json.loads(raw)
            if message.get("parent_header", {}).get("msg_id") != msg_id or message["header"]["msg_type"] != "status":
                continue
            if message["content"]["execution_state"] == "busy":
                busy.set()
            else:
                connection.close()
                return

    thread = threading.Thread(target=lambda: asyncio.run(converse()), daemon=True)
    thread.start()
    assert busy.wait(300), "the kernel never started the cell"
    return thread


def test_a_sync_waiting_on_its_kernel_holds_up_no_other_run(tmp_path):
    """A kernel's tree sync runs on a thread that owns the kernel meanwhile:
    held behind a notebook's cell on the first kernel (the gateway's local
    process proxy: the same files, but a new kernel's tree is compared
    there), the run waits as `syncing`, while --status answers and a run on
    the second kernel completes; when the cell ends, the first run does."""
    from gateway_helpers import KERNELSPEC, running_gateway
    project, gate = tmp_path / "proj", tmp_path / "gate"
    write_files(project, CLIENT)
    with running_gateway(tmp_path) as gateway:
        server = Server(tmp_path, extra_env={"LTEST_GATEWAY_TOKEN": gateway.token},
                        args=("--gateway", gateway.url, "--gateway-kernels", "2", "--kernel", KERNELSPEC))
        held = None
        try:
            server.start(timeout=300)
            assert server.proc.poll() is None, server.log.read_text()
            first = server.status()["gateway_kernels"][0]["kernel_id"]
            cell = start_cell(gateway, first, f"import os, time\nwhile not os.path.exists({str(gate)!r}):\n"
                                              "    time.sleep(0.02)\n")
            held = server.popen("--", "-q", cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

            def phases():
                return [r["phase"] for r in server.status()["in_flight"]]

            assert wait_for(lambda: phases() == ["syncing"], 300), server.status()
            assert server.status()["gateway_kernels"][0]["state"] == "syncing"
            other = server.run("-q", cwd=project, timeout=300)
            assert other.returncode == 0 and summary_line(other.stdout) == "1 passed", other.stdout + other.stderr
            assert phases() == ["syncing"]  # the cell still runs: the first run never was in the way
            gate.touch()
            out, err = held.communicate(timeout=300)
            assert held.returncode == 0 and summary_line(out.decode()) == "1 passed", out.decode() + err.decode()
            cell.join(300)
        finally:
            gate.touch()
            if held is not None and held.poll() is None:
                held.kill()
            server.stop()
