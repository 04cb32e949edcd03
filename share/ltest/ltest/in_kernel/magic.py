"""The `%ltest` and `%%ltest` IPython magics (`%load_ext ltest`).

`%ltest ARGS` runs `pytest ARGS` (split as a shell would) in a fork of the
notebook's own kernel, in the kernel's working directory and environment,
exactly as `ltest -- ARGS` or `python -m pytest ARGS` would run there. The
output streams into the cell as it comes; a test that reads stdin (input(),
`--pdb`, `-s`) asks the notebook for the line; the stop button interrupts
the tests as Ctrl-C does in a terminal (twice kills them).

`%%ltest ARGS` runs the tests written in the cell itself, in a fork: the
cell becomes a test module whose globals start as the notebook's names
(functions, variables, imported modules, fixtures), so the tests use them
directly, yet nothing a test does reaches the notebook's objects, which live
on unchanged in the kernel. Line N of the cell is line N of the module in
tracebacks. The module lives in a temporary directory, removed afterwards;
that directory is pytest's rootdir, so the project's ini file and conftest.py
do not apply (pass options on the magic line, or `-c path/to/pytest.ini`),
and the cache (`--lf`) does not outlive the run.
Plain Python only: IPython syntax (`%magic`, `!cmd`) is not translated.
Notebook functions named `test*` and classes named `Test*` serve the cell's
module-level code (a base class, say) but are not collected: only the cell's
own tests run.

Result: both magics return pytest's exit code as an `ExitCode` (an int), so
`code = %ltest -q tests/` works, but it never shows as the cell's `Out`:
pytest's own summary already says how the run went.
`ltest.last_result()` holds the latest run's `{"exit_code", "duration"}`.
An interrupted run (stop button) ends the cell with a KeyboardInterrupt after
pytest has printed its summary, so "Run All" stops there as it would for any
interrupted cell.

Output is coloured (JupyterLab and the classic notebook render ANSI colours)
and 100 columns wide: the run's environment gets PY_COLORS=1 and COLUMNS=100
unless the kernel's has PY_COLORS, NO_COLOR or FORCE_COLOR, or COLUMNS.
Any `--color` option (on the magic line, in PYTEST_ADDOPTS or the ini
file's addopts) wins, as pytest lets it win over PY_COLORS.
"""
import ast
import contextlib
import inspect
import io
import os
import re
import shlex
import signal
import tempfile
import time

from . import runner
from .result import Reply, remember
from ..state import STATE


class ExitCode(int):
    """pytest's exit code. As a cell's result it displays nothing."""

    def _ipython_display_(self):
        return None  # IPython calls this hook instead of showing the value


class RunInterrupted(KeyboardInterrupt):
    """The user interrupted a run; pytest has reported it in the cell."""

    def __init__(self, exit_code):
        super().__init__(f"the test run was interrupted (exit code {exit_code})")
        self.exit_code = exit_code

    def _render_traceback_(self):  # IPython shows this instead of a traceback
        return [f"KeyboardInterrupt: {self.args[0]}"]


# --- what a %%ltest cell sees of the notebook -------------------------------

# IPython's own history names: _, __, ___, _i, _ii, _iii, _i7, _7, _ih, _oh, _dh.
_IPYTHON_NAME = re.compile(r"_+|_i{1,3}|_i?\d+|_[iod]h")


def notebook_names(user_ns, hidden=None):
    """The notebook's names a cell's tests may use: the user namespace less
    dunders, IPython's history variables and the names IPython put there
    itself (In, Out, exit, get_ipython, ...) unless the user rebound them."""
    hidden = hidden or {}
    names = {}
    for name, value in user_ns.items():
        if not isinstance(name, str) or (name.startswith("__") and name.endswith("__")):
            continue
        if _IPYTHON_NAME.fullmatch(name) or (name in hidden and hidden[name] is value):
            continue
        names[name] = value
    return names


def collectable_as_test(name, value):
    """Would pytest (default python_functions/python_classes) collect this
    module-level object as a test?"""
    if inspect.isclass(value):
        return name.startswith("Test")
    try:
        marked = getattr(value, "__test__", False) is True
    except Exception:
        marked = False
    return (name.startswith("test") and callable(value)) or marked


def _future_imports_end(source):
    """(line, byte column) where the cell's `from __future__` imports end, or None."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    end = None
    for i, node in enumerate(tree.body):
        if i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) \
                and isinstance(node.value.value, str):
            continue  # the module docstring may precede them
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            end = (node.end_lineno, node.end_col_offset)
            continue
        break
    return end


def cell_module_source(cell, module=__name__):
    """The text of the test module for a `%%ltest` cell. The first line (where
    the cell has its `%%ltest` line) seeds the notebook's names, so line N of
    the cell is line N of the module; the last line drops the seeded names
    pytest would collect, so only the cell's own tests run."""
    seed = f"__import__({module!r}, fromlist=['_seed'])._seed(globals())"
    unseed = f"__import__({module!r}, fromlist=['_unseed'])._unseed(globals())\n"
    body = cell if not cell or cell.endswith("\n") else cell + "\n"
    future = _future_imports_end(body)
    if future is None:
        return seed + "\n" + body + unseed
    # `from __future__` must come first: seed right after the last one, on its line.
    lines = io.StringIO(body).readlines()
    line_no, col = future
    raw = lines[line_no - 1].encode("utf-8")
    lines[line_no - 1] = (raw[:col] + b"; " + seed.encode("utf-8") + raw[col:]).decode("utf-8")
    return "# the notebook's names are set after the __future__ imports\n" + "".join(lines) + unseed


# STATE.cell_names: set in the kernel just before a cell's run forks, read in the child only.
_seeded_tests = {}


def _seed(module_globals):
    names = STATE.cell_names
    if not names:
        return
    module_globals.update(names)
    _seeded_tests.update((k, v) for k, v in names.items() if collectable_as_test(k, v))


def _unseed(module_globals):
    for name, value in _seeded_tests.items():
        if module_globals.get(name) is value:  # not redefined by the cell
            del module_globals[name]


# --- running ------------------------------------------------------------------

@contextlib.contextmanager
def _noticing_interrupts(seen):
    """Notes a SIGINT (appending to `seen`) while the kernel's own handler
    still runs, so that a run the user stopped can stop the cell too."""
    try:
        previous = signal.getsignal(signal.SIGINT)
    except ValueError:
        previous = None
    if previous is None:  # not from Python, or not the main thread: do not touch
        yield
        return

    def handler(signum, frame):
        seen.append(signum)
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL:
            raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGINT, handler)
    except ValueError:
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


# Colour unless the user said (pytest reads these; any --color option wins);
# a width that fits JupyterLab's output area beside the prompt.
_COLOUR_CHOICES = ("PY_COLORS", "NO_COLOR", "FORCE_COLOR")
OUTPUT_COLUMNS = "100"


def notebook_run_env(environ):
    """The environment of a notebook's run: the kernel's, plus PY_COLORS=1 and
    COLUMNS=100 where the user chose neither."""
    env = dict(environ)
    if not any(name in env for name in _COLOUR_CHOICES):
        env["PY_COLORS"] = "1"
    env.setdefault("COLUMNS", OUTPUT_COLUMNS)
    return env


def run_tests(args):
    """Runs pytest ARGS in a fork, from the kernel's cwd with its environment;
    returns the ExitCode, or raises RunInterrupted if the user interrupted."""
    start = time.perf_counter()
    interrupts = []
    with _noticing_interrupts(interrupts):
        code = runner.run(args, cwd=os.getcwd(), env=notebook_run_env(os.environ))
    remember(Reply(exit_code=code, duration=round(time.perf_counter() - start, 6)))
    if interrupts:
        raise RunInterrupted(code)
    return ExitCode(code)


def run_cell_tests(args, cell, user_ns, hidden=None, cell_number=None):
    """Runs the tests defined in `cell` with the notebook's names visible."""
    name = f"test_cell{cell_number}" if isinstance(cell_number, int) else "test_cell"
    with tempfile.TemporaryDirectory(prefix="ltest-cell-") as tmp:
        path = os.path.join(tmp, name + ".py")
        with open(path, "w", encoding="utf-8") as f:
            f.write(cell_module_source(cell))
        STATE.cell_names = notebook_names(user_ns, hidden)
        try:
            # The temporary directory is the rootdir (node ids `test_cellN.py::...`,
            # the cache goes away with it); the user's own --rootdir comes later and wins.
            return run_tests(["--rootdir", tmp] + list(args) + [path])
        finally:
            STATE.cell_names = None


def split_args(line):
    from IPython.core.error import UsageError
    try:
        return shlex.split(line)
    except ValueError as e:
        raise UsageError(f"%ltest: cannot split the arguments: {e}") from None


def cell_number(ipython):
    """The number N of the running cell's In[N] (its file is test_cellN.py).
    Not `execution_count`: IPython 8 adds one to it after the cell ran, IPython
    9 before, so while a cell runs it is N on one and N+1 on the other. The
    display hook's `prompt_count` is the N that IPython itself gives the
    cell's Out[N] on both (public API)."""
    count = getattr(getattr(ipython, "displayhook", None), "prompt_count", None)
    return count if isinstance(count, int) else ipython.execution_count


def register(ipython):
    def ltest(line, cell=None):
        args = split_args(line)
        if cell is None:
            return run_tests(args)
        return run_cell_tests(args, cell, ipython.user_ns, ipython.user_ns_hidden, cell_number(ipython))

    ltest.__doc__ = __doc__
    ipython.register_magic_function(ltest, magic_kind="line_cell", magic_name="ltest")
