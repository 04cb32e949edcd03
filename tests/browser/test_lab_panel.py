"""ltest's Tests panel (lab/extension, installed as a prebuilt extension) in
JupyterLab 4.6: it lists a suite's tests, runs one, all, the notebook's
%%ltest cells, shows a failure's ANSI-coloured traceback, and stops a
running suite. Chromium clicks as a person would; screenshots go to the
artifact dir."""
import textwrap

from lab_page import console_errors, open_notebook
from pages import is_png, page_text, save_screenshot, wait_for
from selenium.webdriver.common.by import By

import nbformat

# test_adds notes each run of it in a file: the test sees which runs ran it.
MATH = textwrap.dedent("""\
    import pathlib

    def test_adds():
        with open(pathlib.Path(__file__).parent / "adds.log", "a") as log:
            log.write("ran\\n")
        assert 1 + 1 == 2

    def test_fails():
        assert 6 * 7 == 41
    """)

# test_blocks says it started (a file), then waits for a file no one writes
# until the test is over: only the stop button ends it.
BLOCKING = textwrap.dedent("""\
    import pathlib
    import time

    HERE = pathlib.Path(__file__).parent

    def test_first():
        pass

    def test_blocks():
        (HERE / "started").write_text("yes")
        while not (HERE / "release").exists():
            time.sleep(0.05)

    def test_after():
        pass
    """)

CELL_TESTS = "%%ltest -q\ndef test_in_the_cell():\n    assert sum([1, 2]) == 3\n"


def write_notebook(notebook_dir):
    for folder, name, source in (("suite", "test_math.py", MATH), ("blocking", "test_block.py", BLOCKING)):
        (notebook_dir / folder).mkdir()
        (notebook_dir / folder / name).write_text(source)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell(CELL_TESTS)]
    nbformat.write(nb, str(notebook_dir / "panel.ipynb"))


def row(driver, nodeid):
    return driver.find_element(By.CSS_SELECTOR, f'.ltest-test[data-nodeid="{nodeid}"]')


def statuses(driver):
    # In one script: the panel redraws its rows as events arrive.
    return driver.execute_script("""
        return Object.fromEntries([...document.querySelectorAll('#ltest-tests .ltest-test')]
            .map(e => [e.dataset.nodeid, e.dataset.status]));""")


def idle_panel(driver):
    return driver.execute_script("return document.getElementById('ltest-tests').dataset.busy === ''")


def open_panel(driver, directory, via_tab=True):
    """Shows the panel (its tab in the left sidebar; Notebook 7 has none:
    the caller shows it from the View menu) and names the tests' directory."""
    if via_tab:
        wait_for(driver, "the Tests tab", lambda d: d.find_elements(
            By.CSS_SELECTOR, '.lm-TabBar-tab[data-id="ltest-tests"]'), 30)[0].click()
    field = wait_for(driver, "the panel", lambda d: d.find_element(By.CSS_SELECTOR, "#ltest-tests .ltest-dir"), 10)
    field.clear()
    field.send_keys(directory)


def click(driver, css):
    driver.find_element(By.CSS_SELECTOR, f"#ltest-tests {css}").click()


def test_panel_lists_runs_and_shows_tracebacks(lab_server, browser, artifact_dir):
    write_notebook(lab_server.notebook_dir)
    shot = artifact_dir / "browser_lab_panel.png"
    shot.unlink(missing_ok=True)
    adds, fails = "suite/test_math.py::test_adds", "suite/test_math.py::test_fails"
    try:
        open_notebook(browser, lab_server, "ltest-panel", "panel.ipynb")
        open_panel(browser, "suite")
        click(browser, ".ltest-collect")
        wait_for(browser, "the suite's tests listed",
                 lambda d: statuses(d) == {adds: "notrun", fails: "notrun"} and idle_panel(d), 60)

        row(browser, adds).find_element(By.CSS_SELECTOR, ".ltest-run-test").click()
        wait_for(browser, "test_adds to pass alone",
                 lambda d: statuses(d) == {adds: "passed", fails: "notrun"} and idle_panel(d), 60)

        click(browser, ".ltest-run-all")
        wait_for(browser, "both tests' results",
                 lambda d: statuses(d) == {adds: "passed", fails: "failed"} and idle_panel(d), 60)
        status = browser.find_element(By.CSS_SELECTOR, "#ltest-tests .ltest-status").text
        assert status == "1 passed, 1 failed (exit code 1)", status
        traceback = row(browser, fails).find_element(By.CSS_SELECTOR, ".ltest-traceback")
        assert "assert (6 * 7) == 41" in traceback.text, traceback.text
        assert traceback.find_elements(By.CSS_SELECTOR, 'span[class*="ansi-red"]'), traceback.get_attribute("innerHTML")
        assert not row(browser, adds).find_elements(By.CSS_SELECTOR, ".ltest-traceback")

        # Run failed runs test_fails only; ▶ on the file runs both.
        adds_log = lab_server.notebook_dir / "suite" / "adds.log"
        assert adds_log.read_text().count("ran") == 2  # alone, then with all
        click(browser, ".ltest-run-failed")
        wait_for(browser, "the failed test's rerun", idle_panel, 60)
        assert statuses(browser) == {adds: "passed", fails: "failed"}
        assert adds_log.read_text().count("ran") == 2
        browser.find_element(By.CSS_SELECTOR, "#ltest-tests .ltest-run-file").click()
        wait_for(browser, "the file's run", idle_panel, 60)
        assert statuses(browser) == {adds: "passed", fails: "failed"}
        assert adds_log.read_text().count("ran") == 3

        click(browser, ".ltest-run-cells")
        wait_for(browser, "the notebook's %%ltest cell to run",
                 lambda d: "%%ltest cells: exit codes 0" in d.find_element(
                     By.CSS_SELECTOR, "#ltest-tests .ltest-status").text and idle_panel(d), 60)
        outputs = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output")]
        assert any("1 passed in" in o for o in outputs), outputs
    finally:
        save_screenshot(browser, shot)
    assert console_errors(browser) == []
    assert is_png(shot), shot


def test_stop_interrupts_a_running_suite(lab_server, browser, artifact_dir):
    write_notebook(lab_server.notebook_dir)
    started = lab_server.notebook_dir / "blocking" / "started"
    first, blocks, after = ("blocking/test_block.py::" + n for n in ("test_first", "test_blocks", "test_after"))
    try:
        open_notebook(browser, lab_server, "ltest-stop", "panel.ipynb")
        open_panel(browser, "blocking")
        click(browser, ".ltest-run-all")
        wait_for(browser, "test_blocks to start", lambda d: started.exists(), 60)
        wait_for(browser, "the panel to show it running",
                 lambda d: statuses(d) == {first: "passed", blocks: "running", after: "queued"}, 30)
        click(browser, ".ltest-stop")
        wait_for(browser, "the run to end", idle_panel, 60)
        assert statuses(browser) == {first: "passed", blocks: "notrun", after: "notrun"}
        status = browser.find_element(By.CSS_SELECTOR, "#ltest-tests .ltest-status").text
        assert status == "1 passed, 2 not run (exit code 2)", status  # pytest's exit code for an interrupt
        assert "Idle" in browser.find_element(By.ID, "jp-main-statusbar").text, page_text(browser)
    finally:
        save_screenshot(browser, artifact_dir / "browser_lab_panel_stopped.png")
        (lab_server.notebook_dir / "blocking" / "release").write_text("done")
    assert console_errors(browser) == []
