"""A kernel on "another host": an ipykernel in its own network namespace,
reached only over TCP through a veth pair (see docs/remote.md).

The namespace stands in for a remote machine: its own interfaces, its own
addresses, no route anywhere but the other end of the veth. The filesystem is
shared between the two sides, which is the "shared checkout" setup of
docs/remote.md: the client's directory exists, at the same path, on the
kernel's host.

The two veth ends get the two usable addresses of a /30 taken from the
documentation ranges (TEST-NET-2 198.51.100.0/24, TEST-NET-3 203.0.113.0/24),
chosen so that it overlaps no address or route this machine already has (some
machines use TEST-NET-1 192.0.2.0/24 for their real uplink). IPv6 is off on
both ends, the namespace has no default route: every packet of this test goes
between those two addresses.

The tests are skipped only when `ip netns add` is not permitted (no
CAP_SYS_ADMIN); any other failure to set the namespace up is a failure. The
two tests give the kernel's host a filesystem view of its own (a tmpfs
mounted in the kernel's mount namespace): a client directory missing there is
one clear line, and the kernel's host needs no copy of ltest (the server
sends the runtime as source).
"""
import fcntl
import ipaddress
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from jupyter_client import BlockingKernelClient

from conftest import PYTHON, Server, summary_line, write_files

IP = shutil.which("ip") or "/usr/sbin/ip"
CANDIDATE_RANGES = [ipaddress.ip_network("198.51.100.0/24"), ipaddress.ip_network("203.0.113.0/24")]
LOCK_FILE = Path("/run/lock" if Path("/run/lock").is_dir() else "/tmp") / "ltest-netns-test.lock"


def ip(*args, check=True):
    r = subprocess.run([IP, *args], capture_output=True, text=True, timeout=30)
    if check and r.returncode != 0:
        raise AssertionError(f"ip {' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")
    return r


def networks_in_use():
    """Every IPv4 network this machine (default namespace) has an address or a route in."""
    used = []
    for args in (("-o", "-4", "addr", "show"), ("-4", "route", "show", "table", "all")):
        for line in ip(*args).stdout.splitlines():
            for token in line.split():
                if token == "default":
                    break  # 0.0.0.0/0 overlaps everything; it is not an address we could clash with
                try:
                    used.append(ipaddress.ip_network(token, strict=False))
                except ValueError:
                    continue
    return used


def pick_subnet():
    """A /30 of a documentation range that overlaps nothing in use here (call with LOCK_FILE held)."""
    used = networks_in_use()
    candidates = [net for rng in CANDIDATE_RANGES for net in rng.subnets(new_prefix=30)]
    random.shuffle(candidates)
    for net in candidates:
        if not any(net.overlaps(u) for u in used):
            return net
    raise AssertionError(f"no free /30 in {CANDIDATE_RANGES} (in use: {used})")


def net_ns_inode(pid="self"):
    return os.stat(f"/proc/{pid}/ns/net").st_ino


def pids_in_net_ns(inode):
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            if os.stat(d / "ns" / "net").st_ino == inode:
                out.append(int(d.name))
        except OSError:
            continue
    return out


def disable_ipv6(dev, ns=None):
    """No IPv6 on a veth end (no link-local address, no DAD, no router solicitations)."""
    path = f"/proc/sys/net/ipv6/conf/{dev}/disable_ipv6"
    cmd = ["/bin/sh", "-c", f"test ! -e {path} || echo 1 > {path}"]
    if ns:
        cmd = [IP, "netns", "exec", ns, *cmd]
    if subprocess.run(cmd, capture_output=True, timeout=30).returncode != 0:
        ip(*(["-n", ns] if ns else []), "link", "set", "dev", dev, "addrgenmode", "none")


class Host:
    """The "remote host": a network namespace joined to us by a veth pair."""

    def __init__(self):
        tag = secrets.token_hex(4)
        self.ns = f"ltest-{tag}"
        self.local_dev = f"ltv{tag}a"   # default namespace end (15 characters at most)
        self.remote_dev = f"ltv{tag}b"  # namespace end
        self.ns_created = False
        self.link_created = False
        self.inode = None

    def create(self):
        r = ip("netns", "add", self.ns, check=False)
        if r.returncode != 0:
            err = r.stderr.strip()
            if "not permitted" in err or "Permission denied" in err:
                pytest.skip(f"ip netns add {self.ns}: {err}")
            raise AssertionError(f"ip netns add {self.ns} failed ({r.returncode}): {err}")
        self.ns_created = True
        self.inode = os.stat(f"/run/netns/{self.ns}").st_ino
        with open(LOCK_FILE, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another run of this test picks its /30 after ours is in place
            self.subnet = pick_subnet()
            hosts = list(self.subnet.hosts())
            self.local_ip, self.remote_ip = str(hosts[0]), str(hosts[1])
            ip("link", "add", self.local_dev, "type", "veth", "peer", "name", self.remote_dev, "netns", self.ns)
            self.link_created = True
            disable_ipv6(self.local_dev)
            disable_ipv6(self.remote_dev, self.ns)
            prefix = self.subnet.prefixlen
            ip("addr", "add", f"{self.local_ip}/{prefix}", "dev", self.local_dev)
            ip("-n", self.ns, "addr", "add", f"{self.remote_ip}/{prefix}", "dev", self.remote_dev)
            ip("-n", self.ns, "link", "set", "lo", "up")
            ip("-n", self.ns, "link", "set", self.remote_dev, "up")
            ip("link", "set", self.local_dev, "up")
        return self

    def destroy(self):
        errors = []
        if self.inode is not None:
            # Whatever still runs on the "host" (the kernel, a forked test process) goes with it.
            for pid in pids_in_net_ns(self.inode):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self.link_created:
            r = ip("link", "del", self.local_dev, check=False)  # takes the peer with it
            if r.returncode != 0 and "Cannot find device" not in r.stderr:
                errors.append(r.stderr.strip())
        if self.ns_created:
            r = ip("netns", "del", self.ns, check=False)
            if r.returncode != 0:
                errors.append(r.stderr.strip())
        assert not errors, errors


class RemoteKernel:
    """An ipykernel started on the host, listening on its veth address only."""

    def __init__(self, host, root):
        self.host = host
        self.root = root
        self.runtime_dir = root / "runtime"
        self.runtime_dir.mkdir(parents=True)
        self.connection_file = self.runtime_dir / "kernel-remote.json"
        ports = random.sample(range(20000, 60000), 5)  # a fresh namespace: nothing else listens there
        self.info = {
            "ip": host.remote_ip, "transport": "tcp",
            "shell_port": ports[0], "iopub_port": ports[1], "stdin_port": ports[2],
            "control_port": ports[3], "hb_port": ports[4],
            "key": secrets.token_hex(32), "signature_scheme": "hmac-sha256", "kernel_name": "python3",
        }
        self.connection_file.write_text(json.dumps(self.info, indent=1))
        self.connection_file.chmod(0o600)
        self.log = root / "kernel.log"
        self.proc = None

    def start(self, timeout=60):
        env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(self.runtime_dir), OMP_NUM_THREADS="1")
        env.pop("JPY_PARENT_PID", None)
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                [IP, "netns", "exec", self.host.ns, PYTHON, "-m", "ipykernel_launcher", "-f", str(self.connection_file)],
                env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        # Listening on the host's address, seen from here over the veth.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "kernel exited:\n" + self.log.read_text()
            try:
                with socket.create_connection((self.host.remote_ip, self.info["shell_port"]), timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("kernel not listening in time:\n" + self.log.read_text())
        # Listening is not ready: ipykernel rewrites its connection file after it binds (truncated,
        # then written), so a copy taken now can be empty. It answers only once that is done.
        client = BlockingKernelClient()
        client.load_connection_info(self.info)
        client.start_channels()
        try:
            client.wait_for_ready(timeout=max(1, deadline - time.monotonic()))
        except RuntimeError:
            raise AssertionError("kernel not answering in time:\n" + self.log.read_text()) from None
        finally:
            client.stop_channels()
        return self

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def remote_host():
    host = Host()
    try:
        yield host.create()
    finally:
        host.destroy()


@pytest.fixture
def remote_kernel(remote_host, tmp_path):
    kernel = RemoteKernel(remote_host, tmp_path / "kernel-host")
    try:
        yield kernel.start()
    finally:
        kernel.stop()


SUITE = {
    "test_where.py": """
        import json, os
        from pathlib import Path

        def test_where():
            ppid = os.getppid()
            Path(__file__).with_name("where.json").write_text(json.dumps({
                "cwd": os.getcwd(),
                "pid": os.getpid(),
                "ppid": ppid,
                "ppid_cmdline": Path(f"/proc/{ppid}/cmdline").read_bytes().decode().split("\\0"),
                "ppid_netns": os.stat(f"/proc/{ppid}/ns/net").st_ino,
                "own_netns": os.stat("/proc/self/ns/net").st_ino,
            }))
    """,
    "test_broken.py": """
        def test_broken():
            assert 1 + 1 == 3
    """,
}


def started(server, kernel):
    server.start()
    assert server.proc.poll() is None, "server exited:\n" + server.log.read_text() + \
        "\nkernel log:\n" + kernel.log.read_text()
    return server


def test_a_kernel_on_another_host_runs_the_suite_of_a_shared_checkout(remote_kernel, tmp_path):
    host = remote_kernel.host
    # What a user does: copy the kernel's connection file to the client's machine, attach to it.
    copied = tmp_path / "client-side" / "kernel-remote.json"
    copied.parent.mkdir()
    shutil.copyfile(remote_kernel.connection_file, copied)
    copied.chmod(0o600)

    # The shared checkout: the same path on both sides.
    proj = write_files(tmp_path / "checkout", SUITE)
    server = Server(tmp_path, args=("--existing", str(copied)))
    try:
        started(server, remote_kernel)
        status = server.status()
        assert status["owned"] is False
        assert Path(status["connection_file"]) == copied

        passed = server.run("-q", "-p", "no:cacheprovider", "test_where.py", cwd=proj)
        assert passed.returncode == 0, passed.stdout + passed.stderr + server.log.read_text()
        assert summary_line(passed.stdout) == "1 passed", passed.stdout

        where = json.loads((proj / "where.json").read_text())
        # The run's cwd is the client's, interpreted on the kernel's host (the same path there).
        assert where["cwd"] == str(proj)
        # The test process is a fork of the kernel, and the kernel lives on the other "host".
        assert where["ppid"] != os.getpid() and where["pid"] != where["ppid"]
        assert str(remote_kernel.connection_file) in where["ppid_cmdline"], where["ppid_cmdline"]
        assert "ipykernel_launcher" in where["ppid_cmdline"], where["ppid_cmdline"]
        assert net_ns_inode(where["ppid"]) == where["ppid_netns"] == host.inode
        assert where["own_netns"] == host.inode
        assert net_ns_inode() != host.inode

        failed = server.run("-q", "-p", "no:cacheprovider", cwd=proj)
        assert failed.returncode == 1, failed.stdout + failed.stderr
        assert summary_line(failed.stdout) == "1 failed, 1 passed", failed.stdout
        assert "assert (1 + 1) == 3" in failed.stdout, failed.stdout
    finally:
        server.stop()

    # The server only attached: the kernel outlives it.
    assert remote_kernel.proc.poll() is None, "the server shut down a kernel it did not own"
    # The "host" reaches nothing but the other veth end.
    routes = ip("-n", host.ns, "-4", "route", "show").stdout.split("\n")
    assert [r.split()[0] for r in routes if r.strip()] == [str(host.subnet)], routes
    assert ip("-n", host.ns, "-6", "addr", "show", "dev", host.remote_dev).stdout.strip() == ""


def test_a_client_directory_missing_on_the_kernels_host_is_one_line_that_says_so(remote_kernel, tmp_path):
    client_only = tmp_path / "client-only"
    proj = write_files(client_only / "proj", {"test_x.py": "def test_x(): pass\n"})
    # The kernel's host has its own filesystem view: an empty client-only/ there, no proj/ in it.
    subprocess.run(["nsenter", "-t", str(remote_kernel.proc.pid), "-m", "mount", "-t", "tmpfs", "-o", "size=1m",
                    "ltest-test", str(client_only)], check=True, timeout=30)
    assert (proj / "test_x.py").exists()
    server = Server(tmp_path, args=("--existing", str(remote_kernel.connection_file)))
    try:
        started(server, remote_kernel)
        r = server.run("-q", cwd=proj)
    finally:
        server.stop()
    assert r.returncode == 70, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ltest: ") and str(proj) in lines[0], r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def test_the_kernels_host_needs_no_ltest_install(remote_kernel, tmp_path):
    # ltest's runtime only on the client's side: the kernel's host sees an empty client-only/.
    client_only = tmp_path / "client-only"
    share = client_only / "share"
    shutil.copytree(Path(__file__).resolve().parents[2] / "share" / "ltest", share,
                    ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(["nsenter", "-t", str(remote_kernel.proc.pid), "-m", "mount", "-t", "tmpfs", "-o", "size=1m",
                    "ltest-test", str(client_only)], check=True, timeout=30)
    proj = write_files(tmp_path / "checkout", {"test_x.py": "def test_x(): pass\n"})
    server = Server(tmp_path, args=("--existing", str(remote_kernel.connection_file)),
                    extra_env={"LTEST_SHARE_DIR": str(share)})
    try:
        server.start()
        assert server.proc.poll() is None, server.log.read_text()
        r = server.run("-q", cwd=proj)
        assert r.returncode == 0, r.stdout + r.stderr
    finally:
        server.stop()
