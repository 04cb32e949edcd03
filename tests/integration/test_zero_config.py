"""Zero configuration: a run with no server starts one for its
project, concurrent first runs start one, --no-start keeps exit 69, an idle
server stops and leaves no files, learned preloads."""
import json
import os
import signal
import subprocess

from conftest import PYTHON, alive, wait_for, write_files
from zeroconf import timed, world  # noqa: F401 (fixture)

# A pyproject.toml marks the project (directories without a marker share one server).
TESTS = {"test_a.py": "def test_a():\n    assert 1 + 1 == 2\n", "test_b.py": "def test_b():\n    pass\n",
         "pyproject.toml": "[project]\nname = 'proj'\n"}


def started_lines(stderr):
    return [line for line in stderr.splitlines() if line.startswith("ltest: started a server")]


def ltest_lines(stderr):
    """ltest's own lines on a run's stderr."""
    return [line for line in stderr.splitlines() if line.startswith("ltest: ")]


def pytest_stderr(stderr):
    """The run's stderr without ltest's own lines: pytest's, as a cold run's."""
    return "".join(line for line in stderr.splitlines(keepends=True) if not line.startswith("ltest: "))


def named_python(line):
    """The interpreter a server's start line names: '... (python PATH) on ...'."""
    return line.split("(python ", 1)[1].split(")", 1)[0]


def test_first_run_starts_a_server_and_the_second_is_warm(world, tmp_path):
    proj = write_files(tmp_path / "proj", TESTS)
    first, cold = timed(lambda: world.ltest("--", "-q", cwd=proj))
    assert first.returncode == 0, first.stdout + first.stderr
    assert "2 passed" in first.stdout
    lines = ltest_lines(first.stderr)
    assert len(lines) == 1 and started_lines(first.stderr), first.stderr
    assert pytest_stderr(first.stderr) == world.cold_stderr("-q", cwd=proj), first.stderr
    # The first python3 on PATH with pytest: PYTHON by another name, perhaps (a venv's python3 for its python).
    assert f"for {proj} (python " in lines[0] and os.path.samefile(named_python(lines[0]), PYTHON), lines[0]
    assert "ltest --stop" in lines[0], lines[0]
    [server] = world.servers()
    assert server["project_root"] == str(proj) and os.path.samefile(server["python"], PYTHON)
    assert "kernel_name" not in server
    assert f"127.0.0.1:{server['port']}" in lines[0]

    second, warm = timed(lambda: world.ltest("--", "-q", cwd=proj))
    assert second.returncode == 0 and "2 passed" in second.stdout, second.stdout + second.stderr
    assert second.stderr == world.cold_stderr("-q", cwd=proj)
    # Warm: the same server ran it, with no start line (its speed is bench/zero_config's to measure:
    # a timed assert here failed on a loaded machine, 1.31 s against 0.31 s).
    print(f"first run (starts the server): {cold:.3f} s, second run: {warm:.3f} s, {cold / warm:.1f}x")
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
    [line] = started_lines(r.stderr)
    assert f"for {proj} (python " in line and os.path.samefile(named_python(line), PYTHON), line
    r = world.ltest("--", "-q", cwd=proj)
    assert r.returncode == 0 and "3 passed" in r.stdout, r.stdout + r.stderr
    assert r.stderr == world.cold_stderr("-q", cwd=proj), r.stderr
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


SLOW_MODULE = "import time\ntime.sleep(0.3)  # a slow third-party import\nVALUE = 42\n"
USES_SLOW = {"test_slow.py": "def test_uses_slowmod():\n    import slowmod\n    assert slowmod.VALUE == 42\n",
             "pyproject.toml": TESTS["pyproject.toml"]}


def the_tests_own(world, entries, proj):
    """The learned modules the test installed (World.install), in order. A run
    also records the other modules it imported that the kernel did not hold,
    which depend on the stack (pytest 9 reads pyproject.toml with tomllib, say):
    those must be the interpreter's or installed code, never the project's."""
    names = [e["module"] for e in entries]
    code = ("import importlib.util, json, sys; "
            "print(json.dumps([getattr(importlib.util.find_spec(n), 'origin', None) for n in sys.argv[1:]]))")
    origins = json.loads(subprocess.run([PYTHON, "-c", code, *names], cwd=proj, env=world.env, capture_output=True,
                                        text=True, check=True).stdout)
    assert not [(n, o) for n, o in zip(names, origins) if o and o.startswith(str(proj))], (names, origins)
    return [n for n, o in zip(names, origins) if o and o.startswith(str(world.installed) + os.sep)]


def status(world, cwd):
    r = world.ltest("--status", "--json", cwd=cwd)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def preloaded(world, cwd):
    return {p["module"]: p.get("source") for p in status(world, cwd)["preloaded"]}


def restart(world, cwd):
    [server] = world.servers()
    assert world.ltest("--stop", cwd=cwd).returncode == 0
    assert wait_for(lambda: not alive(server["pid"]), 30)
    r = world.ltest("--", "-q", cwd=cwd)
    assert r.returncode == 0 and started_lines(r.stderr), r.stdout + r.stderr
    return r


def test_the_next_server_preloads_what_the_tests_imported(world, tmp_path):
    world.install("slowmod", SLOW_MODULE)
    proj = write_files(tmp_path / "proj", USES_SLOW)
    r = world.ltest("--", "-q", cwd=proj)
    assert r.returncode == 0, r.stdout + r.stderr
    # (this server imports it too, once idle: test_warm_second_run.py)
    [cache] = (world.cache_dir / "ltest").glob("*.json")
    assert cache.stat().st_mode & 0o777 == 0o600
    learned = json.loads(cache.read_text())
    assert learned["project_root"] == str(proj)
    assert the_tests_own(world, learned["modules"], proj) == ["slowmod"]
    assert next(m for m in learned["modules"] if m["module"] == "slowmod")["seconds"] >= 0.25

    restart(world, proj)
    s = status(world, proj)
    assert {"module": "slowmod", "source": "learned"}.items() <= next(
        p for p in s["preloaded"] if p["module"] == "slowmod").items(), s["preloaded"]
    assert the_tests_own(world, s["learned"]["modules"], proj) == ["slowmod"] and s["learned"]["warnings"] == []
    text = world.ltest("--status", cwd=proj).stdout
    assert "slowmod (0.3" in text and "learned" in text, text

    # [tool.ltest] exclude keeps it out; --forget clears what was learned.
    (proj / "pyproject.toml").write_text("[tool.ltest]\nexclude = ['slowmod']\n")
    restart(world, proj)
    assert "slowmod" not in preloaded(world, proj)
    (proj / "pyproject.toml").write_text(TESTS["pyproject.toml"])
    r = world.ltest("--forget", cwd=proj)
    assert r.returncode == 0 and f"forgot the preloads learned for {proj}" in r.stderr, r.stderr
    assert list((world.cache_dir / "ltest").glob("*.json")) == []
    restart(world, proj)
    assert "slowmod" not in preloaded(world, proj)


def test_a_bad_or_unwritable_cache_file_is_one_warning(world, tmp_path):
    world.install("slowmod", SLOW_MODULE)
    proj = write_files(tmp_path / "proj", USES_SLOW)
    assert world.ltest("--", "-q", cwd=proj).returncode == 0
    [cache] = (world.cache_dir / "ltest").glob("*.json")
    cache.write_text("{not json")
    r = restart(world, proj)
    warnings = [line for line in ltest_lines(r.stderr) if "warning" in line]
    assert len(warnings) == 1 and str(cache) in warnings[0], r.stderr
    assert "1 passed" in r.stdout
    assert the_tests_own(world, json.loads(cache.read_text())["modules"], proj) == ["slowmod"]  # the run rewrote it
    assert world.server_log().count(str(cache)) == 1

    # A cache directory that cannot be created: one warning, the runs pass.
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    world.env["XDG_CACHE_HOME"] = str(blocker)
    r = restart(world, proj)
    warnings = [line for line in ltest_lines(r.stderr) if "warning" in line]
    assert len(warnings) == 1 and "cannot keep learned preloads" in warnings[0], r.stderr
    r = world.ltest("--", "-q", cwd=proj)
    assert r.returncode == 0 and r.stderr == world.cold_stderr("-q", cwd=proj), r.stdout + r.stderr


def test_directories_without_a_project_marker_share_one_server(world, tmp_path):
    a = write_files(tmp_path / "scratch_a", {"test_a.py": TESTS["test_a.py"]})
    b = write_files(tmp_path / "scratch_b", {"test_b.py": TESTS["test_b.py"]})
    r = world.ltest("--", "-q", cwd=a)
    assert r.returncode == 0 and "1 passed" in r.stdout, r.stdout + r.stderr
    [line] = ltest_lines(r.stderr)
    assert line.startswith("ltest: started a server for directories without a project marker (python "), line
    assert os.path.samefile(named_python(line), PYTHON) and " on " in line, line
    assert pytest_stderr(r.stderr) == world.cold_stderr("-q", cwd=a), r.stderr
    r = world.ltest("--", "-q", cwd=b)
    assert r.returncode == 0 and "1 passed" in r.stdout, r.stdout + r.stderr
    assert r.stderr == world.cold_stderr("-q", cwd=b), r.stderr
    [server] = world.servers()
    assert "project_root" not in server and os.path.samefile(server["python"], PYTHON)
    r = world.ltest("--status", cwd=b)
    assert "project root:    none (shared by the directories without a project marker)" in r.stdout, r.stdout


def test_status_and_stop_without_a_server_name_the_project(world, tmp_path):
    proj = write_files(tmp_path / "proj", TESTS)
    for flag in ("--status", "--stop"):
        r = world.ltest(flag, cwd=proj)
        assert (r.returncode, r.stderr) == (69, f"ltest: no ltest server for this project ({proj}); "
                                                "`ltest -- ARGS` starts one\n")
    scratch = write_files(tmp_path / "scratch", {"test_a.py": TESTS["test_a.py"]})
    r = world.ltest("--status", cwd=scratch)
    assert (r.returncode, r.stderr) == (69, f"ltest: no ltest server for this project ({scratch} has no project "
                                            "marker; such directories share one server); `ltest -- ARGS` starts one\n")


def test_a_failed_auto_start_is_one_line_with_the_logs_last_line(world, tmp_path):
    proj = write_files(tmp_path / "proj", dict(TESTS, **{
        "pyproject.toml": "[tool.ltest]\npreload = ['no_such_module_for_ltest']\n"}))
    r = world.ltest("--", "-q", cwd=proj)
    [log] = world.runtime_dir.glob("ltest-*.log")
    last = [line for line in log.read_text().splitlines() if line][-1]
    assert last.startswith("ltest: preload failed: ModuleNotFoundError"), last
    assert (r.returncode, r.stdout) == (78, "")
    assert r.stderr == f"ltest: could not start a server for {proj}: {last[len('ltest: '):]} (log: {log})\n"


WAITS = {"test_wait.py": """
import os, pathlib, time
def test_waits():
    pathlib.Path(os.environ["LTEST_STARTED"]).write_text("")
    for _ in range(6000):  # until the server is killed (a minute at most)
        time.sleep(0.01)
"""}


def test_a_server_killed_mid_run_tells_its_client_what_died(world, tmp_path):
    proj = write_files(tmp_path / "proj", dict(TESTS, **WAITS))
    assert world.ltest("--", "-q", "test_a.py", cwd=proj).returncode == 0
    [server] = world.servers()
    started = tmp_path / "started"
    world.env["LTEST_STARTED"] = str(started)
    client = world.popen("--", "-q", "test_wait.py", cwd=proj, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert wait_for(started.exists, 120), client.communicate(timeout=5)
    os.kill(server["pid"], signal.SIGKILL)
    out, err = client.communicate(timeout=60)
    log = world.runtime_dir / f"ltest-{server['port']}.log"
    assert client.returncode == 69, out + err
    # What pytest said before the kill (pytest-asyncio 1.x warns at start-up), then ltest's line.
    assert pytest_stderr(err) == world.cold_stderr("-q", "test_a.py", cwd=proj), err
    assert ltest_lines(err) == [f"ltest: the ltest server for {proj} (pid {server['pid']}) died during the run, and its kernel and "
                   f"the run's tests with it; its log: {log}; the next `ltest -- ARGS` starts a new one"]
    r = world.ltest("--", "-q", "test_a.py", cwd=proj)
    assert r.returncode == 0 and "1 passed" in r.stdout and started_lines(r.stderr), r.stdout + r.stderr
