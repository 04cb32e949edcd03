"""Several "hosts" on one machine for the gateway tests, and an Enterprise
Gateway that starts kernels on them over ssh.

A host is a network namespace with its own address on a bridge of its own and
its own sshd (Debian's openssh-server; its own config, host key and log; root
may log in only with a key these fixtures generate). The namespaces share the
filesystem, so a kernel started on a host runs the same files and
interpreters as the machine: only its network (addresses, ports, loopback)
is its own, which is what the distributed process proxy cares about.

`NamespaceHosts` makes them (as root: `ip netns`, `ip link`), `Gateway` runs
jupyter-enterprise-gateway from tools/gateway-venv's virtualenv with its
DistributedProcessProxy pointed at them, and both tear down everything they
made on `stop()`, which never raises before it has tried every step. A
missing prerequisite (not root, no sshd, a refused `ip netns add`) fails
with one line naming the command and its error: these tests never skip.

EG's launcher for Python kernels is not in its wheel: gateway_launcher/ holds
etc/kernel-launchers/python/scripts/launch_ipykernel.py of EG's v3.3.0 tag,
unchanged.
"""
import contextlib
import fcntl
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
LAUNCHER = HERE / "gateway_launcher" / "launch_ipykernel.py"
SSHD = "/usr/sbin/sshd"
# Waits for events (a log line, a port answering) end at this bound only when
# the event never comes; it is far above any load this machine sees.
EVENT_TIMEOUT = 180
# One subnet per NamespaceHosts: 10.213.N.0/24, N chosen under this lock
# among those no interface of the machine has.
SUBNET_LOCK = "/run/ltest-gateway-hosts.lock"
DISTRIBUTED = "enterprise_gateway.services.processproxies.distributed.DistributedProcessProxy"


def run(cmd, **kwargs):
    """Runs a set-up command; its failure fails the test with the command and its error."""
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        pytest.fail(f"gateway hosts: `{' '.join(map(str, cmd))}` failed "
                    f"(exit {result.returncode}): {(result.stderr or result.stdout).strip()}",
                    pytrace=False)
    return result.stdout


def wait_for_line(path, pattern, proc, what):
    """Waits until the log at `path` has a line matching `pattern`; fails at
    once with the log if `proc` exits first."""
    regex = re.compile(pattern)
    deadline = time.monotonic() + EVENT_TIMEOUT
    while True:
        text = Path(path).read_text(errors="replace") if Path(path).exists() else ""
        match = regex.search(text)
        if match:
            return match
        if proc.poll() is not None:
            pytest.fail(f"{what} exited ({proc.returncode}) before it was ready: {text.strip()[-2000:]}",
                        pytrace=False)
        if time.monotonic() > deadline:
            pytest.fail(f"{what} never logged /{pattern}/ in {EVENT_TIMEOUT}s: {text.strip()[-2000:]}",
                        pytrace=False)
        time.sleep(0.1)


def process_gone(pid):
    """True when `pid` has exited (a zombie has: its parent may be an init
    that reaps late)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def wait_gone(pid):
    """Waits for `pid` to exit; False if it is still there at EVENT_TIMEOUT."""
    deadline = time.monotonic() + EVENT_TIMEOUT
    while not process_gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def stop_process(proc):
    """SIGTERM to the process group the fixture started, then SIGKILL."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def check_prerequisites():
    """One clear failure for a machine that cannot hold namespace hosts."""
    if os.geteuid() != 0:
        pytest.fail("gateway hosts: network namespaces need root (run as root, as CI does)",
                    pytrace=False)
    for tool in (SSHD, shutil.which("ip"), shutil.which("ssh-keygen")):
        if not tool or not os.access(tool, os.X_OK):
            pytest.fail("gateway hosts: sshd, ip or ssh-keygen missing: tools/deps installs "
                        "openssh-server and iproute2", pytrace=False)


class Host:
    def __init__(self, name, netns, address):
        self.name = name          # h1, h2, ...
        self.netns = netns        # the namespace's name (ip netns)
        self.address = address    # its IPv4 address on the bridge
        self.sshd = None          # the sshd's Popen
        self.host_key_pub = ""    # "ssh-ed25519 AAAA..."

    def __repr__(self):
        return f"Host({self.name}, {self.netns}, {self.address})"


class NamespaceHosts:
    """`count` hosts on the bridge; the machine's side of it has `gateway_ip`.

    client_key is the private key root logs in with on every host;
    known_hosts lists every host's key (what EG's paramiko checks)."""

    def __init__(self, workdir, count=3, ssh_port=22, host_setup=None):
        self.dir = Path(workdir)
        # host_setup(host): a shell command run in the host's namespaces
        # before its sshd starts, or "" (tests make a host's filesystem or
        # name its own: it runs in a UTS namespace and a mount namespace of
        # the host's own, so `hostname` and `mount` there stay the host's).
        self.host_setup = host_setup
        self.count = count
        self.ssh_port = ssh_port
        self.hosts = []
        self.bridge = None
        self.gateway_ip = None
        tag = secrets.token_hex(3)
        self.tag = tag
        self.client_key = self.dir / "client_key"
        self.known_hosts = self.dir / "known_hosts"

    def start(self):
        check_prerequisites()
        self.dir.mkdir(parents=True, exist_ok=True)
        # sshd refuses to start without its privilege-separation directory.
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ltest-gateway-hosts",
             "-f", str(self.client_key)])
        (self.dir / "authorized_keys").write_text(Path(f"{self.client_key}.pub").read_text())
        self._make_network()
        for host in self.hosts:
            self._start_sshd(host)
        self.known_hosts.write_text("".join(
            (f"{h.address} " if self.ssh_port == 22 else f"[{h.address}]:{self.ssh_port} ")
            + h.host_key_pub + "\n" for h in self.hosts))
        return self

    def _make_network(self):
        # Names must fit IFNAMSIZ (15): the tag keeps concurrent fixtures apart.
        self.bridge = f"ltbr{self.tag}"
        with open(SUBNET_LOCK, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            used = set(re.findall(r"inet 10\.213\.(\d+)\.", run(["ip", "-4", "-o", "addr"])))
            free = [n for n in range(1, 255) if str(n) not in used]
            if not free:
                pytest.fail("gateway hosts: every 10.213.N.0/24 subnet is in use", pytrace=False)
            subnet = f"10.213.{free[0]}"
            self.gateway_ip = f"{subnet}.1"
            run(["ip", "link", "add", self.bridge, "type", "bridge"])
            run(["ip", "addr", "add", f"{self.gateway_ip}/24", "dev", self.bridge])
        run(["ip", "link", "set", self.bridge, "up"])
        for i in range(1, self.count + 1):
            host = Host(f"h{i}", f"ltest-{self.tag}-h{i}", f"{subnet}.{i + 1}")
            self.hosts.append(host)
            outer, inner = f"lt{self.tag}h{i}", f"lt{self.tag}h{i}n"
            run(["ip", "netns", "add", host.netns])
            run(["ip", "link", "add", outer, "type", "veth", "peer", "name", inner])
            run(["ip", "link", "set", inner, "netns", host.netns])
            run(["ip", "link", "set", outer, "master", self.bridge, "up"])
            run(["ip", "-n", host.netns, "addr", "add", f"{host.address}/24", "dev", inner])
            run(["ip", "-n", host.netns, "link", "set", inner, "up"])
            run(["ip", "-n", host.netns, "link", "set", "lo", "up"])

    def _start_sshd(self, host):
        hdir = self.dir / host.name
        hdir.mkdir()
        key = hdir / "ssh_host_ed25519_key"
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)])
        host.host_key_pub = " ".join(Path(f"{key}.pub").read_text().split()[:2])
        config = hdir / "sshd_config"
        # Key-only root login with the fixture's key, nothing read from /etc/ssh
        # but the defaults compiled in; StrictModes off because the key file
        # lives under the test's temporary directory (/tmp is world-writable).
        config.write_text(f"""\
ListenAddress {host.address}
Port {self.ssh_port}
HostKey {key}
PidFile {hdir}/sshd.pid
AuthorizedKeysFile {self.dir}/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
LogLevel INFO
""")
        run([SSHD, "-t", "-f", str(config)])
        log = hdir / "sshd.log"
        with open(log, "w") as out:
            # `ip netns exec` execs sshd: the Popen is the sshd, in its namespace.
            command = [SSHD, "-D", "-e", "-f", str(config)]
            setup = self.host_setup(host) if self.host_setup else ""
            if setup:  # `ip netns exec` gives it a mount namespace of its own already
                command = ["unshare", "--uts", "sh", "-c", f'{setup} && exec "$@"', "sh", *command]
            host.sshd = subprocess.Popen(
                ["ip", "netns", "exec", host.netns, *command],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        wait_for_line(log, r"Server listening on " + re.escape(host.address), host.sshd,
                      f"sshd of {host.name} ({host.netns})")

    def ssh(self, host, command):
        """Runs `command` on `host` with OpenSSH's client and the fixture's key
        (not EG's paramiko: a second, independent check of the hosts)."""
        return subprocess.run(
            ["ssh", "-i", str(self.client_key), "-p", str(self.ssh_port),
             "-o", f"UserKnownHostsFile={self.known_hosts}", "-o", "StrictHostKeyChecking=yes",
             "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-F", "/dev/null",
             f"root@{host.address}", command],
            capture_output=True, text=True, stdin=subprocess.DEVNULL)

    def stop(self):
        """Kills every process in the namespaces (the sshds and what they
        started: EG's kernels outlive their ssh session by design), then deletes
        the namespaces (which deletes their veth pairs) and the bridge.
        Returns the steps that failed, after trying them all."""
        errors = []
        hosts, self.hosts = self.hosts, []
        for host in hosts:
            stop_process(host.sshd)
            pids = subprocess.run(["ip", "netns", "pids", host.netns], capture_output=True, text=True)
            for pid in pids.stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            for cmd in (["ip", "netns", "del", host.netns],
                        ["ip", "link", "del", f"lt{self.tag}h{host.name[1:]}"]):
                result = subprocess.run(cmd, capture_output=True, text=True)
                # The veth goes with the namespace, and a start that failed half
                # way made only some of them: what is already gone is success.
                if result.returncode != 0 and not re.search(
                        r"Cannot find device|No such file", result.stderr):
                    errors.append(f"{' '.join(cmd)}: {result.stderr.strip()}")
        if self.bridge:
            result = subprocess.run(["ip", "link", "del", self.bridge], capture_output=True, text=True)
            self.bridge = None
            if result.returncode != 0 and "Cannot find device" not in result.stderr:
                errors.append(f"ip link del {self.bridge}: {result.stderr.strip()}")
        return errors


def gateway_bin():
    """The bin directory of tools/gateway-venv's virtualenv (made on first use)."""
    result = subprocess.run([str(ROOT / "tools" / "gateway-venv")], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(f"gateway hosts: tools/gateway-venv failed: {result.stderr.strip()[-2000:]}",
                    pytrace=False)
    return Path(result.stdout.strip())


def free_port(address="127.0.0.1"):
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]


class Gateway:
    """jupyter-enterprise-gateway on 127.0.0.1:`port`, its token in the
    environment (never on its command line), its own HOME (paramiko takes the
    hosts' key and known_hosts from ~/.ssh), JUPYTER_* dirs and kernel logs,
    and one kernelspec, python_distributed, whose kernels the
    DistributedProcessProxy starts over ssh as root on `hosts`, round robin
    (or on the host a request's env names in KERNEL_REMOTE_HOST)."""

    KERNEL_NAME = "python_distributed"

    def __init__(self, workdir, hosts, kernel_python=None):
        self.dir = Path(workdir)
        self.hosts = hosts
        self.bin = gateway_bin()
        # The kernels' interpreter: it needs ipykernel, jupyter_client and
        # pycryptodomex (the launcher's); EG's virtualenv has them.
        self.kernel_python = kernel_python or str(self.bin / "python")
        self.token = secrets.token_hex(16)
        self.port = None
        self.proc = None
        self.log = self.dir / "gateway.log"

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def _write_kernelspec(self, data):
        spec = data / "kernels" / self.KERNEL_NAME
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(json.dumps({
            "display_name": "Python 3 (namespace hosts)",
            "language": "python",
            "metadata": {"process_proxy": {"class_name": DISTRIBUTED}},
            "argv": [self.kernel_python, str(LAUNCHER),
                     "--RemoteProcessProxy.kernel-id", "{kernel_id}",
                     "--RemoteProcessProxy.response-address", "{response_address}",
                     "--RemoteProcessProxy.public-key", "{public_key}",
                     "--RemoteProcessProxy.port-range", "{port_range}",
                     "--RemoteProcessProxy.spark-context-initialization-mode", "none"],
        }, indent=1))

    def environment(self):
        home, data = self.dir / "home", self.dir / "data"
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("JUPYTER", "EG_", "KG_", "SSH_", "PYTHON"))}
        env.update({
            "HOME": str(home),
            "JUPYTER_PATH": str(data),
            "JUPYTER_DATA_DIR": str(data),
            "JUPYTER_CONFIG_DIR": str(self.dir / "config"),
            "JUPYTER_RUNTIME_DIR": str(self.dir / "runtime"),
            "EG_AUTH_TOKEN": self.token,
            "EG_REMOTE_HOSTS": ",".join(h.address for h in self.hosts.hosts),
            # GET /api/kernels answers 403 unless listing is on.
            "EG_LIST_KERNELS": "true",
            "EG_REMOTE_USER": "root",
            # EG refuses kernels for KERNEL_USERNAME root by default (it is
            # the user the tests and the hosts' sshd run as here).
            "EG_UNAUTHORIZED_USERS": "ltest-no-such-user",
            "EG_SSH_PORT": str(self.hosts.ssh_port),
            # The launchers on the hosts reach EG on the bridge, not on
            # whatever public address EG would guess.
            "EG_RESPONSE_IP": self.hosts.gateway_ip,
            "EG_RESPONSE_PORT": str(free_port(self.hosts.gateway_ip)),
            "EG_RESPONSE_PORT_RETRIES": "0",
            "EG_KERNEL_LOG_DIR": str(self.dir / "kernel-logs"),
            "EG_KERNEL_LAUNCH_TIMEOUT": str(EVENT_TIMEOUT),
            "PYTHONDONTWRITEBYTECODE": "1",
        })
        return env

    def start(self):
        home = self.dir / "home"
        (home / ".ssh").mkdir(parents=True, mode=0o700)
        shutil.copy(self.hosts.client_key, home / ".ssh" / "id_ed25519")
        shutil.copy(self.hosts.known_hosts, home / ".ssh" / "known_hosts")
        for d in ("config", "runtime", "kernel-logs"):
            (self.dir / d).mkdir(parents=True)
        self._write_kernelspec(self.dir / "data")
        self.port = free_port()
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen(
                [str(self.bin / "jupyter-enterprisegateway"), "--ip=127.0.0.1", f"--port={self.port}",
                 "--port_retries=0", f"--EnterpriseGatewayApp.default_kernel_name={self.KERNEL_NAME}",
                 "--EnterpriseGatewayApp.log_level=DEBUG"],
                env=self.environment(), cwd=self.dir, stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for_line(self.log, r"Enterprise Gateway .* is available at", self.proc,
                      "jupyter-enterprisegateway")
        return self

    def stop(self):
        """Stops EG (it shuts its kernels down on SIGTERM); the hosts' stop()
        kills whatever kernel it left."""
        stop_process(self.proc)


@contextlib.contextmanager
def started_hosts(workdir, count=3, host_setup=None):
    """NamespaceHosts started, and torn down (every step tried, none failing) at the end."""
    made = NamespaceHosts(workdir, count=count, host_setup=host_setup)
    try:
        yield made.start()
    finally:
        errors = made.stop()
        assert not errors, f"namespace hosts teardown: {errors}"


@contextlib.contextmanager
def started_gateway(workdir, hosts, kernel_python=None):
    """A Gateway over hosts, started, and stopped at the end."""
    made = Gateway(workdir, hosts, kernel_python=kernel_python)
    try:
        yield made.start()
    finally:
        made.stop()
