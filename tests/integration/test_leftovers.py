"""Issue 30, finding 8: a SIGKILLed server (and its kernel) leaves its
runtime file (with the key), hand-over socket, auto-start log, the kernel's
connection file and log. The next client or server removes them once the
process the runtime file names is shown not to be that server; a live
server's files, symlinks and others' files are never touched."""
import json
import os
import subprocess
from pathlib import Path

from conftest import alive, kill_all, ltest_binary, pids_whose_cmdline, wait_for, write_files

OK_SUITE = {"test_ok.py": "def test_ok(): pass\n", "pytest.ini": "[pytest]\n"}  # a project each


def runtime_files(runtime):
    return {p.name for p in runtime.iterdir()}


def server_pids(runtime):
    pids = {}
    for p in runtime.glob("ltest-*.json"):
        try:
            pids[p.name] = json.loads(p.read_text())["pid"]
        except (OSError, ValueError, KeyError):
            pass
    return pids


def kernel_pids_of(server_pid):
    mark = f"kernel-ltest-{server_pid}.json"
    return pids_whose_cmdline(lambda c: mark in c)


def kill9(pids):
    kill_all(pids)
    assert wait_for(lambda: not any(alive(p) for p in pids), 30)


def files_of_live_servers(runtime):
    """The names a live server (and its kernel) keep in the runtime directory."""
    names = set()
    for name, pid in server_pids(runtime).items():
        if alive(pid):
            port = name[len("ltest-"):-len(".json")]
            names |= {name, f"ltest-{port}.sock", f"ltest-{port}.log", f"kernel-ltest-{pid}.json",
                      f"ltest-kernel-{pid}.log"}
    return names


def test_after_12_killed_servers_the_next_client_leaves_only_live_servers_files(tmp_path):
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(runtime), XDG_CACHE_HOME=str(tmp_path / "cache"), OMP_NUM_THREADS="1")
    live_proj = write_files(tmp_path / "live", OK_SUITE)
    proj = write_files(tmp_path / "proj", OK_SUITE)

    def run(cwd, *args):
        return subprocess.run([ltest_binary(), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)

    started = []
    try:
        r = run(live_proj, "--", "-q")  # a server that stays alive throughout
        assert r.returncode == 0, r.stdout + r.stderr
        live_pid = next(iter(server_pids(runtime).values()))
        started.append(live_pid)
        for _ in range(12):
            before = set(server_pids(runtime).values())
            r = run(proj, "--", "-q")  # auto-starts a server for this project
            assert r.returncode == 0, r.stdout + r.stderr
            (new_pid,) = set(server_pids(runtime).values()) - before - {p for p in before if not alive(p)}
            started.append(new_pid)
            kill9([new_pid, *kernel_pids_of(new_pid)])
        left = runtime_files(runtime) - files_of_live_servers(runtime)
        assert any(n.endswith(".json") and n.startswith("ltest-") for n in left), left  # the last kill's files
        r = run(live_proj, "--status")
        assert r.returncode == 0, r.stdout + r.stderr
        assert runtime_files(runtime) == files_of_live_servers(runtime)
        assert alive(live_pid)
        assert f"kernel-ltest-{live_pid}.json" in runtime_files(runtime)
    finally:
        for pid in started:
            kill9([pid, *kernel_pids_of(pid)])


def test_a_runtime_file_naming_a_live_process_that_is_not_ltest_is_removed(tmp_path):
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(runtime), XDG_CACHE_HOME=str(tmp_path / "cache"))
    outside = tmp_path / "outside.log"
    outside.write_text("not ltest's\n")
    sleep = subprocess.Popen(["sleep", "600"])
    try:
        def plant(port, **extra):
            f = runtime / f"ltest-{port}.json"
            f.write_text(json.dumps({"ip": "127.0.0.1", "port": port, "key": "k", "pid": sleep.pid, **extra}))
            f.chmod(0o600)
            (runtime / f"ltest-{port}.sock").write_text("")
        plant(1)                       # an older runtime file: no start time, the pid's program is not ltest
        plant(2, start_time=1)         # a start time that is not the process's
        (runtime / "ltest-2.log").symlink_to(outside)  # never followed, never removed
        r = subprocess.run([ltest_binary(), "--status"], cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 69, r.stdout + r.stderr  # no server; the leftovers are gone
        assert runtime_files(runtime) == {"ltest-2.log"}
        assert outside.read_text() == "not ltest's\n"
        assert sleep.poll() is None
    finally:
        sleep.kill()
        sleep.wait()
