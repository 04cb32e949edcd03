"""Runs in a spare prepared for them (in_test_process/prepared.py): pytest
configured and the project's own modules imported ahead, for the request the
last run made. Each must come out as cold pytest does, whether it found the
spare prepared or not, and an edit must be seen by the very next run."""
import json
import subprocess
import time

import pytest

from conftest import ltest_binary, write_files
from fidelity_helpers import client_env, cold, normalised, run_on_pty

PACKAGE = {
    "pytest.ini": "[pytest]\n",
    "mypkg/__init__.py": "import json, decimal\nfrom .core import value\n",
    "mypkg/core.py": "VALUE = 1\n\ndef value():\n    return VALUE\n",
    "conftest.py": "import pytest\n\n@pytest.fixture\ndef base():\n    return 10\n",  # mypkg: the layer imports it
    "tests/helpers.py": "def double(x):\n    return 2 * x\n",  # imported through the path pytest adds: left to the run
    "tests/test_pkg.py": (
        "import warnings\nimport mypkg\nfrom helpers import double\n\n"
        "def test_value(base):\n    print('VALUE', mypkg.value())\n    assert base + double(mypkg.value()) > 0\n\n"
        "def test_diff():\n    assert {'a': [1, 2], 'b': mypkg.value()} == {'a': [1, 3], 'b': mypkg.value()}\n\n"
        "def test_warns():\n    warnings.warn('from a test', UserWarning)\n"),
}
PAUSES = (0.3, 0.6, 1, 2, 4, 8, 16)  # idle time for the background preparation, on a busy machine too


@pytest.fixture
def server(shared_server):
    return shared_server  # one warm server (json preloaded) for the module


def run(server, root, *args, env=None):
    """(reply, output without the reply line, exit code) of one ltest run."""
    p = subprocess.run([ltest_binary(), "-p", str(server.port), "--json", "--", *args], cwd=root,
                       env=env or client_env(server), capture_output=True, text=True, timeout=120)
    lines = p.stdout.strip().splitlines()
    return json.loads(lines[-1]), "\n".join(lines[:-1]), p.returncode


def runs_until_prepared(server, root, *args, check, env=None):
    """Runs until one found its spare prepared; check(output, code) on every run."""
    for pause in PAUSES:
        time.sleep(pause)
        reply, out, code = run(server, root, *args, env=env)
        check(out, code)
        if reply["prepared"]:
            return reply
    pytest.fail(f"no run found its spare prepared: {reply}")


def same_as_cold(server, root, *args, env=None):
    c = cold(*args, cwd=root, env=env or client_env(server))
    expected = normalised(c.stdout.strip())

    def check(out, code):
        assert (normalised(out), code) == (expected, c.returncode)
    return check


def test_a_rerun_found_prepared_prints_what_cold_pytest_prints(server, tmp_path):
    root = write_files(tmp_path, PACKAGE)
    args = ("-q", "-rA", "-s")
    reply = runs_until_prepared(server, root, *args, check=same_as_cold(server, root, *args))
    assert reply["prestarted"] and reply["practised"]


def test_on_a_terminal_too(server, tmp_path):
    root = write_files(tmp_path, PACKAGE)
    env = client_env(server)
    _, expected = run_on_pty([*cold_command(), "-rA"], root, env, columns=97)
    for pause in PAUSES:
        time.sleep(pause)
        code, out = run_on_pty([ltest_binary(), "-p", str(server.port), "--json", "--", "-rA"], root, env, 97)
        lines = out.strip().splitlines()
        assert lines and lines[-1].startswith("{"), f"no reply line (exit {code}):\n{out}"
        reply = json.loads(lines[-1])
        assert normalised("\n".join(lines[:-1])) == normalised("\n".join(expected.strip().splitlines()))
        if reply["prepared"]:
            return
    pytest.fail("no run on the terminal found its spare prepared")


def cold_command():
    from conftest import PYTHON
    return [PYTHON, "-m", "pytest"]


def test_every_run_after_an_edit_sees_it_and_the_next_spare_is_prepared_with_it(server, tmp_path):
    root = write_files(tmp_path, PACKAGE)
    args = ("-q", "-s", "-p", "no:cacheprovider")
    runs_until_prepared(server, root, *args, check=lambda out, code: None)
    for value in (2, 3):
        (root / "mypkg" / "core.py").write_text(f"VALUE = {value}\n\ndef value():\n    return VALUE\n")
        as_cold = same_as_cold(server, root, *args)

        def check(out, code, value=value):
            assert f"VALUE {value}" in out, out
            as_cold(out, code)
        check(*run(server, root, *args)[1:])  # at once: the spare prepared with the old code is not used
        runs_until_prepared(server, root, *args, check=check)


def test_a_new_or_edited_conftest_or_ini_file_is_seen(server, tmp_path):
    root = write_files(tmp_path, {**PACKAGE, "conftest.py": "import mypkg\n"})
    (root / "tests" / "test_fixture.py").write_text("def test_uses_a_fixture(extra):\n    assert extra == 5\n")
    args = ("-q", "-p", "no:cacheprovider", "tests/test_fixture.py")
    runs_until_prepared(server, root, *args, check=lambda out, code: None)
    (root / "conftest.py").write_text("import pytest\n\n@pytest.fixture\ndef extra():\n    return 5\n")
    reply, out, code = run(server, root, *args)
    assert code == 0, out
    runs_until_prepared(server, root, *args, check=lambda out, code: None)
    (root / "pytest.ini").write_text("[pytest]\naddopts = -rA\n")
    reply, out, code = run(server, root, *args)
    assert "PASSED tests/test_fixture.py::test_uses_a_fixture" in out, out


@pytest.mark.parametrize("module, args", [
    ("import warnings\nwarnings.warn('mypkg is old', DeprecationWarning)\nVALUE = 1\n", ("-q", "-rA")),
    ("import warnings\nwarnings.warn('mypkg is old', DeprecationWarning)\nVALUE = 1\n",
     ("-q", "-W", "error::DeprecationWarning")),
    ("print('mypkg imported')\nVALUE = 1\n", ("-q", "-s")),
    ("import not_a_module_anywhere\nVALUE = 1\n", ("-q",)),  # the traceback shows no frame of ltest's
], ids=["warns", "warns-as-error", "prints", "fails"])
def test_a_project_module_that_warns_or_prints_at_import_comes_out_as_cold(server, tmp_path, module, args):
    root = write_files(tmp_path, {**PACKAGE,
                                  "mypkg/core.py": module + "\ndef value():\n    return VALUE\n"})
    check = same_as_cold(server, root, *args)
    for pause in PAUSES[:4]:  # prepared or not, every run as cold
        time.sleep(pause)
        check(*run(server, root, *args)[1:])


def test_a_request_other_than_the_prediction_runs_unprepared_and_as_cold(server, tmp_path):
    root = write_files(tmp_path, PACKAGE)
    runs_until_prepared(server, root, "-q", check=lambda out, code: None)
    reply, out, code = run(server, root, "-q", "-k", "diff")
    assert not reply["prepared"], reply
    c = cold("-q", "-k", "diff", cwd=root, env=client_env(server))
    assert (normalised(out), code) == (normalised(c.stdout.strip()), c.returncode)


def test_runs_with_ltest_prepare_0_are_never_prepared(server, tmp_path):
    root = write_files(tmp_path, PACKAGE)
    env = client_env(server, LTEST_PREPARE="0")
    check = same_as_cold(server, root, "-q", env=env)
    for pause in PAUSES[:5]:  # time enough, on a busy machine too, for a preparation that should not happen
        time.sleep(pause)
        reply, out, code = run(server, root, "-q", env=env)
        check(out, code)
        assert not reply["prepared"], reply


PLUGIN_FIXTURES = (
    "import pytest\n\n@pytest.fixture(scope='session')\ndef from_plugin():\n    return 'plugin'\n\n"
    "@pytest.fixture\ndef base():\n    return 1  # the conftest's base overrides it\n")
LATE_FIXTURE = (
    "\ndef pytest_configure(config):\n    @pytest.fixture\n    def added_at_configure():\n        return 'late'\n"
    "    globals()['added_at_configure'] = added_at_configure\n")


@pytest.mark.parametrize("late", [False, True], ids=["plugin", "plugin-adding-a-fixture-at-configure"])
@pytest.mark.parametrize("shown", ["--setup-show", "--fixtures"])
def test_fixtures_of_plugins_and_conftests_resolve_as_cold(server, tmp_path, late, shown):
    """The plugins' fixtures are parsed ahead (fixtures_ahead.py): which one
    wins, their set-up order and pytest's listing of them are a cold run's."""
    uses = "from_plugin, base, which" + (", added_at_configure" if late else "")
    root = write_files(tmp_path, {**PACKAGE, "plug_fixtures.py": PLUGIN_FIXTURES + (LATE_FIXTURE if late else ""),
                                  # two plugins with the same fixture: the one registered last wins
                                  "plug_a.py": "import pytest\n\n@pytest.fixture\ndef which():\n    return 'a'\n",
                                  "plug_b.py": "import pytest\n\n@pytest.fixture\ndef which():\n    return 'b'\n",
                                  "tests/test_fixtures.py": (f"def test_f({uses}):\n    print('WHICH', which)\n"
                                                             "    assert base == 10\n")})
    args = ("-q", "-s", shown, "-p", "plug_fixtures", "-p", "plug_a", "-p", "plug_b", "-p", "no:cacheprovider",
            "tests/test_fixtures.py")
    runs_until_prepared(server, root, *args, check=same_as_cold(server, root, *args))


def test_an_edited_test_module_is_collected_from_its_new_bytes(server, tmp_path):
    """The last run's test modules are compiled ahead (rewrite_ahead.py), by
    their bytes: an edit, watched or not, gives the run the new code."""
    root = write_files(tmp_path, PACKAGE)
    args = ("-q", "-p", "no:cacheprovider", "tests/test_pkg.py")
    runs_until_prepared(server, root, *args, check=same_as_cold(server, root, *args))
    test_file = root / "tests" / "test_pkg.py"
    test_file.write_text(test_file.read_text() + "\ndef test_added():\n    assert mypkg.value() == 2\n")
    as_cold = same_as_cold(server, root, *args)

    def check(out, code):
        assert "FAILED tests/test_pkg.py::test_added" in out, out
        as_cold(out, code)
    check(*run(server, root, *args)[1:])
    runs_until_prepared(server, root, *args, check=check)


# The edited conftest holds its preparation at a gate: files in a directory outside the project
# (a file the preparation made in the project's directory would count as an edit made while it read).
GATED_CONFTEST = ("import os, time\nopen(os.path.join({gate!r}, f'preparing-{{os.getpid()}}'), 'w').close()\n"
                  "while not os.path.exists(os.path.join({gate!r}, 'open')):\n    time.sleep(0.02)\n")


def test_a_run_that_arrives_while_its_spare_is_prepared_takes_that_spare(server, tmp_path):
    # Issue 28: a run never starts over what is already under way for it.
    from conftest import wait_for
    gate = tmp_path / "gate"
    gate.mkdir()
    marking = f"import os\nopen(os.path.join({str(gate)!r}, f'read-{{os.getpid()}}'), 'w').close()\n"
    root = write_files(tmp_path / "gated", {"pytest.ini": "[pytest]\n", "conftest.py": marking,
                                            "test_x.py": "def test_x():\n    pass\n"})
    reply, out, code = run(server, root, "-q")
    assert code == 0, out
    # The spare prepared for `-q` has read the first conftest (the run read it too): an edit
    # made earlier, while that preparation read, would cut it short after the gate opens.
    assert wait_for(lambda: len(list(gate.glob("read-*"))) >= 2, 60)
    # The edit drops (or cuts short) the spare prepared for `-q`; the next one stops at the gate.
    (root / "conftest.py").write_text(GATED_CONFTEST.format(gate=str(gate)))
    assert wait_for(lambda: list(gate.glob("preparing-*")), 60)
    p = subprocess.Popen([ltest_binary(), "-p", str(server.port), "--json", "--", "-q"], cwd=root,
                         env=client_env(server), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # The kernel has the run and waits for that spare (it has not taken the run yet).
        assert wait_for(lambda: any(r["phase"] == "handing_over" and r["cwd"] == str(root)
                                    for r in server.status()["in_flight"]), 60)
        (gate / "open").write_text("")
        out, err = p.communicate(timeout=120)
    finally:
        p.kill()
    assert p.returncode == 0 and "1 passed" in out, out + err
    reply = json.loads(out.strip().splitlines()[-1])
    assert reply["prepared"] and reply["spare"] == "prepared" and reply["waited"] > 0, json.dumps(reply)
    assert len(list(gate.glob("preparing-*"))) == 1  # the run imported nothing again: its spare had
