"""The pure parts of ltest.magic, without a kernel."""
import types

import pytest

from ltest.in_kernel import magic
from ltest.state import STATE


def module_from(cell, names):
    """Runs a %%ltest cell's module text as its run would, with `names` as the notebook's."""
    STATE.cell_names = names
    magic._seeded_tests.clear()
    try:
        g = {"__name__": "test_cell"}
        exec(compile(magic.cell_module_source(cell), "test_cell.py", "exec"), g)
        return g
    finally:
        STATE.cell_names = None
        magic._seeded_tests.clear()


def test_cell_lines_keep_their_numbers():
    source = magic.cell_module_source("def test_a():\n    assert False")
    lines = source.splitlines()
    assert "_seed(globals())" in lines[0]  # where the cell has its %%ltest line
    assert lines[1:3] == ["def test_a():", "    assert False"]
    assert "_unseed(globals())" in lines[3] and len(lines) == 4


def test_future_imports_stay_first():
    cell = '"""doc"""\nfrom __future__ import annotations  # note\nimport os\n'
    lines = magic.cell_module_source(cell).splitlines()
    assert lines[0].startswith("#")
    assert lines[1] == '"""doc"""'
    assert lines[2].startswith("from __future__ import annotations; __import__(")
    assert lines[2].endswith("._seed(globals())  # note")
    assert lines[3] == "import os"
    g = module_from(cell, {"helper": len})
    assert g["helper"] is len and g["__doc__"] == "doc"


def test_a_cell_that_does_not_parse_is_left_to_pytest():
    source = magic.cell_module_source("def test_(:\n")
    assert source.splitlines()[1] == "def test_(:"


def test_module_sees_notebook_names_but_not_notebook_tests():
    class TestBase:
        def test_inherited(self):
            pass

    def test_from_notebook():
        pass

    def helper():
        return 42

    names = {"helper": helper, "TestBase": TestBase, "test_from_notebook": test_from_notebook,
             "test_data": [1, 2]}
    g = module_from("class TestSub(TestBase):\n    pass\n\ndef test_x():\n    assert helper() == 42\n", names)
    g["test_x"]()
    assert issubclass(g["TestSub"], TestBase)  # module-level code saw the notebook's class
    assert "TestBase" not in g and "test_from_notebook" not in g  # not collected again
    assert g["helper"] is helper and g["test_data"] == [1, 2]


def test_a_cell_may_redefine_a_notebook_test():
    g = module_from("def test_from_notebook():\n    pass\n", {"test_from_notebook": lambda: None})
    assert g["test_from_notebook"].__module__ == "test_cell"


def test_notebook_names_drop_ipython_bookkeeping():
    hidden = {"In": [], "Out": {}, "get_ipython": object(), "exit": object()}
    user_ns = dict(hidden)
    user_ns.update({"__name__": "__main__", "__builtins__": object(), "_": 1, "__": 2, "___": 3,
                    "_i": "", "_ii": "", "_iii": "", "_i3": "", "_3": 9, "_ih": [], "_oh": {}, "_dh": [],
                    "x": 1, "_private": 2, "exit": "rebound by the user"})
    assert magic.notebook_names(user_ns, hidden) == {"x": 1, "_private": 2, "exit": "rebound by the user"}


@pytest.mark.parametrize("name, value, expected", [
    ("test_f", lambda: None, True),
    ("TestC", type("TestC", (), {}), True),
    ("helper", lambda: None, False),
    ("test_data", [1], False),
    ("testcls", type("testcls", (), {}), False),
    ("marked", types.SimpleNamespace(__test__=True, __call__=None), True),
])
def test_collectable_as_test(name, value, expected):
    assert magic.collectable_as_test(name, value) is expected


def test_exit_code_is_an_int_that_never_displays():
    assert magic.ExitCode(0) == 0 and magic.ExitCode(1) == 1 and repr(magic.ExitCode(1)) == "1"
    for code in (0, 1, 2):
        assert magic.ExitCode(code)._ipython_display_() is None


def test_run_env_colours_and_widens_unless_the_user_chose():
    env = magic.notebook_run_env({"HOME": "/h"})
    assert env == {"HOME": "/h", "PY_COLORS": "1", "COLUMNS": "100"}
    for choice in ({"PY_COLORS": "0"}, {"NO_COLOR": ""}, {"FORCE_COLOR": "1"}):
        assert magic.notebook_run_env(choice) == {**choice, "COLUMNS": "100"}
    assert magic.notebook_run_env({"COLUMNS": "123"})["COLUMNS"] == "123"
    environ = {"A": "1"}
    magic.notebook_run_env(environ)
    assert environ == {"A": "1"}  # the kernel's own environment is left alone
