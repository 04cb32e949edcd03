"""The frames right above pytest's main, as `python -m pytest` has them.

A cold run's stack ends in `<frozen runpy>` `_run_module_as_main` and
`_run_code`, `pytest/__main__.py` `<module>` and `console_main` (`_console_main` from
pytest 9.1); a test
process's would show ltest's (child.py, process_main.py, spare_loop.py)
there, and what faulthandler, pytest-timeout's thread dumps and an uncaught
exception's traceback print would differ. `call` runs pytest's main under
four frames with those files, names and line numbers (taken from the
running interpreter's runpy and pytest, so linecache shows the real source
lines), and `trimmed` cuts a traceback to start where a cold one starts.
The fork's own frames below these (ltest's, the kernel's event loop,
ipykernel_launcher.py) remain for a dump of the whole stack: a fork cannot
drop them (README: Known limits).
"""
import dis
import runpy

from ..private_api import pytest_api


def _call_site(code, callee):
    """(line, first column, end column) of code's first call of callee."""
    found, start = False, None
    for ins in dis.get_instructions(code):
        if not found and ins.opname in ("LOAD_GLOBAL", "LOAD_NAME", "LOAD_METHOD", "LOAD_ATTR") and ins.argval == callee:
            found, start = True, getattr(getattr(ins, "positions", None), "col_offset", None)
        if found and ins.opname.startswith("CALL"):
            p = getattr(ins, "positions", None)
            if p is None or p.lineno is None:
                return ins.starts_line, None, None
            if start is not None and p.col_offset is not None and p.col_offset > start:
                continue  # a call in its arguments (pytest 9.1's _main(prog=_get_prog_name(...)))
            return p.lineno, p.col_offset, p.end_col_offset
    return None, None, None


def _module_code(path):
    try:
        with open(path) as f:
            return compile(f.read(), path, "exec")
    except (OSError, SyntaxError, ValueError):
        return None


def _frame(filename, name, site):
    """A function that calls its first argument with the rest, from the
    line of `filename` in site, the call spanning site's columns (Python
    3.11's tracebacks underline it), named `name`."""
    line, col, end = site
    call = "__next(*a)"
    if col is not None and end is not None and col >= 8 and end - col >= 5:
        call = "n" * (end - col - 4) + "(*a)"  # as wide as the real call, where it is
        body = " " * (col - 7) + "return " + call
    else:
        body = "    return " + call
    head = call.split("(")[0]
    source = "\n" * (line - 2) + f"def f({head}, *a):\n{body}\n"
    code = next(c for c in compile(source, filename, "exec").co_consts if hasattr(c, "co_code"))
    code = code.replace(co_name=name, **({"co_qualname": name} if hasattr(code, "co_qualname") else {}))
    return type(_frame)(code, {})


def _chain(argv0):
    main_code = _module_code(argv0)
    entry = entry_name(main_code)
    console = pytest_api.console_entry(entry) if entry else None
    inner = "_main" if console is not None and "_main" in console.__code__.co_names else "main"
    wanted = [(runpy._run_module_as_main.__code__, "_run_module_as_main", _call_site(runpy._run_module_as_main, "_run_code")),
              (runpy._run_code.__code__, "_run_code", _call_site(runpy._run_code, "exec")),
              (main_code, "<module>", _call_site(main_code, entry) if main_code and entry else (None, None, None)),
              (getattr(console, "__code__", None), entry, _call_site(console, inner) if console else (None, None, None))]
    if any(code is None or site[0] is None or site[0] < 2 for code, _, site in wanted):
        return []  # another interpreter or pytest: ltest's own frames show, nothing else changes
    return [_frame(code.co_filename, name, site) for code, name, site in wanted]


def entry_name(main_code):
    """The function pytest/__main__.py calls: console_main (pytest < 9.1),
    _console_main (9.1 on, which calls _main)."""
    names = main_code.co_names if main_code else ()
    return next((n for n in ("_console_main", "console_main") if n in names), None)


_chains = {}


def prepare(argv0):
    """Builds the frames once (the kernel does, before it forks)."""
    if argv0 not in _chains:
        try:
            _chains[argv0] = _chain(argv0)
        except Exception:
            _chains[argv0] = []
    return _chains[argv0]


def call(argv0, main, *args):
    """main(*args) under the cold run's frames."""
    frames = prepare(argv0)
    if not frames:
        return main(*args)
    call_next = main
    for frame in reversed(frames[1:]):
        call_next = _bind(frame, call_next)
    return frames[0](call_next, *args)


def _bind(frame, call_next):
    import functools
    return functools.partial(frame, call_next)  # no frame of its own


def trimmed(tb):
    """tb from the first of the cold run's frames on (tb itself if none)."""
    codes = {f.__code__ for frames in _chains.values() for f in frames[:1]}
    t = tb
    while t is not None:
        if t.tb_frame.f_code in codes:
            return t
        t = t.tb_next
    return tb
