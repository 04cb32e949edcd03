"""A person's view of `%ltest`: the classic notebook in headless Chromium.

The notebook server runs on loopback; Chromium opens a notebook whose cells
are `%load_ext ltest` and `%ltest -q test_demo.py`, runs them with
Cell > Run All, and the test reads pytest's summary from the page. A
screenshot of the page is kept in the artifact dir (LTEST_ARTIFACT_DIR).
"""
import re

from pages import SUMMARY, CellError, is_png, save_screenshot, wait_for, write_demo_notebook
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

KERNEL_IDLE = """
    const nb = window.Jupyter && Jupyter.notebook;
    return !!(nb && nb.kernel && nb.kernel.is_connected()
              && document.querySelector('#kernel_indicator_icon.kernel_idle_icon'));
"""

# Every code cell has run: its prompt shows a number, not "*" or nothing.
ALL_CELLS_RAN = """
    return Jupyter.notebook.get_cells().every(c => c.cell_type !== 'code' || Number.isInteger(c.input_prompt_number));
"""


def test_ltest_cell_output_in_the_browser(notebook_server, browser, artifact_dir):
    write_demo_notebook(notebook_server.notebook_dir)
    shot = artifact_dir / "browser_notebook_ltest.png"
    shot.unlink(missing_ok=True)

    browser.get(notebook_server.page("notebooks/demo.ipynb"))
    try:
        wait_for(browser, "the notebook's kernel to be idle", lambda d: d.execute_script(KERNEL_IDLE), 60)

        # Cell > Run All, as a person would.
        browser.find_element(By.ID, "celllink").click()
        wait_for(browser, "the Cell menu", EC.element_to_be_clickable((By.CSS_SELECTOR, "#run_all_cells > a")), 10)
        browser.find_element(By.CSS_SELECTOR, "#run_all_cells > a").click()

        def summary(d):
            if d.find_elements(By.CSS_SELECTOR, ".output_error"):
                raise CellError  # a traceback (say `%load_ext ltest` failed): no need to wait on
            text = "\n".join(e.text for e in d.find_elements(By.CSS_SELECTOR, ".output_area .output_text"))
            return SUMMARY.search(text) and text

        output = wait_for(browser, "pytest's summary in the output area", summary, 60)
        wait_for(browser, "both cells to finish",
                 lambda d: d.execute_script(ALL_CELLS_RAN) and d.execute_script(KERNEL_IDLE), 30)
    finally:
        save_screenshot(browser, shot)

    page = browser.find_element(By.TAG_NAME, "body").text
    assert "1 failed, 2 passed" in page, page
    assert re.search(r"^1 failed, 2 passed in [\d.]+s$", output, re.M), output
    assert "FAILED test_demo.py::test_fails - assert (2 * 2) == 5" in output, output
    # The run's exit code is not shown as the cell's Out; no error output anywhere.
    assert "Out[" not in page, page
    assert not browser.find_elements(By.CSS_SELECTOR, ".output_error"), page
    # Both cells ran once, in order.
    prompts = browser.execute_script("return Jupyter.notebook.get_cells().map(c => c.input_prompt_number)")
    assert prompts == [1, 2], prompts

    assert is_png(shot), shot
