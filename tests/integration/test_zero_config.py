"""Zero configuration (issue 15): a run with no server starts one for its
project, concurrent first runs start one, --no-start keeps exit 69, an idle
server stops and leaves no files, learned preloads."""
import json
import os
import subprocess
import sys

from conftest import alive, wait_for, write_files
from zeroconf import timed, world  # noqa: F401 (fixture)

TESTS = {"test_a.py": "def test_a():\n    assert 1 + 1 == 2\n", "test_b.py": "def test_b():\n    pass\n"}


def started_lines(stderr):
    return [line for line in stderr.splitlines() if line.startswith("ltest: started a server")]


def test_first_run_starts_a_server_and_the_second_is_warm(world, tmp_path):
    proj = write_files(tmp_path / "proj", TESTS)
    first, cold = timed(lambda: world.ltest("--", "-q", cwd=proj))
    assert first.returncode == 0, first.stdout + first.stderr
    assert "2 passed" in first.stdout
    lines = first.stderr.strip().splitlines()
    assert len(lines) == 1 and started_lines(first.stderr), first.stderr
    assert f"for {proj} (kernel python3)" in lines[0] and "ltest --stop" in lines[0], lines[0]
    [server] = world.servers()
    assert server["project_root"] == str(proj) and server["kernel_name"] == "python3"
    assert f"127.0.0.1:{server['port']}" in lines[0]

    second, warm = timed(lambda: world.ltest("--", "-q", cwd=proj))
    assert second.returncode == 0 and "2 passed" in second.stdout, second.stdout + second.stderr
    assert second.stderr == ""
    print(f"first run (starts the server): {cold:.3f} s, second run: {warm:.3f} s, {cold / warm:.1f}x")
    assert cold >= 5 * warm, f"first {cold:.3f} s, second {warm:.3f} s"
    assert [s["pid"] for s in world.servers()] == [server["pid"]]


def test_two_first_runs_at_once_start_one_server(world, tmp_path):
    proj = write_files(tmp_path / "proj", TESTS)
    clients = [world.popen("--", "-q", cwd=proj, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(2)]
    outs = [c.communicate(timeout=300) for c in clients]
    for c, (out, err) in zip(clients, outs):
        assert c.returncode == 0 and "2 passed" in out, out + err
    assert sum(len(started_lines(err)) for _, err in outs) == 1, outs
    assert len(world.servers()) == 1


def test_a_run_from_a_subdirectory_uses_the_project_root_server(world, tmp_path):
    proj = write_files(tmp_path / "proj", dict(TESTS, **{"pytest.ini": "[pytest]\n", "sub/test_c.py": TESTS["test_b.py"]}))
    r = world.ltest("--", "-q", cwd=proj / "sub")
    assert r.returncode == 0 and "1 passed" in r.stdout, r.stdout + r.stderr
    assert f"for {proj} (kernel" in r.stderr
    r = world.ltest("--", "-q", cwd=proj)
    assert r.returncode == 0 and "3 passed" in r.stdout and r.stderr == "", r.stdout + r.stderr
    other = write_files(tmp_path / "other", TESTS)
    r = world.ltest("--", "-q", cwd=other)
    assert r.returncode == 0 and started_lines(r.stderr), r.stderr
    assert sorted(s["project_root"] for s in world.servers()) == sorted([str(proj), str(other)])


def test_no_start_and_autostart_false_keep_exit_69(world, tmp_path):
    proj = write_files(tmp_path / "proj", TESTS)
    r = world.ltest("--no-start", "--", "-q", cwd=proj)
    assert r.returncode == 69 and len(r.stderr.strip().splitlines()) == 1 and "ltest -l" in r.stderr, r.stderr
    (proj / "pyproject.toml").write_text("[tool.ltest]\nautostart = false\n")
    r = world.ltest("--", "-q", cwd=proj)
    assert r.returncode == 69 and "no ltest server" in r.stderr, r.stderr
    assert world.servers() == []
    (proj / "pyproject.toml").write_text("[tool.ltest]\nautostart = 'no'\n")
    r = world.ltest("--", "-q", cwd=proj)
    assert r.returncode == 64 and "autostart must be true or false" in r.stderr, r.stderr


def test_stop_stops_the_projects_server(world, tmp_path):
    proj = write_files(tmp_path / "proj", TESTS)
    assert world.ltest("--", "-q", cwd=proj).returncode == 0
    [server] = world.servers()
    r = world.ltest("--status", "--json", cwd=proj)
    assert r.returncode == 0 and json.loads(r.stdout)["project_root"] == str(proj), r.stdout + r.stderr
    r = world.ltest("--stop", cwd=proj)
    assert r.returncode == 0, r.stderr
    assert wait_for(lambda: not alive(server["pid"]), 30)
    assert world.servers() == []
    r = world.ltest("--status", cwd=proj)
    assert r.returncode == 69


def test_an_idle_server_stops_and_leaves_no_files(world, tmp_path):
    proj = write_files(tmp_path / "proj", TESTS)
    r = world.ltest("--idle", "2", "--", "-q", cwd=proj)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "stops after 2 s idle" in r.stderr
    [server] = world.servers()
    assert wait_for(lambda: not alive(server["pid"]), 120), "the idle server did not stop"
    assert wait_for(lambda: not world.processes(), 30), world.processes()
    assert sorted(os.listdir(world.runtime_dir)) == []
