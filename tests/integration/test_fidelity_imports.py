"""Fidelity of imports: what a module sees of its importer, and what an
import does the first time, as in a fresh `python3 -m pytest`, whether the
run found its spare prepared or not. The server preloads sympy (whose own
suite has a test that expects an import's deprecation warning), a
third-party module that warns at import (installed for the test alone:
conftest.install_third_party) and a package of the user's own that warns at import
(PYTHONPATH); learning is on (its recorder must leave no frame behind)."""
import json
import os
import subprocess
import time

import pytest

from conftest import Server, install_third_party, ltest_binary, package_dir, serving, summary_line, write_files
from fidelity_helpers import client_env, cold, normalised
from shadow_helpers import junit_outcomes

PAUSES = (0.3, 0.6, 1, 2, 4, 8, 16)  # idle time for the background preparation, on a busy machine too


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("imports")
    env, _ = install_third_party(base, {"oldlib_fid.py": """
        import warnings
        warnings.warn("oldlib_fid is deprecated", DeprecationWarning, stacklevel=2)
        VALUE = 1
    """})
    write_files(base / "own", {"ownwarn_fid.py": """
        import warnings
        warnings.warn("ownwarn_fid warns at import", UserWarning)
        VALUE = 2
    """})
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(base / "own"), env.get("PYTHONPATH")]))
    yield from serving(Server(base, modules=("sympy", "oldlib_fid", "ownwarn_fid"), extra_env=env))


def env_of(server):
    return client_env(server, PYTHONPATH=server.env["PYTHONPATH"], PYTHONUSERBASE=server.env.get("PYTHONUSERBASE"))


def run(server, root, args, env):
    """(reply, output without the reply line, exit code) of one ltest run."""
    p = subprocess.run([ltest_binary(), "-p", str(server.port), "--json", "--", *args], cwd=root, env=env,
                       capture_output=True, text=True, timeout=300)
    lines = p.stdout.strip().splitlines()
    assert lines and lines[-1].startswith("{"), p.stdout + p.stderr
    return json.loads(lines[-1]), "\n".join(lines[:-1]), p.returncode


def as_cold_prepared_or_not(server, root, *args, preparable=True):
    """Runs until one found its spare prepared, each compared whole with
    cold pytest's output and exit code; returns cold's result. Not
    preparable: the project's own modules warn at import, which a
    preparation never does ahead (docs/design.md): two runs, the second
    after the idle time a preparation would take."""
    env = env_of(server)
    c = cold(*args, cwd=root, env=env, timeout=300)
    expected = (normalised(c.stdout.strip()), c.returncode)
    reply = None
    for pause in PAUSES if preparable else (0, 2):
        time.sleep(pause)
        reply, out, code = run(server, root, args, env)
        assert (normalised(out), code) == expected, f"ltest ({reply}):\n{out}\ncold:\n{c.stdout}"
        if reply["prepared"]:
            return c
    if preparable:
        pytest.fail(f"no run found its spare prepared: {reply}")
    return c


IMPORTER_PROBE = {
    "probe_fid.py": """
        import sys, traceback, warnings
        warnings.warn("probe_fid warns its importer", UserWarning, stacklevel=2)
        frame = sys._getframe(1)
        while "importlib" in frame.f_code.co_filename and "_bootstrap" in frame.f_code.co_filename:
            frame = frame.f_back
        IMPORTER = (frame.f_globals.get("__name__"), frame.f_code.co_name)
        STACK = [f"{f.name}@{f.filename.rsplit('/', 1)[-1]}" for f in traceback.extract_stack()
                 if "importlib" not in f.filename]
    """,
    "test_summary_fid.py": """
        import probe_fid

        def test_importer():
            print("IMPORTER", probe_fid.IMPORTER)
            print("STACK", probe_fid.STACK[probe_fid.STACK.index("<module>@test_summary_fid.py"):])
    """,
}


@pytest.mark.parametrize("args", [(), ("-W", "error::UserWarning:test_summary_fid")], ids=["summary", "error"])
def test_a_module_sees_its_importer_as_cold(server, tmp_path, args):
    """stacklevel=2 at a module's top level names the importing test module
    (a -W filter for that module applies), and a walk of the caller's frames
    finds it with no frame between."""
    root = write_files(tmp_path, IMPORTER_PROBE)
    c = as_cold_prepared_or_not(server, root, "-q", "-s", "-p", "no:cacheprovider", *args, preparable=False)
    if args:
        assert c.returncode == 2 and "1 error" in summary_line(c.stdout), c.stdout
    else:
        assert "IMPORTER ('test_summary_fid', '<module>')" in c.stdout, c.stdout
        assert "STACK ['<module>@test_summary_fid.py', '<module>@probe_fid.py']" in c.stdout, c.stdout
        assert "test_summary_fid.py:2: UserWarning: probe_fid warns its importer" in c.stdout, c.stdout


HELD = {"test_held_fid.py": """
    import sys

    def test_held():
        print("HELD", "oldlib_fid" in sys.modules)
        import oldlib_fid
        print("HELD", "oldlib_fid" in sys.modules, oldlib_fid.VALUE)
"""}


@pytest.mark.parametrize("args", [(), ("-W", "error::DeprecationWarning:test_held_fid")], ids=["summary", "error"])
def test_a_preloaded_module_that_warned_is_imported_as_the_first_time(server, tmp_path, args):
    """The kernel holds oldlib_fid; the test process does not until the test
    imports it, and that import warns as cold (an error under -W)."""
    root = write_files(tmp_path, HELD)
    c = as_cold_prepared_or_not(server, root, "-q", "-s", "-p", "no:cacheprovider", *args)
    if args:
        assert c.returncode == 1 and "DeprecationWarning: oldlib_fid is deprecated" in c.stdout, c.stdout
    else:
        assert "HELD False\nHELD True 1" in c.stdout and summary_line(c.stdout) == "1 passed, 1 warning", c.stdout


def test_a_preloaded_package_of_the_users_own_warns_once(server, tmp_path):
    root = write_files(tmp_path, {"test_own_fid.py": "import ownwarn_fid\ndef test_own(): assert ownwarn_fid.VALUE == 2\n"})
    c = as_cold_prepared_or_not(server, root, "-q", "-p", "no:cacheprovider", preparable=False)
    assert summary_line(c.stdout) == "1 passed, 1 warning", c.stdout


SYMPY_MODULES = ["core/tests/test_compatibility.py", "core/tests/test_constructor_postprocessor.py",
                 "core/tests/test_containers.py"]


@pytest.mark.timeout(600)
def test_sympys_deprecated_submodule_and_its_neighbours_as_cold(server, tmp_path):
    """sympy's test_compatibility_submodule imports sympy.core.compatibility
    inside warns_deprecated_sympy(), which checks the warning's stacklevel
    points at the test file."""
    where = package_dir("sympy")
    modules = [os.path.join(where, m) for m in SYMPY_MODULES]
    assert all(os.path.exists(m) for m in modules), modules
    w_xml, c_xml = tmp_path / "w.xml", tmp_path / "c.xml"
    # sympy's conftest.py too, as its authors run it (it makes sympy's XFAIL pytest's):
    # pytest 8 on loads no conftest above the rootdir unless told.
    base = ("-q", "-p", "no:cacheprovider", "-p", "no:sugar", f"--confcutdir={os.path.dirname(where)}", *modules)
    c = cold(*base, f"--junitxml={c_xml}", cwd=tmp_path, env=env_of(server), timeout=600)
    reply, out, code = run(server, tmp_path, (*base, f"--junitxml={w_xml}"), env_of(server))
    assert code == c.returncode == 0, out + c.stdout
    assert summary_line(out) == summary_line(c.stdout)
    outcomes = junit_outcomes(w_xml)
    assert ("test_compatibility", "test_compatibility_submodule", ()) in outcomes
    assert outcomes == junit_outcomes(c_xml)
    as_cold_prepared_or_not(server, tmp_path, *base)


FINALIZED = {"test_finalized_fid.py": """
    class Noisy:
        def __del__(self):
            print("DEL ran")  # a builtin: the module's globals are cleared by then

    KEPT = Noisy()  # alive at the end of the session: finalized at the interpreter's exit

    def test_keeps_an_object():
        assert KEPT
"""}


def test_an_object_alive_at_the_end_is_finalized_at_exit(server, tmp_path):
    root = write_files(tmp_path, FINALIZED)
    c = as_cold_prepared_or_not(server, root, "-q", "-p", "no:cacheprovider")
    assert c.stdout.rstrip().endswith("DEL ran"), c.stdout


CRASH = {"test_crash_fid.py": """
    import faulthandler

    def test_crash():
        faulthandler._sigsegv()
"""}


def test_a_crash_dump_lists_the_test_process_own_extension_modules(server, tmp_path):
    """The kernel's psutil (ipykernel's) is not the test process's: out of
    sys.modules until a test imports it, so not in faulthandler's list."""
    root = write_files(tmp_path, CRASH)
    env = env_of(server)
    args = ("-q", "-p", "no:cacheprovider")
    c = cold(*args, cwd=root, env=env)
    w = subprocess.run([ltest_binary(), "-p", str(server.port), "--", *args], cwd=root, env=env,
                       capture_output=True, text=True, timeout=300)
    assert (w.returncode, c.returncode) == (139, -11), w.stderr + c.stderr  # 128+SIGSEGV, as a shell says it
    listed = [[l for l in r.stderr.splitlines() if l.startswith("Extension modules:")] for r in (w, c)]
    assert listed[0] == listed[1], listed
    assert "psutil" not in w.stderr
