"""A real notebook, executed by nbclient on a real kernel, using %ltest and %%ltest."""
import os
import re
import shutil
import subprocess
import sys
import textwrap

import nbformat
from nbclient import NotebookClient
from ltest_kernel_io import ANSI

CELLS = [
    "%load_ext ltest",
    # The notebook's own state: a helper, a list, and a test function that a
    # %%ltest cell must not pick up.
    textwrap.dedent("""\
        def double(x):
            return 2 * x

        shared = [1, 2]

        def test_defined_in_the_notebook():
            raise AssertionError("a %%ltest cell runs only its own tests")
        """),
    textwrap.dedent("""\
        %%writefile test_x.py
        def test_passes():
            assert 1 + 1 == 2

        def test_fails():
            assert 1 + 1 == 3
        """),
    "%ltest -q test_x.py",
    "code = %ltest -q test_x.py -k passes\nprint('exit code', code)\ncode",
    textwrap.dedent("""\
        %%ltest -v
        def test_uses_notebook_helper():
            assert double(21) == 42

        def test_mutates_notebook_list():
            shared.append(3)
            assert shared == [1, 2, 3]
        """),
    "assert shared == [1, 2], shared\nprint('notebook list', shared)",
    textwrap.dedent("""\
        %%ltest -q
        from __future__ import annotations
        def test_fails_on_line_four(x: NotDefinedAnywhere = None):
            assert double(2) == 5
        """),
    "import ltest\nltest.last_result()['exit_code']",
]


def stdout_of(cell):
    """The cell's stdout without the ANSI colours %ltest gives it."""
    text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")
    return ANSI.sub("", text)


def results_of(cell):
    return [o.data["text/plain"] for o in cell.outputs if o.output_type == "execute_result"]


def verbose_lines(out):
    """pytest -v's "PATH::TEST RESULT" of each test, without the percentages."""
    return [tuple(line.split()[:2]) for line in out.splitlines() if "::test_" in line]


def listed_tests(out):
    """(file name, test name, result) of each test pytest -v listed."""
    return [(os.path.basename(nodeid.split("::")[0]), nodeid.split("::")[1], result)
            for nodeid, result in verbose_lines(out)]


def cold_verbose_lines(out, cell_file, workdir, env):
    """verbose_lines of a cold pytest run from `workdir` on a module at the
    path the %%ltest run had (its rootdir is gone with the run; made again
    here), with tests of the same names that pass by themselves."""
    rootdir = re.search(r"^rootdir: (\S+)$", out, re.M).group(1)
    names = [test for _, test, _ in listed_tests(out)]
    os.mkdir(rootdir)
    try:
        with open(os.path.join(rootdir, cell_file), "w") as f:
            f.write("".join(f"def {name}():\n    pass\n" for name in names))
        cold = subprocess.run([sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "--rootdir", rootdir,
                               os.path.join(rootdir, cell_file)], cwd=workdir, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    finally:
        shutil.rmtree(rootdir)
    assert cold.returncode == 0, cold.stdout
    return verbose_lines(ANSI.sub("", cold.stdout))


def test_notebook_runs_tests_with_ltest_magics(kernel_env, workdir):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
    client = NotebookClient(nb, kernel_name="python3", timeout=60, allow_errors=False,
                            resources={"metadata": {"path": str(workdir)}})
    client.execute(env=kernel_env)
    cells = nb.cells

    # Execution counts go as usual: one per cell, in order.
    assert [c.execution_count for c in cells] == list(range(1, len(cells) + 1))
    assert not any(o.output_type == "error" for c in cells for o in c.outputs)

    # %ltest: pytest's output streams into the cell; the exit code is not its Out.
    out = stdout_of(cells[3])
    assert re.search(r"^1 failed, 1 passed in [\d.]+s$", out, re.M), out
    assert "FAILED test_x.py::test_fails - assert (1 + 1) == 3" in out
    assert results_of(cells[3]) == []

    # `code = %ltest ...` gets the exit code.
    out = stdout_of(cells[4])
    assert re.search(r"^1 passed, 1 deselected in", out, re.M), out
    assert "exit code 0" in out
    assert results_of(cells[4]) == []

    # %%ltest: the cell's tests see the notebook's names; only they run. They
    # are in test_cell6.py (In[6]) in a temporary rootdir, and -v names them
    # as a cold `pytest -v --rootdir TMP TMP/test_cell6.py` from the
    # notebook's directory does (its path relative to there, on every pytest).
    out = stdout_of(cells[5])
    assert listed_tests(out) == [("test_cell6.py", "test_uses_notebook_helper", "PASSED"),
                               ("test_cell6.py", "test_mutates_notebook_list", "PASSED")], out
    assert verbose_lines(out) == cold_verbose_lines(out, "test_cell6.py", workdir, kernel_env), out
    assert "test_defined_in_the_notebook" not in out
    assert re.search(r"=+ 2 passed in [\d.]+s =+", out), out
    assert results_of(cells[5]) == []

    # ... and what they did happened in a fork: the notebook's list is as it was.
    assert stdout_of(cells[6]) == "notebook list [1, 2]\n"

    # A failing %%ltest cell: line N of the cell is line N in the traceback,
    # `from __future__` still comes first.
    out = stdout_of(cells[7])
    assert "test_cell8.py:4: AssertionError" in out, out
    assert "assert 4 == 5" in out
    assert re.search(r"^1 failed in", out, re.M), out
    assert results_of(cells[7]) == []
    assert results_of(cells[8]) == ["1"]  # a plain int shows

    # Nothing left behind in the notebook's directory but what the notebook wrote
    # (and the caches pytest and pytest-benchmark, which tools/deps installs, keep there).
    left = sorted(p.name for p in workdir.iterdir() if p.name not in (".pytest_cache", ".benchmarks"))
    assert left == ["test_x.py"], left
