"""Driving JupyterLab 4 in the browser as a person does: open a notebook,
wait for its kernel, use the menus, read the outputs and the console."""
import re

from pages import CellError, wait_for
from selenium.webdriver.common.by import By

# The notebook's kernel is connected and idle: the status bar says so.
KERNEL_IDLE = """
    const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
    const bar = document.querySelector('#jp-main-statusbar');
    return !!(panel && bar && /\\|\\s*Idle/.test(bar.textContent));
"""

# Every code cell of the open notebook has run: its prompt is [N], not [*] or [ ].
ALL_CELLS_RAN = """
    const prompts = [...document.querySelectorAll(
        '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputArea-prompt')];
    return prompts.length > 0 && prompts.every(p => /^\\[\\d+\\]:$/.test(p.textContent.trim()));
"""

OUTPUTS = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output"
# A cell's error (a traceback) renders with this mime type; pytest writes to stdout.
# So does what a run writes to stderr: a plugin's warning (pytest-asyncio 1.x
# warns so on every run without its loop-scope option, cold or not), which
# is no cell error. An error shows the exception's name at a line's start
# (`NameError  Traceback ...`, `UsageError: ...`); a warning does not.
ERROR_OUTPUTS = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
EXCEPTION_LINE = re.compile(r"^(?:\w+\.)*\w*(?:Error|Exception|Interrupt)\b|Traceback \(most recent call last\)", re.M)


def open_notebook(driver, server, workspace, path, timeout=90):
    """Opens `path` in a fresh workspace (so no earlier test's layout comes
    back) and waits for its kernel to be idle."""
    driver.get(server.page(f"lab/workspaces/{workspace}/tree/{path}"))
    wait_for(driver, f"{path} open with an idle kernel", lambda d: d.execute_script(KERNEL_IDLE), timeout)


def menu(driver, top, item, timeout=10):
    """Clicks main menu `top`, then its entry `item` (exact labels)."""
    def find(css, label):
        def found(d):
            for e in d.find_elements(By.CSS_SELECTOR, css):
                if e.text.strip() == label and e.is_displayed():
                    return e
            return None
        return found

    wait_for(driver, f"the {top} menu", find(".lm-MenuBar-item", top), timeout).click()
    wait_for(driver, f"{top} > {item}", find(".lm-Menu-item .lm-Menu-itemLabel", item), timeout).click()


def output_text(driver):
    if any(EXCEPTION_LINE.search(e.text) for e in driver.find_elements(By.CSS_SELECTOR, ERROR_OUTPUTS)):
        raise CellError
    return "\n".join(e.text for e in driver.find_elements(By.CSS_SELECTOR, OUTPUTS))


# jupyter_server 1.x has no /api/me (a jupyter_server 2 endpoint JupyterLab 3.6 asks for).
KNOWN_CONSOLE_ERRORS = ("/api/me",)


def console_errors(driver):
    """The browser console's errors and warnings of level SEVERE, less the known one."""
    return [e for e in driver.get_log("browser")
            if e["level"] == "SEVERE" and not any(k in e["message"] for k in KNOWN_CONSOLE_ERRORS)]
