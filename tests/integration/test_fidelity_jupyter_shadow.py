"""Fidelity in Jupyter's shadow: what the test process inherits
from the kernel it was forked from (Jupyter detection, libraries' import-time
choices, interpreter state), against a cold `python3 -m pytest` in the same
directory with the same arguments and environment (shadow_helpers.py).
"""
import os
import re

import pytest

from conftest import package_dir, write_files
from shadow_helpers import env_of, junit_outcomes, lines, same_marked
from shadow_helpers import server  # noqa: F401 (the module-scoped fixture)
from fidelity_helpers import assert_same, cold, normalised, pty_both, warm


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


@pytest.mark.timeout(600)
def test_pandas_formatting_suite_equals_cold_test_by_test(server, tmp_path):
    """A real suite from the stack's pandas, preloaded: its
    test_repr_truncates_terminal_size failed when pandas kept the notebook's
    display.max_columns."""
    pandas = package_dir("pandas")
    suite = os.path.join(pandas, "tests", "io", "formats", "test_format.py")
    w_xml, c_xml = tmp_path / "w.xml", tmp_path / "c.xml"
    # Cold's choices for this suite on either stack: the pyproject.toml pandas 2
    # ships (its configuration here) makes every PytestWarning an error, so
    # pytest-asyncio 1.x's start-up warning about its unset loop scope is an
    # INTERNALERROR (the suite has no asyncio test); and pandas 2 fails a test
    # whose data file its wheel lacks unless told to skip it, as pandas 1.5 did.
    with open(os.path.join(pandas, "conftest.py")) as f:
        data_files = ("--no-strict-data-files",) if "--no-strict-data-files" in f.read() else ()
    args = ("-q", "-p", "no:cacheprovider", "-p", "no:sugar", "-p", "no:asyncio", *data_files, suite)
    env = env_of(server)
    w = warm(server, *args, f"--junitxml={w_xml}", cwd=tmp_path, env=env, timeout=600)
    c = cold(*args, f"--junitxml={c_xml}", cwd=tmp_path, env=env, timeout=600)
    assert_same(w, c)
    assert w.returncode == 0, w.stdout[-3000:]
    assert junit_outcomes(w_xml) == junit_outcomes(c_xml)
