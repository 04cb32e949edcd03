"""Warm from the second run, whatever you type (issue 28): what a run learns
warms the server it runs on. A fresh project with no configuration whose
tests import a slow third-party module (installed for the test alone:
zeroconf.World.install); the server the first run started imports it while idle, and a
later run with other arguments starts from a process that holds it."""
import json
import os
import time

from conftest import wait_for, write_files
from zeroconf import world  # noqa: F401 (fixture)

SLOW_MODULE = "import time\ntime.sleep(0.3)  # a slow third-party import\nVALUE = 42\n"
# Says who imports it, when (the kernel's pid in a file named after it), then takes its time.
SLOWER_MODULE = ("import os, time\n"
                 "open(os.path.join(os.path.dirname(__file__), f'importing-{os.getpid()}'), 'w').close()\n"
                 "time.sleep(4)\nVALUE = 43\n")
TESTS = {
    "test_slow.py": "def test_uses_slowmod():\n    import slowmod\n    assert slowmod.VALUE == 42\n",
    # Passes only in a test process that started with slowmod already imported: the kernel held it.
    "test_held.py": "import sys\n\ndef test_the_kernel_held_it():\n    assert 'slowmod' in sys.modules\n",
}


def status(world, cwd):
    r = world.ltest("--status", "--json", cwd=cwd)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def learned_entry(s, name):
    return next((m for m in (s.get("learned") or {}).get("modules", []) if m["module"] == name), None)


def held(world, cwd, name):
    entry = learned_entry(status(world, cwd), name)
    return entry is not None and entry.get("held") is True


def test_the_third_run_with_other_arguments_starts_warm_on_the_first_server(world, tmp_path):
    world.install("slowmod", SLOW_MODULE)
    proj = write_files(tmp_path / "proj", TESTS)
    r = world.ltest("--", "-q", "test_slow.py", cwd=proj)
    assert r.returncode == 0 and "1 passed" in r.stdout, r.stdout + r.stderr
    [server] = world.servers()
    r = world.ltest("--", "test_slow.py", "-k", "uses", cwd=proj)
    assert r.returncode == 0 and "1 passed" in r.stdout, r.stdout + r.stderr

    # Learned from the first run, then imported by this kernel while idle.
    assert wait_for(lambda: held(world, proj, "slowmod"), 60), status(world, proj)
    s = status(world, proj)
    assert s["server_pid"] == server["pid"] and s["restarts"] == 0
    entry = next(p for p in s["preloaded"] if p["module"] == "slowmod")
    assert entry["source"] == "learned" and entry["seconds"] >= 0.25, s["preloaded"]
    assert "slowmod" in s["learned"]["held"]
    text = world.ltest("--status", cwd=proj).stdout
    assert "slowmod (0.3" in text and "held by the kernel" in text, text
    assert "preloaded slowmod in" in world.server_log() and "imported while idle" in world.server_log()

    # The third run, other arguments than the first two: its test process started holding slowmod,
    # on the first server (no start line). Speed is bench/zero_config's (the third run against cold).
    r = world.ltest("--json", "--", "-q", "test_held.py", cwd=proj)
    assert r.returncode == 0 and "1 passed" in r.stdout, r.stdout + r.stderr
    assert "ltest: start" not in r.stderr, r.stderr
    reply = json.loads(r.stdout.strip().splitlines()[-1])
    assert reply["learned_held"] == ["slowmod"], reply
    assert [s["pid"] for s in world.servers()] == [server["pid"]]
    s = status(world, proj)
    assert s["server_pid"] == server["pid"] and s["restarts"] == 0
    # At a user's pace, a run with other arguments again starts in a spare that practised while
    # idle (pytest warm, slowmod held), not in a fork made for it.
    for pause in (0.5, 1, 2, 4, 8, 16):
        time.sleep(pause)
        r = world.ltest("--json", "--", "-q", "test_held.py", "-k", "held" if pause % 2 else "kernel", cwd=proj)
        assert r.returncode == 0 and "1 passed" in r.stdout and "ltest: start" not in r.stderr, r.stdout + r.stderr
        reply = json.loads(r.stdout.strip().splitlines()[-1])
        assert reply["learned_held"] == ["slowmod"], reply
        if reply["practised"]:
            break
    assert reply["practised"] and reply["spare"] in ("ready", "layered", "prepared"), reply
    assert [s["pid"] for s in world.servers()] == [server["pid"]]


def test_a_notebook_cell_sent_while_the_kernel_imports_returns(world, tmp_path):
    from jupyter_client import BlockingKernelClient
    site_dir = world.install("slowermod", SLOWER_MODULE)
    proj = write_files(tmp_path / "proj", {"test_slower.py": "def test_it():\n    import slowermod\n"})
    r = world.ltest("--", "-q", cwd=proj)
    assert r.returncode == 0, r.stdout + r.stderr
    s = status(world, proj)
    kernel_pid = s["kernel_pid"]
    marker = os.path.join(site_dir, f"importing-{kernel_pid}")
    assert wait_for(lambda: os.path.exists(marker), 60), "the kernel never began to import slowermod"
    kc = BlockingKernelClient(connection_file=s["connection_file"])
    kc.load_connection_file()
    kc.start_channels()
    try:
        # Sent while the kernel imports: it waits for that import at most, then runs.
        reply = kc.execute_interactive("ltest_cell = 6 * 7", timeout=120, output_hook=lambda m: None)
        assert reply["content"]["status"] == "ok", reply["content"]
        reply = kc.execute_interactive("", user_expressions={"v": "sorted(k for k in globals() if not k.startswith('_'))"},
                                       timeout=60, output_hook=lambda m: None)
        names = reply["content"]["user_expressions"]["v"]["data"]["text/plain"]
        assert "slowermod" not in names and "ltest_cell" in names, names  # the namespace is the notebook's alone
    finally:
        kc.stop_channels()
    assert wait_for(lambda: held(world, proj, "slowermod"), 60), status(world, proj)
    r = world.ltest("--json", "--", "-q", "-k", "it", cwd=proj)
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1])["learned_held"] == ["slowermod"]


def test_pytest_flags_before_the_double_dash_go_to_pytest_and_a_typo_gets_its_nearest_flag(world, tmp_path):
    proj = write_files(tmp_path / "proj", {"test_n.py": "def test_normalize():\n    pass\n\ndef test_other():\n    pass\n"})
    r = world.ltest("-v", "-k", "normalize", cwd=proj)  # as `pytest -v -k normalize`
    assert r.returncode == 0, r.stdout + r.stderr
    assert "test_n.py::test_normalize PASSED" in r.stdout and "1 deselected" in r.stdout, r.stdout
    r = world.ltest("-m", "slow", "-x", cwd=proj)  # a marker expression: nothing selected, pytest's exit 5
    assert r.returncode == 5 and "2 deselected" in r.stdout, r.stdout + r.stderr
    r = world.ltest("--wacth", cwd=proj)
    assert (r.returncode, r.stderr) == (64, "ltest: unknown flag --wacth; did you mean --watch?\n")
    r = world.ltest("-q", "--tb=line", "test_n.py", cwd=proj)
    assert (r.returncode, r.stderr) == (64, "ltest: --tb=line is not an ltest flag; pytest arguments go after `--`: "
                                            "ltest -- -q --tb=line test_n.py\n")
