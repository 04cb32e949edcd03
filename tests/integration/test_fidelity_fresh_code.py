"""Fidelity: every run sees the code as it is on disk and nothing an
earlier run did, and a run in a practised spare equals plain pytest."""
import json
import subprocess
import time

from conftest import ltest_binary, write_files
from fidelity_helpers import PROBE, assert_same, both, client_env, cold, normalised, warm
from fidelity_helpers import server  # noqa: F401 (the module-scoped fixture)


# --- fresh code and isolated runs ---------------------------------------------

def test_edits_between_runs_are_seen(server, tmp_path):
    root = write_files(tmp_path, {
        "helper.py": "VALUE = 1\n",
        "test_edit.py": "import helper\ndef test_value(): assert helper.VALUE == 1\n",
    })
    assert warm(server, "-q", cwd=root).returncode == 0
    (root / "helper.py").write_text("VALUE = 2  # edited\n")
    w = warm(server, "-q", cwd=root)
    assert w.returncode == 1 and "assert 2 == 1" in w.stdout
    (root / "test_edit.py").write_text("import helper\ndef test_value(): assert helper.VALUE == 2, 'edited test'\n")
    assert warm(server, "-q", cwd=root).returncode == 0
    (root / "test_edit.py").write_text("import helper\ndef test_renamed(): assert helper.VALUE == 2\n")
    w = warm(server, "-v", cwd=root)
    assert "test_renamed PASSED" in w.stdout and "test_value" not in w.stdout


def test_a_module_a_run_imported_is_not_in_the_next_run(server, tmp_path):
    root = write_files(tmp_path, {
        "carrier.py": "STATE = 'clean'\n",
        "test_first.py": "import carrier\ndef test_dirty(): carrier.STATE = 'dirty'\n",
        "test_second.py": """
            import sys
            def test_clean():
                assert "carrier" not in sys.modules
                import carrier
                assert carrier.STATE == "clean"
        """,
    })
    assert warm(server, "-q", "test_first.py", cwd=root).returncode == 0
    w = warm(server, "-q", "test_second.py", cwd=root)
    assert w.returncode == 0, w.stdout


def test_a_project_module_the_kernel_imported_does_not_shadow_the_file(server, tmp_path):
    """A notebook sharing the kernel imported the project's module; the file
    changed since. The tests import the file on disk."""
    from jupyter_client import BlockingKernelClient
    root = write_files(tmp_path, {
        "nbmod_fid.py": "VALUE = 'old'\n",
        "test_nb.py": "import nbmod_fid\ndef test_fresh(): assert nbmod_fid.VALUE == 'new'\n",
    })
    kc = BlockingKernelClient(connection_file=server.status()["connection_file"])
    kc.load_connection_file()
    kc.start_channels()
    try:
        reply = kc.execute_interactive(
            f"import sys; sys.path.insert(0, {str(root)!r}); import nbmod_fid; sys.path.pop(0)", timeout=30)
        assert reply["content"]["status"] == "ok"
    finally:
        kc.stop_channels()
    (root / "nbmod_fid.py").write_text("VALUE = 'new'  # edited on disk\n")
    w = warm(server, "-q", cwd=root)
    assert w.returncode == 0, w.stdout


def test_what_a_test_changes_does_not_reach_the_next_run(server, tmp_path):
    root = write_files(tmp_path, {
        "carrier.py": "STATE = 'clean'\n",
        "test_dirty.py": """
            import json, os, sys, threading, time
            import carrier

            def test_dirty():
                os.environ["LTEST_FID_LEAK"] = "leaked"
                del os.environ["LTEST_FID_KEEP"]
                json.dumps = lambda *a, **k: "patched"   # json is preloaded in the kernel
                json.LTEST_FID_GLOBAL = "leaked"
                carrier.STATE = "dirty"
                sys.path.append("/ltest-fid-leak")
                os.chdir("/")
                threading.Thread(target=time.sleep, args=(0.3,), name="fid-sleeper").start()
        """,
        "test_clean.py": """
            import json, os, sys, threading

            def test_clean():
                assert "LTEST_FID_LEAK" not in os.environ
                assert os.environ["LTEST_FID_KEEP"] == "kept"
                assert json.dumps([1]) == "[1]"
                assert not hasattr(json, "LTEST_FID_GLOBAL")
                import carrier
                assert carrier.STATE == "clean"
                assert "/ltest-fid-leak" not in sys.path
                assert os.getcwd() == os.environ["EXPECTED_CWD"]
                # pytest-rerunfailures' server threads (one per session, a practice's too) are not leaks.
                assert [t.name for t in threading.enumerate() if "run_server" not in t.name] == ["MainThread"]
        """,
    })
    env = client_env(server, LTEST_FID_KEEP="kept", EXPECTED_CWD=str(root))
    args = ("-q", "-p", "no:cacheprovider")
    w, c = both(server, root, *args, "test_dirty.py", env=env)
    assert_same(w, c)
    assert w.returncode == 0, w.stdout + w.stderr
    w = warm(server, *args, "test_clean.py", cwd=root, env=env)
    assert w.returncode == 0, w.stdout + w.stderr
    status = server.status()
    assert status["run_in_flight"] is False and status["runs"] >= 2


# --- the spare's practice run ------------------------------------------------

PRACTICE_PROBE = """
    import sys

    def test_nothing_of_the_practice_shows():
        print("PRACTICE " + repr([
            sorted(n for n in sys.modules if "practice" in n),
            [hasattr(sys, n) for n in ("last_type", "last_value", "last_traceback")],
            sum(type(f).__name__ == "AssertionRewritingHook" for f in sys.meta_path),
        ]))

    def test_fails_with_a_diff():
        assert {"a": [1, 2, 3], "b": "x" * 30} == {"a": [1, 2, 4], "b": "x" * 30}
"""


def test_a_run_in_a_practised_spare_equals_plain_pytest(server, tmp_path):
    """The spare warms up with a pytest run of its own while idle (warmup.py):
    the run it serves must show nothing of it, in its output or its process."""
    root = write_files(tmp_path, {"test_probe.py": PROBE, "test_spare.py": PRACTICE_PROBE})
    args = ("-q", "-s", "-p", "no:cacheprovider")
    env = client_env(server)
    reply, w = None, None
    for pause in (0.5, 1, 2, 4, 8):  # idle long enough for the practice, on a busy machine too
        time.sleep(pause)
        w = subprocess.run([ltest_binary(), "-p", str(server.port), "--json", "--", *args], cwd=root, env=env,
                           capture_output=True, text=True, timeout=120)
        reply = json.loads(w.stdout.strip().splitlines()[-1])
        if reply["practised"]:
            break
    assert reply["practised"], reply
    c = cold(*args, cwd=root, env=env)
    w_out = "\n".join(w.stdout.strip().splitlines()[:-1])  # without the JSON reply
    assert w.returncode == c.returncode == 1, w.stdout + w.stderr
    # Whole outputs: the failure's diff, and both probes' view of the process.
    assert normalised(w_out) == normalised(c.stdout.strip())
    assert "PRACTICE [[], [False, False, False], 1]" in w_out
