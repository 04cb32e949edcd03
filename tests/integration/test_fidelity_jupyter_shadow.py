"""Fidelity in Jupyter's shadow (issue 17): what the test process inherits
from the kernel it was forked from, against a cold `python3 -m pytest` in
the same directory with the same arguments and environment.

One server for the module: pandas and tqdm.auto preloaded (libraries that
decide at import whether they run in a notebook), a third-party module that
warns at import, a third-party package that the project's checkout shadows
(both in a user site directory of the test's own, PYTHONUSERBASE), and a
package of the user's own (PYTHONPATH).
"""
import os
import re
import subprocess
import sys
import textwrap

import pytest

from conftest import PYTHON, Server, ltest_binary, summary_line, write_files
from test_fidelity import assert_same, both, client_env, cold, normalised, pty_both, warm

USER_SITE = f"lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages"

SITE_FILES = {
    "legacy_fid.py": """
        import warnings
        warnings.warn("legacy_fid is deprecated", DeprecationWarning, stacklevel=2)
        VALUE = 1
    """,
    "shadowpkg_fid/__init__.py": "ORIGIN = 'site-packages'\n",
}
OWN_FILES = {
    "mypkg_fid/__init__.py": """
        from .models import Model
        REGISTRY = []
    """,
    "mypkg_fid/models.py": """
        class Model:
            pass

        def register(x):
            from . import REGISTRY
            REGISTRY.append(x)
            return len(REGISTRY)

        def check(x):
            assert x == 2
    """,
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("shadow")
    write_files(base / "userbase" / USER_SITE, SITE_FILES)
    write_files(base / "own", OWN_FILES)
    env = {"PYTHONUSERBASE": str(base / "userbase"), "PYTHONPATH": str(base / "own")}
    s = Server(base, modules=("pandas", "tqdm.auto", "matplotlib.pyplot", "legacy_fid", "shadowpkg_fid",
                                                "mypkg_fid"), extra_env=env)
    s.start(timeout=300)
    assert s.proc.poll() is None, s.log.read_text()
    s.userbase = base / "userbase"
    yield s
    s.stop()


def env_of(server, **changes):
    """The client's environment: the server's (its PYTHONUSERBASE and
    PYTHONPATH too) without the harness's noise."""
    changes.setdefault("PYTHONPATH", server.env["PYTHONPATH"])
    return client_env(server, **changes)


def lines(result, mark):
    return [l for l in result.stdout.splitlines() if l.startswith(mark)]


def same_marked(server, root, mark, *args, env=None):
    w, c = both(server, root, "-q", "-s", "-p", "no:cacheprovider", *args, env=env or env_of(server))
    assert_same(w, c)
    assert lines(w, mark) == lines(c, mark) and lines(c, mark), f"ltest:\n{w.stdout}{w.stderr}\ncold:\n{c.stdout}"
    return w, c


JUPYTER_PROBE = """
    import builtins, sys

    def test_am_i_in_jupyter():
        print("JUPYTER", sorted(m for m in ("ipykernel", "zmq", "tornado", "traitlets", "jupyter_client", "IPython")
                                if m in sys.modules),
              hasattr(builtins, "get_ipython"), sys.displayhook is sys.__displayhook__)
        import IPython
        print("JUPYTER IPython", IPython.get_ipython(), "traitlets" in sys.modules)
        from tqdm.auto import tqdm
        print("JUPYTER tqdm", tqdm.__module__)
        import pandas
        print("JUPYTER pandas", pandas.get_option("display.max_columns"))
"""


def test_the_test_process_is_not_in_jupyter(server, tmp_path):
    root = write_files(tmp_path, {"test_jupyter.py": JUPYTER_PROBE})
    w, _ = same_marked(server, root, "JUPYTER")
    assert "JUPYTER [] False True" in w.stdout and "JUPYTER pandas 0" in w.stdout, w.stdout


@pytest.mark.parametrize("backend", [None, "svg"], ids=["rc-file", "client-mplbackend"])
def test_matplotlib_backend_is_the_clients_not_the_notebooks(server, tmp_path, backend):
    root = write_files(tmp_path, {"test_mpl.py": """
        import matplotlib
        def test_backend():
            import matplotlib.pyplot
            print("BACKEND", matplotlib.get_backend())
    """})
    w, _ = same_marked(server, root, "BACKEND", env=env_of(server, MPLBACKEND=backend))
    assert "inline" not in w.stdout


def test_pandas_wide_frame_repr_on_a_terminal_is_as_cold(server, tmp_path):
    root = write_files(tmp_path, {"test_wide.py": """
        import pandas
        def test_wide():
            print(repr(pandas.DataFrame({f"column_{i}": [i] for i in range(30)})))
    """})
    (wcode, wout), (ccode, cout) = pty_both(server, root, 400, env_of(server), "-q", "-s", "-p", "no:cacheprovider")
    assert wcode == ccode == 0, wout
    assert "column_29" in wout and "..." not in wout.split("column_0")[1].split("\n")[0]
    assert without_sugar_time(wout) == without_sugar_time(cout)


def without_sugar_time(text):
    return re.sub(r"Results \([0-9.]+s\)", "Results (Xs)", normalised(text))


INTERPRETER_PROBE = """
    import gc, logging, random, sys

    def test_state():
        print("STATE", sys.getrecursionlimit(), gc.get_freeze_count(), logging.root.level,
              len(logging.root.handlers), logging.getLogger("tornado").handlers, logging.getLogger("tornado").level)
        logging.getLogger("tornado.general").warning("from a tornado-named logger")

    def test_deep_recursion_fails_at_the_default_depth():
        def down(n):
            return n if n == 0 else down(n - 1)
        import pytest
        with pytest.raises(RecursionError):
            down(2000)

    def test_draw():
        import numpy
        print("DRAW", random.random(), numpy.random.random())
"""


def test_interpreter_state_is_a_fresh_interpreters(server, tmp_path):
    root = write_files(tmp_path, {"test_state.py": INTERPRETER_PROBE})
    w, c = same_marked(server, root, "STATE")
    assert lines(w, "STATE")[0].startswith("STATE 1000 0 30 "), w.stdout
    # Unseeded generators start from fresh entropy in every run, as cold.
    draws = {tuple(re.findall(r"DRAW \S+ \S+", warm(server, "-q", "-s", cwd=root, env=env_of(server)).stdout))
             for _ in range(3)}
    assert len(draws) == 3 and all(draws), draws


def test_logging_shutdown_and_multiprocessing_joined_at_exit(server, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    root = write_files(tmp_path / "suite", {"test_exit.py": f"""
        import logging, logging.handlers, multiprocessing, os, time

        def slow_child(path):
            time.sleep(0.5)
            open(path, "w").write("child done")

        def test_buffered_and_child():
            target = logging.FileHandler(os.path.join({str(out)!r}, os.environ["WHO"] + ".log"))
            buffered = logging.handlers.MemoryHandler(capacity=100, target=target)
            log = logging.getLogger("fid.exit")
            log.addHandler(buffered)
            log.warning("buffered record")
            p = multiprocessing.get_context("fork").Process(target=slow_child,
                                                            args=(os.path.join({str(out)!r}, os.environ["WHO"] + ".child"),))
            p.start()
    """})
    w = warm(server, "-q", "-p", "no:cacheprovider", cwd=root, env=env_of(server, WHO="warm"))
    c = cold("-q", "-p", "no:cacheprovider", cwd=root, env=env_of(server, WHO="cold"))
    assert w.returncode == c.returncode == 0, w.stdout + w.stderr
    for who in ("warm", "cold"):
        assert (out / f"{who}.log").read_text() == "buffered record\n"
        assert (out / f"{who}.child").read_text() == "child done"


ENV_PROBE = """
    import os, sys, tempfile, time

    def test_env(tmp_path):
        print("ENV", time.tzname, tempfile.gettempdir(), str(tmp_path).startswith(tempfile.gettempdir()),
              sys.get_int_max_str_digits(), sys.pycache_prefix, os.environ.get("LC_CTYPE"),
              __import__("tracemalloc").is_tracing(), sys.path[0] == os.getcwd())
        p = tmp_path / "utf8.txt"
        p.write_bytes("d\\u00e9j\\u00e0 vu".encode("utf-8"))
        assert open(p).read() == "d\\u00e9j\\u00e0 vu"
"""


@pytest.mark.parametrize("changes", [
    {"TZ": "Asia/Tokyo", "TMPDIR": "{tmp}"},
    {"LANG": None, "LC_ALL": None},
    {"PYTHONINTMAXSTRDIGITS": "5000", "PYTHONPYCACHEPREFIX": "{tmp}/pyc", "PYTHONTRACEMALLOC": "2"},
    {"PYTHONSAFEPATH": "1"},
], ids=["tz-tmpdir", "c-locale", "startup-vars", "safe-path"])
def test_the_clients_environment_applies_as_at_start(server, tmp_path, changes):
    root = write_files(tmp_path / "suite", {"test_env.py": ENV_PROBE})
    (tmp_path / "tmp").mkdir()
    changes = {k: v.format(tmp=tmp_path / "tmp") if v else v for k, v in changes.items()}
    same_marked(server, root, "ENV", env=env_of(server, **changes))


def test_what_a_fork_cannot_apply_is_named(server, tmp_path):
    root = write_files(tmp_path, {"test_ok.py": "def test_ok(): assert True\n"})
    env = env_of(server, PYTHONOPTIMIZE="1", PYTHONDEVMODE="1")
    w = warm(server, "-q", cwd=root, env=env)
    assert w.returncode == 0
    assert "PYTHONOPTIMIZE=set cannot apply" in w.stderr and "PYTHONDEVMODE=set cannot apply" in w.stderr


def test_an_activated_virtualenv_that_is_not_the_kernels_is_refused(server, tmp_path):
    venv = tmp_path / "venv"
    venv.mkdir()
    root = write_files(tmp_path / "suite", {"test_ok.py": "def test_ok(): pass\n"})
    w = warm(server, "-q", cwd=root, env=env_of(server, VIRTUAL_ENV=str(venv)))
    assert w.returncode == 78, w.stdout + w.stderr
    assert f"virtualenv {venv} is active" in w.stderr and len(w.stderr.strip().splitlines()) == 1, w.stderr


WARNS_AT_IMPORT = {"test_legacy.py": """
    import legacy_fid

    def test_uses_it():
        assert legacy_fid.VALUE == 1
"""}


@pytest.mark.parametrize("args", [(), ("-W", "error::DeprecationWarning")], ids=["summary", "error"])
def test_a_preloaded_modules_import_warning_is_seen_as_cold(server, tmp_path, args):
    root = write_files(tmp_path, WARNS_AT_IMPORT)
    w, c = both(server, root, "-p", "no:cacheprovider", *args, env=env_of(server))
    assert_same(w, c)
    assert "legacy_fid is deprecated" in w.stdout, w.stdout
    assert summary_line(w.stdout) == ("1 passed, 1 warning" if not args else "1 error"), w.stdout


def test_sharded_run_reports_as_the_serial_run(server, tmp_path):
    root = write_files(tmp_path, {"test_many.py": """
        import warnings, pytest

        @pytest.mark.parametrize("n", range(6))
        def test_p(n):
            warnings.warn(f"w{n}", UserWarning)

        @pytest.mark.skip(reason="skipped here")
        def test_skip(): pass

        def test_skip_inside(): pytest.skip("inside")

        @pytest.mark.xfail
        def test_xf(): assert 0

        def test_fail(): assert 1 == 2
    """})
    w_xml, c_xml = tmp_path / "w.xml", tmp_path / "c.xml"
    env = env_of(server)
    w = subprocess.run([ltest_binary(), "-p", str(server.port), "-n", "2", "--", "-rA", f"--junitxml={w_xml}",
                        "-p", "no:cacheprovider"], cwd=root, env=env, capture_output=True, text=True, timeout=120)
    c = cold("-rA", f"--junitxml={c_xml}", "-p", "no:cacheprovider", cwd=root, env=env)
    assert_same(w, c)
    assert summary_line(w.stdout) == "1 failed, 6 passed, 2 skipped, 1 xfailed, 6 warnings", w.stdout
    assert junit_outcomes(w_xml) == junit_outcomes(c_xml)
    assert sorted(l for l in w.stdout.splitlines() if l.startswith(("SKIPPED", "PASSED", "XFAIL", "FAILED"))) == \
        sorted(l for l in c.stdout.splitlines() if l.startswith(("SKIPPED", "PASSED", "XFAIL", "FAILED")))


def junit_outcomes(path):
    import xml.etree.ElementTree as ET
    return sorted((case.get("classname"), case.get("name"), tuple(sorted(child.tag for child in case)))
                  for case in ET.parse(path).getroot().iter("testcase"))


OWN_SUITE = {"test_own.py": """
    import mypkg_fid
    from mypkg_fid import models

    def test_one_copy():
        print("OWN", isinstance(models.Model(), mypkg_fid.Model), models.register(1), len(mypkg_fid.REGISTRY))

    def test_rewritten():
        models.check(3)
"""}


def test_a_preloaded_package_of_the_users_own_is_one_rewritten_copy(server, tmp_path):
    root = write_files(tmp_path, OWN_SUITE)
    w, c = same_marked(server, root, "OWN")
    assert lines(w, "OWN") == ["OWN True 1 1"]
    explained = [l for l in w.stdout.splitlines() if l.startswith("E ")]
    assert explained and explained == [l for l in c.stdout.splitlines() if l.startswith("E ")]


def test_coverage_of_a_preloaded_package_of_the_users_own_is_as_cold(server, tmp_path):
    root = write_files(tmp_path, OWN_SUITE)
    w, c = both(server, root, "-q", "-p", "no:cacheprovider", "--cov=mypkg_fid", "--cov-report=term",
                env=env_of(server))
    assert w.returncode == c.returncode == 1
    total = [l for l in w.stdout.splitlines() if l.startswith("TOTAL")]
    assert total and total == [l for l in c.stdout.splitlines() if l.startswith("TOTAL")], w.stdout + c.stdout


def test_a_checkout_in_the_project_shadows_the_kernels_copy(server, tmp_path):
    root = write_files(tmp_path, {
        "shadowpkg_fid/__init__.py": "ORIGIN = 'checkout'\n",
        "test_shadow.py": "import shadowpkg_fid\ndef test_origin(): print('ORIGIN', shadowpkg_fid.ORIGIN)\n",
    })
    w, _ = same_marked(server, root, "ORIGIN")
    assert lines(w, "ORIGIN") == ["ORIGIN checkout"]


def test_a_pth_file_added_after_the_server_started_is_seen(server, tmp_path):
    late = write_files(tmp_path / "late", {"late_fid.py": "WHERE = 'late'\n"})
    root = write_files(tmp_path / "suite", {"test_late.py": "import late_fid\ndef test_late(): print('LATE', late_fid.WHERE)\n"})
    pth = server.userbase / USER_SITE / "late_fid.pth"
    pth.write_text(f"{late}\n")
    try:
        w, _ = same_marked(server, root, "LATE")
    finally:
        pth.unlink()
    assert lines(w, "LATE") == ["LATE late"]


TORCH_SUITE = {"test_torch.py": """
    import sys
    import sklearn.linear_model
    import torch

    def test_matmul_and_fit():
        a = torch.ones(800, 800)
        assert float((a @ a)[0, 0]) == 800.0
        model = sklearn.linear_model.LinearRegression().fit([[0], [1], [2]], [0, 1, 2])
        assert round(float(model.coef_[0]), 6) == 1.0
        print("TORCH", "ipykernel" in sys.modules, "zmq" in sys.modules, torch.initial_seed() != 0)
"""}


@pytest.mark.timeout(300)
def test_torch_after_a_parallel_op_in_the_kernel_runs(start_server, tmp_path):
    """A notebook sharing the kernel ran a 2-thread matmul (OpenMP's pool now
    has threads there, which a fork does not get): the next run must not hang
    on its first torch op; it runs with torch limited to one thread, says so."""
    from jupyter_client import BlockingKernelClient
    server = start_server(modules=["torch", "sklearn.linear_model"], extra_env={"OMP_NUM_THREADS": "2"})
    root = write_files(tmp_path / "suite", TORCH_SUITE)
    env = client_env(server, OMP_NUM_THREADS="2")
    w = warm(server, "-q", "-s", "-p", "no:cacheprovider", cwd=root, env=env)
    assert w.returncode == 0 and "TORCH False False True" in w.stdout, w.stdout + w.stderr
    assert "torch limited" not in w.stderr  # no pool in the kernel yet: torch keeps its threads
    kc = BlockingKernelClient(connection_file=server.status()["connection_file"])
    kc.load_connection_file()
    kc.start_channels()
    try:
        reply = kc.execute_interactive("import torch; a = torch.ones(800, 800); b = a @ a", timeout=60)
        assert reply["content"]["status"] == "ok"
    finally:
        kc.stop_channels()
    r = subprocess.run([ltest_binary(), "-p", str(server.port), "--timeout", "60", "--", "-q", "-s", "-p",
                        "no:cacheprovider"], cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "TORCH False False True" in r.stdout, r.stdout + r.stderr
    assert "torch limited to 1 thread" in r.stderr
    c = cold("-q", "-s", "-p", "no:cacheprovider", cwd=root, env=env)
    assert c.returncode == 0 and "TORCH False False True" in c.stdout


def on_a_terminal(cmd, cwd, env, prompt, answer, timeout=120):
    """Runs cmd with stdin, stdout and stderr on one pty that is its
    controlling terminal; types answer after prompt. (exit code, output)."""
    import fcntl
    import select
    import termios
    import time
    master, slave = os.openpty()

    def make_controlling():
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                         preexec_fn=make_controlling)
    os.close(slave)
    out, typed = b"", False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not select.select([master], [], [], 0.5)[0]:
                if p.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the last writer closed the slave
                break
            out += chunk
            if not typed and prompt in out:
                os.write(master, answer)
                typed = True
        return p.wait(timeout=max(1, deadline - time.monotonic())), out
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(master)


@pytest.mark.parametrize("args", [("-s",), ()], ids=["no-capture", "captured"])
def test_getpass_on_a_terminal_does_not_echo(server, tmp_path, args):
    root = write_files(tmp_path, {"test_pw.py": """
        import getpass
        def test_pw():
            assert getpass.getpass("Secret: ") == "hunter2"
    """})
    env = env_of(server)
    for cmd in ([ltest_binary(), "-p", str(server.port), "--"], [PYTHON, "-m", "pytest"]):
        code, out = on_a_terminal(cmd + ["-q", "-p", "no:cacheprovider", *args], root, env, b"Secret: ", b"hunter2\n")
        assert code == 0 and b"Secret: " in out and b"hunter2" not in out, (cmd, out)


@pytest.mark.timeout(600)
def test_pandas_formatting_suite_equals_cold_test_by_test(server, tmp_path):
    """A real suite from the Debian package, with pandas preloaded: its
    test_repr_truncates_terminal_size failed when pandas kept the notebook's
    display.max_columns."""
    import pandas
    suite = os.path.join(os.path.dirname(pandas.__file__), "tests", "io", "formats", "test_format.py")
    w_xml, c_xml = tmp_path / "w.xml", tmp_path / "c.xml"
    args = ("-q", "-p", "no:cacheprovider", "-p", "no:sugar", suite)
    env = env_of(server)
    w = warm(server, *args, f"--junitxml={w_xml}", cwd=tmp_path, env=env, timeout=600)
    c = cold(*args, f"--junitxml={c_xml}", cwd=tmp_path, env=env, timeout=600)
    assert_same(w, c)
    assert w.returncode == 0, w.stdout[-3000:]
    assert junit_outcomes(w_xml) == junit_outcomes(c_xml)
