"""Notebook 7 (from PyPI, tools/lab-build's virtualenv) with ltest's prebuilt
extension: `%ltest` in a cell, then the Tests panel, opened from View > Left
Sidebar as a person opens it, lists, runs, re-runs the failed test and
filters. The screenshot goes to the artifact dir."""
from lab_page import OUTPUTS, output_text
from pages import SUMMARY, is_png, save_screenshot, wait_for, write_demo_notebook
from selenium.webdriver.common.by import By
from test_lab_panel import click, idle_panel, open_panel, statuses


def menu_path(driver, *labels):
    """Clicks the menu bar's first label, then each submenu entry in turn."""
    def find(css, label):
        def found(d):
            return next((e for e in d.find_elements(By.CSS_SELECTOR, css)
                         if e.text.strip() == label and e.is_displayed()), None)
        return found

    wait_for(driver, f"the {labels[0]} menu", find(".lm-MenuBar-item", labels[0]), 30).click()
    for label in labels[1:]:
        wait_for(driver, f"menu entry {label}", find(".lm-Menu-item .lm-Menu-itemLabel", label), 10).click()


def test_panel_in_notebook7(notebook7_server, browser, artifact_dir):
    write_demo_notebook(notebook7_server.notebook_dir)
    shot = artifact_dir / "browser_notebook7_panel.png"
    shot.unlink(missing_ok=True)
    names = [f"test_demo.py::{n}" for n in ("test_adds", "test_joins", "test_fails")]
    try:
        browser.get(notebook7_server.page("notebooks/demo.ipynb"))
        wait_for(browser, "the notebook", lambda d: d.find_elements(By.CSS_SELECTOR, ".jp-NotebookPanel .jp-CodeCell"), 60)
        # Notebook 7 asks which kernel to start: the notebook's own, preselected.
        accept = '.jp-Dialog .jp-Dialog-button.jp-mod-accept'
        try:
            wait_for(browser, "the kernel dialog", lambda d: d.find_elements(By.CSS_SELECTOR, accept), 30)[0].click()
        except AssertionError:
            pass  # no dialog: the kernel started by itself; the cells' outputs below show it ran
        # The kernel answers: %load_ext ltest and %ltest -q ran in it.
        menu_path(browser, "Run", "Run All Cells")
        output = wait_for(browser, "%ltest's summary", lambda d: SUMMARY.search(output_text(d)) and output_text(d), 90)
        assert "1 failed, 2 passed" in output, output

        menu_path(browser, "View", "Left Sidebar", "Show Tests (ltest)")
        open_panel(browser, ".", via_tab=False)
        click(browser, ".ltest-collect")
        wait_for(browser, "the tests listed", lambda d: idle_panel(d) and statuses(d) == dict.fromkeys(names, "notrun"), 60)
        assert browser.find_element(By.CSS_SELECTOR, "#ltest-tests .ltest-status").text == "3 tests collected"
        click(browser, ".ltest-run-all")
        wait_for(browser, "the run", lambda d: idle_panel(d)
                 and statuses(d) == {names[0]: "passed", names[1]: "passed", names[2]: "failed"}, 60)
        click(browser, ".ltest-run-failed")
        wait_for(browser, "the failed test's re-run", lambda d: idle_panel(d) and browser.find_element(
            By.CSS_SELECTOR, "#ltest-tests .ltest-status").text == "1 failed (exit code 1)", 60)
        field = browser.find_element(By.CSS_SELECTOR, "#ltest-tests .ltest-filter")
        field.send_keys("join")
        wait_for(browser, "the filter", lambda d: d.execute_script("""
            return [...document.querySelectorAll('#ltest-tests .ltest-test')].map(e => e.dataset.nodeid);""")
                 == [names[1]], 10)
        assert browser.find_elements(By.CSS_SELECTOR, OUTPUTS)  # the notebook's own outputs are still there
    finally:
        save_screenshot(browser, shot)
    assert is_png(shot), shot
