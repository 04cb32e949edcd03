"""What the browser tests share: the demo suite and notebook, waiting on a
page, and saving what the page showed."""
import re
import textwrap

import nbformat
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

DEMO_TESTS = textwrap.dedent("""\
    def test_adds():
        assert 1 + 1 == 2

    def test_joins():
        assert "-".join("ab") == "a-b"

    def test_fails():
        assert 2 * 2 == 5
    """)

SUMMARY = re.compile(r"^=*\s*(\d+ \w+(, \d+ \w+)*) in [\d.]+s", re.M)


class CellError(Exception):
    pass


def page_text(driver):
    return driver.find_element(By.TAG_NAME, "body").text


def wait_for(driver, what, condition, timeout):
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.2).until(condition)
    except CellError as e:
        raise AssertionError(f"a cell failed while waiting for {what}; page text:\n" + page_text(driver)) from e
    except Exception as e:
        raise AssertionError(f"timed out after {timeout} s waiting for {what}; page text:\n"
                             + page_text(driver)) from e


def write_demo_notebook(notebook_dir, cells=("%load_ext ltest", "%ltest -q test_demo.py")):
    (notebook_dir / "test_demo.py").write_text(DEMO_TESTS)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, str(notebook_dir / "demo.ipynb"))


def save_screenshot(driver, path):
    """Whatever happened, the screenshot shows what the page showed; never
    hides a failure (a missing file fails the test's own check)."""
    try:
        driver.save_screenshot(str(path))
    except Exception:
        pass


def is_png(path):
    return path.is_file() and path.stat().st_size > 0 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
