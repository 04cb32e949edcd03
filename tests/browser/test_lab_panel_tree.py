"""The Tests panel's tree in JupyterLab 4.6: files and classes with counts,
durations, the filter box, a class's re-run, the jump to a test's source in
JupyterLab's editor; and a notebook cell that runs while a panel run is
going (the panel's runs have a channel of their own). The screenshot of the
tree goes to the artifact dir (README's picture)."""
import textwrap

from lab_page import console_errors, open_notebook
from pages import is_png, page_text, save_screenshot, wait_for
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from test_lab_panel import click, idle_panel, open_panel, statuses

import nbformat

SHAPES = textwrap.dedent("""\
    import pytest


    class TestSquare:
        @pytest.mark.parametrize("side", [1, 2, 3])
        def test_area(self, side):
            assert side * side == side ** 2

        def test_perimeter(self):
            assert 4 * 2 == 9, "a square of side 2 has perimeter 8"


    class TestCircle:
        def test_round(self):
            assert round(3.14159, 2) == 3.14


    def test_module_level():
        pass
    """)

# waits for a file the test writes only after the notebook's cell ran
GATE = textwrap.dedent("""\
    import pathlib
    import time

    HERE = pathlib.Path(__file__).parent

    def test_waits_for_the_cell():
        (HERE / "started").write_text("yes")
        while not (HERE / "cell-ran").exists():
            time.sleep(0.05)
    """)

CELL = "import pathlib\npathlib.Path('gate/cell-ran').write_text('the cell ran during the panel run')\nprint('cell done')"


def write_notebook(notebook_dir):
    for folder, name, source in (("shapes", "test_shapes.py", SHAPES), ("gate", "test_gate.py", GATE)):
        (notebook_dir / folder).mkdir()
        (notebook_dir / folder / name).write_text(source)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(CELL)]
    nbformat.write(nb, str(notebook_dir / "tree.ipynb"))


F = "shapes/test_shapes.py"
SQUARE = [f"{F}::TestSquare::test_area[{n}]" for n in (1, 2, 3)] + [f"{F}::TestSquare::test_perimeter"]
CIRCLE = f"{F}::TestCircle::test_round"
MODULE = f"{F}::test_module_level"


def visible_tests(driver):
    return driver.execute_script("""
        return [...document.querySelectorAll('#ltest-tests .ltest-test')]
            .filter(e => e.offsetParent !== null).map(e => e.dataset.nodeid);""")


def group_head(driver, nodeid):
    return driver.find_element(By.CSS_SELECTOR, f'#ltest-tests .ltest-group[data-nodeid="{nodeid}"] > .ltest-group-row')


def test_tree_counts_filter_class_rerun_and_jump_to_source(lab_server, browser, artifact_dir):
    write_notebook(lab_server.notebook_dir)
    shot = artifact_dir / "browser_lab_panel_tree.png"
    shot.unlink(missing_ok=True)
    try:
        open_notebook(browser, lab_server, "ltest-tree", "tree.ipynb")
        open_panel(browser, "shapes")
        click(browser, ".ltest-run-all")
        wait_for(browser, "every test's result", lambda d: idle_panel(d) and len(statuses(d)) == 6
                 and "notrun" not in statuses(d).values() and "queued" not in statuses(d).values(), 60)
        assert statuses(browser) == {**{t: "passed" for t in SQUARE[:3]}, SQUARE[3]: "failed",
                                     CIRCLE: "passed", MODULE: "passed"}
        status = browser.find_element(By.CSS_SELECTOR, "#ltest-tests .ltest-status").text
        assert status == "5 passed, 1 failed (exit code 1)", status
        # The tree: the file, then its classes, each with its counts; the parameters whole.
        counts = {g.get_attribute("data-nodeid"): g.find_element(By.CSS_SELECTOR, ":scope > .ltest-group-row .ltest-counts").text.split()
                  for g in browser.find_elements(By.CSS_SELECTOR, "#ltest-tests .ltest-group")}
        assert counts == {F: ["✔5", "✘1", "6"], f"{F}::TestSquare": ["✔3", "✘1", "4"],
                      f"{F}::TestCircle": ["✔1", "1"]}, counts
        names = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#ltest-tests .ltest-test .ltest-name")]
        assert names[:4] == ["test_area[1]", "test_area[2]", "test_area[3]", "test_perimeter"], names
        durations = browser.find_elements(By.CSS_SELECTOR, "#ltest-tests .ltest-test .ltest-duration")
        assert len(durations) == 6 and all(d.text.endswith(("ms", " s")) for d in durations), [d.text for d in durations]
        traceback = browser.find_element(By.CSS_SELECTOR, f'.ltest-test[data-nodeid="{SQUARE[3]}"] .ltest-traceback')
        assert "a square of side 2 has perimeter 8" in traceback.text
        wrap = browser.execute_script("return getComputedStyle(arguments[0].querySelector('pre')).whiteSpace", traceback)
        assert wrap == "pre-wrap", wrap
        # No Stop button once the run is over.
        assert not browser.find_element(By.CSS_SELECTOR, "#ltest-tests .ltest-stop").is_displayed()
        save_screenshot(browser, shot)

        # The filter box keeps the matching tests and their groups.
        field = browser.find_element(By.CSS_SELECTOR, "#ltest-tests .ltest-filter")
        field.send_keys("area")
        wait_for(browser, "the filter", lambda d: visible_tests(d) == SQUARE[:3], 10)
        field.send_keys(Keys.CONTROL, "a", Keys.BACKSPACE)
        wait_for(browser, "the filter cleared", lambda d: len(visible_tests(d)) == 6, 10)

        # A class collapses; its ▶ runs that class alone.
        group_head(browser, f"{F}::TestCircle").click()
        wait_for(browser, "TestCircle collapsed", lambda d: CIRCLE not in visible_tests(d), 10)
        group_head(browser, f"{F}::TestSquare").find_element(By.CSS_SELECTOR, ".ltest-run-class").click()
        wait_for(browser, "TestSquare's run", lambda d: idle_panel(d) and "4 test" not in d.find_element(
            By.CSS_SELECTOR, "#ltest-tests .ltest-status").text and d.find_element(
            By.CSS_SELECTOR, "#ltest-tests .ltest-status").text.startswith("3 passed"), 60)
        status = browser.find_element(By.CSS_SELECTOR, "#ltest-tests .ltest-status").text
        assert status == "3 passed, 1 failed (exit code 1)", status

        # A click on a test's name opens its file in the editor at its line.
        group_head(browser, f"{F}::TestCircle").click()
        wait_for(browser, "TestCircle expanded", lambda d: CIRCLE in visible_tests(d), 10)
        browser.find_element(By.CSS_SELECTOR, f'.ltest-test[data-nodeid="{CIRCLE}"] .ltest-name').click()
        line = SHAPES.splitlines().index("    def test_round(self):") + 1
        wait_for(browser, "the editor on test_shapes.py at test_round's line", lambda d: d.execute_script("""
            return [...document.querySelectorAll('.lm-TabBar-tab.lm-mod-current .lm-TabBar-tabLabel')]
                .some(e => e.textContent === 'test_shapes.py');""")
                 and f"Ln {line}, Col 1" in d.find_element(By.ID, "jp-main-statusbar").text, 30)
    finally:
        save_screenshot(browser, artifact_dir / "browser_lab_panel_tree_end.png")
    assert console_errors(browser) == []
    assert is_png(shot), shot


def test_a_cell_runs_during_a_panel_run(lab_server, browser, artifact_dir):
    """The run's one test waits for the file the notebook's cell writes: the
    run can end only if the cell ran while it was going."""
    write_notebook(lab_server.notebook_dir)
    started = lab_server.notebook_dir / "gate" / "started"
    test = "gate/test_gate.py::test_waits_for_the_cell"
    try:
        open_notebook(browser, lab_server, "ltest-free", "tree.ipynb")
        open_panel(browser, "gate")
        click(browser, ".ltest-run-all")
        wait_for(browser, "the panel's test to start", lambda d: started.exists() and statuses(d) == {test: "running"}, 60)
        assert browser.find_element(By.CSS_SELECTOR, "#ltest-tests .ltest-stop").is_displayed()
        # The cell, as a person runs it: click into it, Shift+Enter.
        browser.find_element(By.CSS_SELECTOR, ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell .cm-content").click()
        browser.switch_to.active_element.send_keys(Keys.SHIFT, Keys.ENTER)
        wait_for(browser, "the cell's output", lambda d: "cell done" in "\n".join(
            e.text for e in d.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output")), 60)
        wait_for(browser, "the panel run to end after the cell", lambda d: idle_panel(d)
                 and statuses(d) == {test: "passed"}, 60)
    finally:
        save_screenshot(browser, artifact_dir / "browser_lab_panel_cell_during_run.png")
    assert "Idle" in browser.find_element(By.ID, "jp-main-statusbar").text, page_text(browser)
    assert console_errors(browser) == []
