"""Enterprise Gateway's distributed process proxy starts kernels over ssh on
network-namespace hosts (gateway_hosts.py), and each kernel runs in its own
host's network namespace; a bad token is refused; everything is torn down.

The client side here is plain HTTP (urllib) and tornado's websocket (a
dependency of ipykernel, so on every stack the harness runs on), speaking the
Jupyter messaging protocol over EG's /channels websocket."""
import asyncio
import json
import os
import subprocess
import urllib.error
import urllib.request

import pytest

from gateway_helpers import send_execute
from gateway_hosts import EVENT_TIMEOUT, Gateway, process_gone, started_gateway, started_hosts, wait_gone


@pytest.fixture
def hosts(tmp_path):
    with started_hosts(tmp_path / "hosts", count=3) as made:
        yield made


# The hosts' kernels run on EG's virtualenv (ipykernel 6.29, what EG 3.3
# resolves with), or on Debian's python (ipykernel 6.17 and pytest 7.2: the
# stack ltest's runtime is tested on; tools/deps installs the launcher's
# Cryptodome for it, python3-pycryptodome).
@pytest.fixture(params=["eg-venv", "debian"])
def gateway(request, tmp_path, hosts):
    kernel_python = "/usr/bin/python3" if request.param == "debian" else None
    with started_gateway(tmp_path / "gateway", hosts, kernel_python=kernel_python) as made:
        yield made


def rest(gateway, method, path, body=None, token=None):
    """(status, parsed JSON body or text) of one REST call."""
    request = urllib.request.Request(
        gateway.url + path, method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"token {gateway.token if token is None else token}",
                 "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=EVENT_TIMEOUT) as response:
            text = response.read().decode()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


async def execute(gateway, kernel_id, code):
    """Runs `code` in the kernel over the websocket; returns its stdout, and
    fails with the traceback when it raises."""
    connection, msg_id = await send_execute(gateway, kernel_id, code)
    stdout, reply, idle = [], None, False
    while reply is None or not idle:
        raw = await connection.read_message()
        assert raw is not None, f"kernel {kernel_id}: websocket closed before the reply"
        message = json.loads(raw)
        if message.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind = message["header"]["msg_type"]
        if kind == "stream" and message["content"]["name"] == "stdout":
            stdout.append(message["content"]["text"])
        elif kind == "execute_reply":
            reply = message["content"]
        elif kind == "status" and message["content"]["execution_state"] == "idle":
            idle = True
    connection.close()
    assert reply["status"] == "ok", f"kernel {kernel_id}: {reply}"
    return "".join(stdout)


# What a kernel reports of where it runs: the address it reaches the bridge
# from, its network namespace and its pid (a real process on this machine).
WHERE = """\
import json, os, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(({gateway_ip!r}, 9))
print(json.dumps({{"address": s.getsockname()[0], "netns": os.readlink("/proc/self/ns/net"),
                  "pid": os.getpid(), "python": sys.executable}}))
"""


def netns_id(name):
    """The namespace `ip netns add NAME` made, as /proc/PID/ns/net names it."""
    return f"net:[{os.stat(f'/run/netns/{name}').st_ino}]"


def test_kernels_run_on_their_namespace_hosts(hosts, gateway):
    # The hosts are real ssh hosts, each with its own address and namespace.
    for host in hosts.hosts:
        result = hosts.ssh(host, "readlink /proc/self/ns/net")
        assert result.returncode == 0, f"ssh to {host}: {result.stderr}"
        assert result.stdout.strip() == netns_id(host.netns)

    # A request without the gateway's token is refused.
    status, _ = rest(gateway, "GET", "/api/kernels", token="not-the-token")
    assert status in (401, 403)
    status, _ = rest(gateway, "POST", "/api/kernels", {"name": Gateway.KERNEL_NAME}, token="")
    assert status in (401, 403)
    status, kernels = rest(gateway, "GET", "/api/kernels")
    assert (status, kernels) == (200, [])

    # One kernel on each host (KERNEL_REMOTE_HOST picks it), each running in
    # that host's namespace, not in the gateway's.
    started = {}
    for host in hosts.hosts:
        status, kernel = rest(gateway, "POST", "/api/kernels",
                              {"name": Gateway.KERNEL_NAME, "env": {"KERNEL_REMOTE_HOST": host.address}})
        assert status == 201, f"starting a kernel on {host}: {status} {kernel}\n" \
                              + gateway.log.read_text()[-3000:]
        started[host.name] = kernel["id"]
    reports = {}
    for host in hosts.hosts:
        out = asyncio.run(execute(gateway, started[host.name], WHERE.format(gateway_ip=hosts.gateway_ip)))
        reports[host.name] = report = json.loads(out)
        assert report["address"] == host.address
        assert report["netns"] == netns_id(host.netns)
        assert report["python"] == gateway.kernel_python
    own = os.readlink("/proc/self/ns/net")
    assert len({r["netns"] for r in reports.values()} | {own}) == len(hosts.hosts) + 1

    # EG shuts a kernel down over ssh: its process goes.
    status, _ = rest(gateway, "DELETE", f"/api/kernels/{started['h1']}")
    assert status == 204
    pid = reports["h1"]["pid"]
    assert wait_gone(pid), f"kernel pid {pid} still runs after DELETE"

    # Teardown (the fixtures' own, run here to check it) leaves nothing behind:
    # no kernel, no sshd, no namespace, no link.
    gateway.stop()
    sshd_pids = [h.sshd.pid for h in hosts.hosts]
    netns_names = [h.netns for h in hosts.hosts]
    assert hosts.stop() == []
    for p in sshd_pids + [reports[n]["pid"] for n in ("h2", "h3")]:
        assert process_gone(p), f"pid {p} outlived the teardown"
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not any(name in listed for name in netns_names)
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert f"lt{hosts.tag}" not in links and f"ltbr{hosts.tag}" not in links
