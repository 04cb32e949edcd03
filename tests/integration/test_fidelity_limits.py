"""The client's ulimits and nice value in the test process, against a cold
`python3 -m pytest` started from the same shell (bash's ulimit, nice); and,
on a server that cannot raise them (lower hard limits, higher nice value, no
CAP_SYS_RESOURCE/CAP_SYS_NICE), the one warning line that names each.
"""
import os
import resource
import shutil
import subprocess

import pytest

from conftest import PYTHON, Server, SignedPeer, header, ltest_binary, write_files
from fidelity_helpers import assert_same, client_env
from test_fidelity import server  # noqa: F401 (the module-scoped fixture)

PROBE = """
    import os, resource

    NAMES = ("NOFILE", "STACK", "CORE", "AS", "DATA", "CPU", "FSIZE", "NPROC", "MEMLOCK")

    def test_limits():
        print("LIMITS", {n: resource.getrlimit(getattr(resource, "RLIMIT_" + n)) for n in NAMES})
        print("NICE", os.nice(0))

    def test_the_file_limit_is_enforced():
        files = []
        try:
            while len(files) < 5000:
                files.append(open(os.devnull))
            print("EMFILE no")
        except OSError as e:
            print("EMFILE", e.errno)
        finally:
            for f in files:
                f.close()
"""


def from_shell(prefix, cmd, cwd, env):
    """cmd started by bash after `prefix` (ulimit ..., nice -n N): as typed there."""
    return subprocess.run(["bash", "-c", f'{prefix} "$@"', "bash", *cmd], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def both_from_shell(server, root, prefix):
    args = ["-q", "-s", "-p", "no:cacheprovider"]
    env = client_env(server)
    w = from_shell(prefix, [ltest_binary(), "-p", str(server.port), "--", *args], root, env)
    c = from_shell(prefix, [PYTHON, "-m", "pytest", *args], root, env)
    return w, c


def marked(result, *marks):
    return [l for l in result.stdout.splitlines() if l.startswith(marks)]


@pytest.mark.parametrize("prefix", [
    "ulimit -n 512 && exec",
    "ulimit -c 0 && exec",
    "ulimit -S -c unlimited && exec",
    "ulimit -s 4096 -v 8000000 -d 8000000 && exec",
    "ulimit -t 3000 -f 1000000 -l 1024 -u 4000 && exec",
    "exec nice -n 5",
], ids=["nofile-512", "core-0", "core-unlimited", "stack-as-data", "cpu-fsize-memlock-nproc", "nice-5"])
def test_the_clients_limits_and_nice_apply_as_cold(server, tmp_path, prefix):
    root = write_files(tmp_path, {"test_limits.py": PROBE})
    w, c = both_from_shell(server, root, prefix)
    assert_same(w, c)
    assert w.returncode == 0, w.stdout + w.stderr
    assert marked(w, "LIMITS", "NICE", "EMFILE") == marked(c, "LIMITS", "NICE", "EMFILE"), f"{w.stdout}\n{c.stdout}"
    assert "ltest: warning" not in w.stderr, w.stderr


def can_drop_capabilities():
    return os.getuid() == 0 and shutil.which("setpriv") is not None


@pytest.fixture(scope="module")
def capped_server(tmp_path_factory):
    """A server whose kernel has a hard fd limit of 1000, runs at nice +5
    and (as root) lacks the capabilities to raise either: a server started
    under stricter limits than the client's shell."""
    s = Server(tmp_path_factory.mktemp("capped"), modules=("json",))
    drop = ["setpriv", "--bounding-set=-sys_resource,-sys_nice", "--"] if can_drop_capabilities() else []
    s.cmd = ["prlimit", "--nofile=1000:1000", "--", "nice", "-n", "5", *drop, *s.cmd]
    s.start()
    assert s.proc.poll() is None, s.log.read_text()
    yield s
    s.stop()


def warnings_of(result):
    return [l for l in result.stderr.splitlines() if l.startswith("ltest: warning:")]


def test_what_the_server_cannot_raise_is_kept_and_named(capped_server, tmp_path):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert hard > 1000 and os.nice(0) + 5 <= 19, "the harness's own limits leave nothing to compare"
    root = write_files(tmp_path, {"test_limits.py": """
        import os, resource
        def test_limits():
            assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == 800
            assert resource.getrlimit(resource.RLIMIT_CORE) == (0, 0)
    """})
    w, c = both_from_shell(capped_server, root, "ulimit -S -n 800 && ulimit -c 0 && exec")
    assert_same(w, c)
    assert w.returncode == 0, w.stdout + w.stderr
    found = warnings_of(w)
    assert len(found) == 2, w.stderr
    assert found[0].startswith(f"ltest: warning: RLIMIT_NOFILE 800/{hard} (soft/hard, the client's) cannot apply")
    assert "the tests run with 800/1000" in found[0]
    nice = os.nice(0)
    assert found[1].startswith(f"ltest: warning: nice {nice} (the client's) cannot apply: the server runs at "
                               f"nice {nice + 5}"), found


def test_a_nice_value_above_the_servers_applies(capped_server, tmp_path):
    root = write_files(tmp_path, {"test_nice.py": "import os\ndef test_nice():\n    print('NICE', os.nice(0))\n"})
    w, c = both_from_shell(capped_server, root, "ulimit -n 800 && exec nice -n 8")
    assert_same(w, c)
    assert marked(w, "NICE") == marked(c, "NICE") and marked(c, "NICE"), w.stdout + w.stderr
    assert warnings_of(w) == [], w.stderr


def request(root, env, **fields):
    """A run request as a client sends it, with fields added (none: an older client's)."""
    content = {"args": ["-q", "-s", "-p", "no:cacheprovider"], "cwd": str(root), "env": env, "columns": 80,
               "lines": 24}
    content.update(fields)
    return content


@pytest.mark.parametrize("fields,named", [
    ({"rlimits": [512, 512]}, '"rlimits" must be an object'),
    ({"rlimits": {"nofile": 512}}, '"nofile" must be [soft, hard]'),
    ({"rlimits": {"nofile": [-1, 512]}}, '"nofile" must hold non-negative integers or "unlimited"'),
    ({"rlimits": {"nofile": [1.5, 512]}}, '"nofile" must hold non-negative integers or "unlimited"'),
    ({"rlimits": {"nofile": ["lots", "unlimited"]}}, '"nofile" must hold non-negative integers or "unlimited"'),
    ({"rlimits": {"nofile": [2 ** 64 - 1, "unlimited"]}}, '"nofile" must hold non-negative integers'),
    ({"rlimits": {"nofile": [600, 512]}}, '"nofile" has a soft limit above its hard one'),
    ({"rlimits": {"rtprio": [0, 0]}}, 'unknown limit "rtprio"'),
    ({"nice": 20}, '"nice" must be an integer from -20 to 19'),
    ({"nice": "5"}, '"nice" must be an integer from -20 to 19'),
], ids=["not-object", "not-pair", "negative", "float", "word", "rlim-infinity-number", "soft-above-hard",
        "unknown-name", "nice-range", "nice-string"])
def test_garbage_limits_on_the_wire_are_refused_in_one_line(server, tmp_path, fields, named):
    root = write_files(tmp_path, {"test_ok.py": "def test_ok(): pass\n"})
    with SignedPeer(server) as peer:
        peer.send(header("run_request"), request(root, client_env(server), **fields))
        reply = peer.recv_type("run_reply", timeout=30)
        assert reply is not None and reply["content"]["exit_code"] == 76, reply
        assert named in reply["content"]["error"] and "\n" not in reply["content"]["error"], reply
    assert server.proc.poll() is None


def test_a_request_without_limits_leaves_the_kernels(server, tmp_path):
    """An older client: no "rlimits", no "nice"; the test process keeps what the kernel has."""
    kernel = server.status()["kernel_pid"]
    with open(f"/proc/{kernel}/limits") as f:
        nofile = next(l for l in f if l.startswith("Max open files")).split()[3:5]
    root = write_files(tmp_path, {"test_kept.py": f"""
        import resource
        def test_kept():
            assert [str(v) for v in resource.getrlimit(resource.RLIMIT_NOFILE)] == {nofile!r}
    """})
    with SignedPeer(server) as peer:
        peer.send(header("run_request"), request(root, client_env(server)))
        reply = peer.recv_type("run_reply", timeout=60)
        assert reply is not None and reply["content"]["exit_code"] == 0, reply
