"""main_frames.py: pytest's main runs under the frames a cold
`python -m pytest` has above it, and a traceback starts where cold's does."""
import os
import sys
import traceback

import pytest

from ltest.in_test_process import main_frames

ARGV0 = os.path.join(os.path.dirname(pytest.__file__), "__main__.py")
with open(ARGV0) as _f:
    MAIN_LINE = next(line.strip() for line in _f if "SystemExit(" in line)  # pytest's own, per version
ENTRY = main_frames.entry_name(compile(open(ARGV0).read(), ARGV0, "exec"))


def test_main_runs_under_colds_frames_and_its_result_comes_back():
    def main(a, b):
        frame = sys._getframe(1)
        names = []
        while frame is not None and len(names) < 4:
            names.append((os.path.basename(frame.f_code.co_filename), frame.f_code.co_name))
            frame = frame.f_back
        return a + b, names

    result, names = main_frames.call(ARGV0, main, 1, 2)
    assert result == 3
    assert ENTRY in ("console_main", "_console_main")
    assert names == [("__init__.py", ENTRY), ("__main__.py", "<module>"),
                     ("<frozen runpy>", "_run_code"), ("<frozen runpy>", "_run_module_as_main")]


def test_a_traceback_starts_at_runpy_and_shows_pytests_own_lines():
    def boom():
        raise ValueError("x")

    try:
        main_frames.call(ARGV0, boom)
    except ValueError as e:
        text = "".join(traceback.format_exception(type(e), e, main_frames.trimmed(e.__traceback__)))
    lines = text.splitlines()
    assert "runpy" in lines[1] and lines[1].endswith(", in _run_module_as_main")
    assert lines[3].startswith(f'  File "{ARGV0}", line ') and lines[4].strip() == MAIN_LINE
    assert ("code = _main(prog=" if ENTRY == "_console_main" else "code = main()") in text and "test_main_frames.py" in lines[-3]
