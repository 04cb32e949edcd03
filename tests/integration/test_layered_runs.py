"""A run with other arguments than the last, in the same project, finds the
project's own modules imported ahead (in_test_process/layered.py: a plain
spare that holds the project's layer), and comes out as cold pytest does;
only the exact prediction also has pytest configured ahead (issue 28)."""
import json
import os
import subprocess
import time

import pytest

from conftest import ltest_binary, wait_for, write_files
from fidelity_helpers import client_env, cold, normalised

PAUSES = (0.3, 0.6, 1, 2, 4, 8, 16)  # idle time for the background preparation, on a busy machine too


def project(tmp_path, conftest="import pytest\n"):
    """A project whose own package notes each process that imports it (a
    file per pid, outside the project: one inside would be an edit)."""
    marks = tmp_path / "marks"
    marks.mkdir()
    root = write_files(tmp_path / "proj", {
        "pytest.ini": "[pytest]\n",
        "conftest.py": conftest,
        "mypkg/__init__.py": (f"import os\nopen(os.path.join({str(marks)!r}, f'imported-{{os.getpid()}}'), 'w')"
                              ".close()\nfrom .core import value\n"),
        # Imported as cold imports it: in the environment pytest's main gives (PYTEST_VERSION from pytest 8.2).
        "mypkg/core.py": "import os\nUNDER_PYTEST = 'PYTEST_VERSION' in os.environ\n\ndef value():\n    return 1\n",
        "tests/test_pkg.py": (
            "import os\nimport mypkg\n\n"
            f"def test_value():\n    open(os.path.join({str(marks)!r}, f'ran-{{os.getpid()}}'), 'w').close()\n"
            "    assert mypkg.value() == 1\n"
            "    assert mypkg.core.UNDER_PYTEST == ('PYTEST_VERSION' in os.environ)\n\n"
            "def test_diff():\n    assert {'a': [1, 2]} == {'a': [1, 3]}\n"),
    })
    return root, marks


def run(server, root, *args):
    p = subprocess.run([ltest_binary(), "-p", str(server.port), "--json", "--", *args], cwd=root,
                       env=client_env(server), capture_output=True, text=True, timeout=120)
    lines = p.stdout.strip().splitlines()
    return json.loads(lines[-1]), "\n".join(lines[:-1]), p.returncode


def imported(marks):
    return {p.name.split("-")[1] for p in marks.glob("imported-*")}


def ran(marks):
    return {p.name.split("-")[1] for p in marks.glob("ran-*")}


def prepared_then_both_spares_ready(server, root, marks):
    """Runs `-q` until one found its spare prepared; then waits until both
    spares hold the project (the prepared one, the layered one: imported,
    not run)."""
    for pause in PAUSES:
        time.sleep(pause)
        reply, out, code = run(server, root, "-q")
        assert code == 1, out
        if reply["prepared"]:
            break
    else:
        pytest.fail(f"no run found its spare prepared: {reply}")
    assert wait_for(lambda: len(imported(marks) - ran(marks)) >= 2, 60), (imported(marks), ran(marks))
    return imported(marks)


@pytest.fixture
def server(shared_server):
    return shared_server


@pytest.mark.parametrize("args", [("-q", "-k", "value"), ("-q", "tests/test_pkg.py::test_value"), ("-x", "-rA")])
def test_a_run_with_other_arguments_finds_the_project_imported_and_runs_as_cold(server, tmp_path, args):
    root, marks = project(tmp_path)
    c = cold(*args, cwd=root, env=client_env(server))
    for _ in range(4):  # a loaded machine may have a spare still at work when the run comes: then again
        ahead = prepared_then_both_spares_ready(server, root, marks)
        ran_before = ran(marks)
        reply, out, code = run(server, root, *args)
        assert (normalised(out), code) == (normalised(c.stdout.strip()), c.returncode)  # whichever spare
        if reply["spare"] == "layered":
            break
    assert reply["spare"] == "layered" and not reply["prepared"] and reply["practised"], reply
    assert ran(marks) - ran_before <= ahead and ran(marks) - ran_before, (ran(marks), ahead)  # imported ahead


def test_arguments_that_may_load_other_plugins_or_files_take_a_plain_spare(server, tmp_path):
    root, marks = project(tmp_path)
    prepared_then_both_spares_ready(server, root, marks)
    reply, out, code = run(server, root, "-q", "-p", "no:cacheprovider")
    assert reply["spare"] != "layered", reply
    c = cold("-q", "-p", "no:cacheprovider", cwd=root, env=client_env(server))
    assert (normalised(out), code) == (normalised(c.stdout.strip()), c.returncode)


def test_a_run_after_an_edit_to_the_layer_sees_the_edit(server, tmp_path):
    root, marks = project(tmp_path)
    prepared_then_both_spares_ready(server, root, marks)
    (root / "mypkg" / "core.py").write_text("UNDER_PYTEST = 'PYTEST_VERSION' in __import__('os').environ\n\n"
                                            "def value():\n    return 2\n")
    reply, out, code = run(server, root, "-q", "-k", "value")
    assert code == 1 and "assert 2 == 1" in out, (reply, out)


def test_no_layer_ahead_where_a_conftest_changes_the_environment(server, tmp_path):
    # Cold imports the project after the conftest set the variable: ahead of it, the import would not see it.
    root, marks = project(tmp_path, conftest="import os\nos.environ['LTEST_TEST_SET_BY_CONFTEST'] = '1'\n")
    for pause in PAUSES[:5]:
        time.sleep(pause)
        reply, out, code = run(server, root, "-q", "-k", "value" if pause > 1 else "diff")
        assert reply["spare"] != "layered", reply
        assert code == 1 if pause <= 1 else code == 0, out
