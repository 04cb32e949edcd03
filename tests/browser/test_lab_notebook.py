"""A person's view of `%ltest` in JupyterLab 4.6 (from PyPI, served from
tools/lab-build's virtualenv): Chromium opens a notebook
whose cells are `%load_ext ltest` and `%ltest -q test_demo.py`, runs them
with Run > Run All Cells, and the test reads pytest's coloured summary from
the page. The screenshot goes to the artifact dir (LTEST_ARTIFACT_DIR)."""
import re

from lab_page import ALL_CELLS_RAN, KERNEL_IDLE, OUTPUTS, console_errors, menu, open_notebook, output_text
from pages import SUMMARY, is_png, page_text, save_screenshot, wait_for, write_demo_notebook
from selenium.webdriver.common.by import By

# The summary line's spans: JupyterLab renders pytest's ANSI colours as classes.
SUMMARY_SPANS = """
    const spans = [...document.querySelectorAll(arguments[0] + ' span')];
    return spans.filter(s => /^\\d+ (failed|passed)$/.test(s.textContent.trim()))
                .map(s => [s.textContent.trim(), s.className]);
"""

FEDERATED = """
    const config = JSON.parse(document.getElementById('jupyter-config-data').textContent);
    return config.federated_extensions.map(e => e.name);
"""


def test_ltest_cell_in_jupyterlab_is_coloured(lab_server, browser, artifact_dir):
    write_demo_notebook(lab_server.notebook_dir)
    shot = artifact_dir / "browser_lab_ltest.png"
    shot.unlink(missing_ok=True)
    try:
        open_notebook(browser, lab_server, "ltest-magic", "demo.ipynb")
        menu(browser, "Run", "Run All Cells")
        output = wait_for(browser, "pytest's summary in the output area",
                          lambda d: SUMMARY.search(output_text(d)) and output_text(d), 60)
        wait_for(browser, "both cells to finish",
                 lambda d: d.execute_script(ALL_CELLS_RAN) and d.execute_script(KERNEL_IDLE), 30)
    finally:
        save_screenshot(browser, shot)

    assert re.search(r"^1 failed, 2 passed in [\d.]+s$", output, re.M), output
    assert "FAILED test_demo.py::test_fails - assert (2 * 2) == 5" in output, output
    spans = dict(browser.execute_script(SUMMARY_SPANS, OUTPUTS))
    assert re.search(r"\bansi-red(-intense)?-fg\b", spans.get("1 failed", "")), spans
    assert re.search(r"\bansi-green(-intense)?-fg\b", spans.get("2 passed", "")), spans
    # No Out for the exit code, no error output, both cells ran once in order.
    page = page_text(browser)
    assert "Out[" not in page and not browser.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-executeResult")
    prompts = [e.text.strip() for e in browser.find_elements(By.CSS_SELECTOR, ".jp-CodeCell .jp-InputArea-prompt")]
    assert prompts == ["[1]:", "[2]:"], prompts
    # ltest's prebuilt extension, on the Jupyter path, was found and loaded without errors.
    assert "ltest-jupyterlab" in browser.execute_script(FEDERATED)
    assert browser.find_elements(By.CSS_SELECTOR, '.lm-TabBar-tab[data-id="ltest-tests"]')
    assert console_errors(browser) == []
    assert is_png(shot), shot
