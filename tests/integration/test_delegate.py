"""ltest.delegate: a plain `python -m pytest ARGS` (or a script's
pytest.main) opted in with `-p ltest.delegate` or `[tool.ltest] delegate =
true` runs in the project's warm server, with cold pytest's output and exit
code; plugins and environment the caller adds (a result pipe named in the
environment, as VS Code's plugin has; teamcity-messages, as PyCharm uses)
work as in a cold run. Real servers, real pytest; the pytest11 entry point
is made real by a *.dist-info on a site directory, as an installed wheel's."""
import json
import os
import re
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest

from conftest import PYTHON, ROOT, ltest_binary, write_files
from zeroconf import world  # noqa: F401 (fixture)

SHARE = os.environ.get("LTEST_SHARE_DIR") or str(ROOT / "share" / "ltest")

SUITE = {
    "test_sample.py": """\
        import pytest

        def test_prints():
            print("printed by a test")

        def test_fails():
            assert 1 + 1 == 3

        @pytest.mark.parametrize("n", [1, 2, 3])
        def test_param(n):
            assert n

        @pytest.mark.skip(reason="not today")
        def test_skipped():
            pass
        """,
}

FIFO_PLUGIN = """\
    # A plugin that reports to its caller through a pipe named in the
    # environment, as VS Code's vscode_pytest does.
    import json
    import os

    _pipe = None

    def pytest_configure(config):
        global _pipe
        _pipe = open(os.environ["RESULT_FIFO"], "w")

    def pytest_runtest_logreport(report):
        if report.when == "call" or report.outcome != "passed":
            _pipe.write(json.dumps([report.nodeid, report.when, report.outcome]) + "\\n")
            _pipe.flush()

    def pytest_unconfigure(config):
        _pipe.write(json.dumps(["done"]) + "\\n")
        _pipe.close()
    """

# As VS Code's run script: pytest.main with its plugin in front of the given arguments.
RUN_SCRIPT = """\
    import sys
    import pytest
    pytest.main(["-p", "fifo_reporter", *sys.argv[1:]])
    print("not reached: pytest.main ends with the run's exit code")
    """


def project(tmp_path, pyproject="[project]\nname = 'proj'\n"):
    return write_files(tmp_path / "proj", {**SUITE, "pyproject.toml": pyproject})


def same_modulo_time(text):
    return re.sub(r" in \d+\.\d+s", " in Ts", text)


def env_with(world, *pythonpath, client=True):
    env = dict(world.env)
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in pythonpath)
    path = [p for p in env["PATH"].split(os.pathsep) if not os.path.isfile(os.path.join(p, "ltest"))]
    env["PATH"] = os.pathsep.join(([os.path.dirname(ltest_binary())] if client else []) + path)
    return env


def pytest_run(cwd, env, *args, script=None):
    command = [PYTHON, str(script), *args] if script else [PYTHON, "-m", "pytest", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def start_server(world, proj):
    """A server for the project, started by a plain `ltest --` run."""
    first = world.ltest("--python", PYTHON, "--", "-q", cwd=proj)
    assert first.returncode == 1 and "ltest: started a server" in first.stderr, first.stdout + first.stderr
    [server] = world.servers()
    return server["pid"]


def runs_served(world, proj):
    status = world.ltest("--status", "--json", cwd=proj)
    assert status.returncode == 0, status.stderr
    return json.loads(status.stdout)["runs"]


def entry_point_site(tmp_path):
    """A site directory where an installed distribution registers
    ltest.delegate as pytest11 entry point `ltest-delegate`, as the wheel does."""
    info = tmp_path / "site" / "ltest_delegate_probe-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ltest-delegate-probe\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[pytest11]\nltest-delegate = ltest.delegate\n")
    return tmp_path / "site"


def assert_warm_as_cold(world, proj, server_pid, runs_before, cold, warm):
    assert warm.returncode == cold.returncode == 1, warm.stdout + warm.stderr
    assert same_modulo_time(warm.stdout) == same_modulo_time(cold.stdout)
    assert "1 failed, 4 passed, 1 skipped" in warm.stdout
    assert warm.stderr == cold.stderr and "ltest:" not in warm.stderr  # no start line: the server was running
    assert [s["pid"] for s in world.servers()] == [server_pid]
    assert runs_served(world, proj) == runs_before + 1  # this server ran it (and `--status` is no run)


def test_p_ltest_delegate_runs_warm_with_cold_output(world, tmp_path):
    proj = project(tmp_path)
    server = start_server(world, proj)
    runs = runs_served(world, proj)
    env = env_with(world, SHARE)
    cold = pytest_run(proj, env, "-q")
    assert runs_served(world, proj) == runs  # a cold run never reaches the server
    warm = pytest_run(proj, env, "-q", "-p", "ltest.delegate")
    assert_warm_as_cold(world, proj, server, runs, cold, warm)
    # PYTEST_ADDOPTS reaches the warm test process too, which loads the plugin and stays itself.
    warm = pytest_run(proj, dict(env, PYTEST_ADDOPTS="-p ltest.delegate"), "-q")
    assert_warm_as_cold(world, proj, server, runs + 1, cold, warm)


@pytest.mark.parametrize("also_p", [False, True], ids=["entry_point", "entry_point_and_p"])
def test_delegate_true_via_the_entry_point_runs_warm(world, tmp_path, also_p):
    proj = project(tmp_path, "[project]\nname = 'proj'\n\n[tool.ltest]\ndelegate = true\n")
    server = start_server(world, proj)
    runs = runs_served(world, proj)
    env = env_with(world, entry_point_site(tmp_path), SHARE)
    cold = pytest_run(proj, env, "-q", "-p", "no:ltest-delegate")
    assert runs_served(world, proj) == runs
    # With the entry point installed, -p ltest.delegate loads the same module
    # once more by another name: no "Plugin already registered".
    warm = pytest_run(proj, env, "-q", *(["-p", "ltest.delegate"] if also_p else []))
    assert_warm_as_cold(world, proj, server, runs, cold, warm)


def test_the_entry_point_alone_is_inert(world, tmp_path):
    """Installed but not opted in: every pytest run imports it, and it does nothing."""
    proj = project(tmp_path, "[project]\nname = 'proj'\n\n[tool.ltest]\nidle = 600\n")
    start_server(world, proj)
    runs = runs_served(world, proj)
    env = env_with(world, entry_point_site(tmp_path), SHARE)
    loaded = pytest_run(proj, env, "-q", "--trace-config", "--co")
    assert "PLUGIN registered: <module 'ltest.delegate'" in loaded.stdout  # the entry point is real: pytest loaded it
    plain = pytest_run(proj, env, "-q", "-p", "no:ltest-delegate")
    run = pytest_run(proj, env, "-q")
    assert run.returncode == plain.returncode == 1
    assert same_modulo_time(run.stdout) == same_modulo_time(plain.stdout) and run.stderr == plain.stderr
    assert runs_served(world, proj) == runs


def test_without_a_client_the_run_stays_cold_with_one_line(world, tmp_path):
    proj = project(tmp_path)
    env = env_with(world, SHARE, client=False)
    cold = pytest_run(proj, env, "-q")
    run = pytest_run(proj, env, "-q", "-p", "ltest.delegate")
    assert run.returncode == cold.returncode == 1
    assert same_modulo_time(run.stdout) == same_modulo_time(cold.stdout)
    first, *rest = run.stderr.splitlines()
    assert first.startswith("ltest.delegate: no ltest client found") and first.endswith("running cold"), run.stderr
    assert rest == cold.stderr.splitlines()  # (on some stacks a plugin's own deprecation warning)
    assert world.servers() == []


def read_fifo(path, into):
    with open(path) as f:
        into.extend(json.loads(line) for line in f)


def fifo_results(proj, env, fifo, *args, script=None):
    """The results the plugin sent through the FIFO during one run, and the run."""
    received = []
    reader = threading.Thread(target=read_fifo, args=(fifo, received))
    reader.start()
    run = pytest_run(proj, dict(env, RESULT_FIFO=str(fifo)), *args, script=script)
    if reader.is_alive() and not received:  # the plugin never opened it: end the reader's wait
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    reader.join()
    return run, received


@pytest.mark.parametrize("how", ["python_m_pytest", "script_pytest_main"])
def test_a_plugin_writing_to_a_fifo_named_in_the_environment_gets_every_result(world, tmp_path, how):
    proj = project(tmp_path)
    helpers = write_files(tmp_path / "helpers", {"fifo_reporter.py": FIFO_PLUGIN, "run_script.py": RUN_SCRIPT})
    fifo = tmp_path / "results.fifo"
    os.mkfifo(fifo)
    server = start_server(world, proj)
    runs = runs_served(world, proj)
    env = env_with(world, helpers, SHARE)
    if how == "python_m_pytest":
        args, script = ("-q", "-p", "fifo_reporter"), None
    else:
        args, script = ("-q",), helpers / "run_script.py"
    cold, cold_results = fifo_results(proj, env, fifo, *args, script=script)
    warm, warm_results = fifo_results(proj, env, fifo, *args, "-p", "ltest.delegate", script=script)
    assert cold_results[-1] == ["done"] and len(cold_results) == 7, cold_results  # 6 tests, and the end
    assert sorted(warm_results) == sorted(cold_results), (warm_results, warm.stdout + warm.stderr)
    if script is None:
        assert_warm_as_cold(world, proj, server, runs, cold, warm)
    else:  # the script's own lines after pytest.main: cold prints it, delegated pytest.main ends the script
        assert cold.returncode == 0 and "not reached" in cold.stdout
        assert warm.returncode == 1 and warm.stderr == cold.stderr, warm.stderr
        assert same_modulo_time(warm.stdout) + "not reached: pytest.main ends with the run's exit code\n" \
            == same_modulo_time(cold.stdout)
        assert runs_served(world, proj) == runs + 1


def teamcity_site(tmp_path):
    """A site directory holding teamcity-messages (PyCharm's and TeamCity's
    pytest plugin, pure Python: its wheel unpacked is installed), or None
    when the interpreter has it already."""
    if subprocess.run([PYTHON, "-c", "import teamcity.pytest_plugin"], capture_output=True).returncode == 0:
        return None
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ltest-dev" / "wheels"
    wheels = sorted(cache.glob("teamcity_messages-*.whl"))
    if not wheels:
        for pip in (PYTHON, sys.executable):
            if subprocess.run([pip, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d",
                               str(cache), "teamcity-messages"], capture_output=True, timeout=300).returncode == 0:
                break
        wheels = sorted(cache.glob("teamcity_messages-*.whl"))
    if not wheels:
        pytest.skip(f"teamcity-messages is neither installed for {PYTHON} nor downloadable from PyPI into {cache}")
    site = tmp_path / "tc-site"
    with zipfile.ZipFile(wheels[-1]) as wheel:
        wheel.extractall(site)
    return site


def service_messages(text):
    """The ##teamcity lines, without what differs from run to run."""
    messages = re.findall(r"##teamcity\[(?:[^]|]|\|.)*\]", text)  # | escapes a ] in a value
    return [re.sub(r" (timestamp|duration)='[^']*'", "", m) for m in messages]


def test_teamcity_service_messages_equal_a_cold_runs(world, tmp_path):
    proj = project(tmp_path)
    site = teamcity_site(tmp_path)
    server = start_server(world, proj)
    runs = runs_served(world, proj)
    env = env_with(world, *([site] if site else []), SHARE)
    cold = pytest_run(proj, env, "--teamcity")
    warm = pytest_run(proj, env, "--teamcity", "-p", "ltest.delegate")
    messages = service_messages(cold.stdout)
    assert any("testFailed" in m and "test_fails" in m for m in messages), cold.stdout
    assert warm.returncode == cold.returncode == 1 and warm.stderr == cold.stderr
    assert service_messages(warm.stdout) == messages
    assert [s["pid"] for s in world.servers()] == [server] and runs_served(world, proj) == runs + 1
