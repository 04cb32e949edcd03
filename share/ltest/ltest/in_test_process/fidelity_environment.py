"""The client's environment applied as a new interpreter applies it at start.

os.environ already is the client's (child.py); this makes the interpreter
act on it: the time zone, the temporary directory, the C locale coercion
(PEP 538) that makes open() read UTF-8, and the start-up variables a fork
can still honour. What a fork cannot change (sys.flags fixed at start) is
named in one warning line each; an activated virtualenv that is not the
kernel's interpreter is refused (exit code 78), never tested with the
wrong interpreter.
"""
import os
import sys

WRONG_INTERPRETER_EXIT = 78  # EX_CONFIG: the set-up, not the tests, is wrong


def _same_path(a, b):
    return os.path.realpath(a) == os.path.realpath(b)


def wrong_interpreter(env, prefix=sys.prefix):
    """Why the client's interpreter is not the kernel's, or None."""
    venv = env.get("VIRTUAL_ENV")
    if venv and not _same_path(venv, prefix):
        return (f"the client's virtualenv {venv} is active but the kernel runs {sys.executable}; "
                f"start a server on a kernel of that virtualenv ({venv}/bin/python -m ipykernel install --user "
                f"--name NAME, then ltest -l --kernel NAME) or deactivate it")
    return None


def apply_time_and_tempdir():
    import tempfile
    import time
    time.tzset()  # TZ as the client has it (or not)
    tempfile.tempdir = None  # computed again from TMPDIR/TEMP/TMP on first use


def coerced_ctype(env, ctype_locale):
    """PEP 538: a fresh CPython whose LC_CTYPE is C or POSIX (and LC_ALL
    unset, coercion not disabled) switches LC_CTYPE to C.UTF-8 and exports
    LC_CTYPE=C.UTF-8. The locale to switch to, or None."""
    if ctype_locale not in ("C", "POSIX") or env.get("LC_ALL") or env.get("PYTHONCOERCECLOCALE") == "0":
        return None
    return "C.UTF-8"


def expected_utf8_mode(env, ctype_locale):
    """sys.flags.utf8_mode a fresh CPython would have (PEP 540)."""
    value = env.get("PYTHONUTF8")
    if value in ("0", "1"):
        return value == "1"
    return ctype_locale in ("C", "POSIX")


def apply_locale(env, ctype_locale):
    """Coerces the C locale as CPython does; returns the warning for a UTF-8
    mode the fork cannot match (open()'s default encoding would differ)."""
    import locale
    target = coerced_ctype(env, ctype_locale)
    if target is not None:
        try:
            locale.setlocale(locale.LC_CTYPE, target)
            os.environ["LC_CTYPE"] = target
        except locale.Error:
            pass
    wanted = expected_utf8_mode(env, ctype_locale)
    if wanted == bool(sys.flags.utf8_mode):
        return None
    codeset = locale.nl_langinfo(locale.CODESET)
    if codeset.replace("-", "").lower() == "utf8":
        return None  # open() reads UTF-8 either way
    state = "on" if sys.flags.utf8_mode else "off"
    return (f"UTF-8 mode is {state} in the kernel and cannot change in a fork: open() uses "
            f"{'UTF-8' if sys.flags.utf8_mode else codeset} where a fresh python would use "
            f"{'UTF-8' if wanted else codeset}; start the server with the same PYTHONUTF8/LANG")


def _flag_warning(name, wanted, kernel, what):
    if wanted == kernel:
        return None
    return (f"{name}={'set' if wanted else 'unset'} cannot apply in a warm kernel ({what} keeps the kernel's "
            f"setting); start the server with the same {name}")


def apply_startup_variables(env):
    """PYTHONINTMAXSTRDIGITS, PYTHONTRACEMALLOC, PYTHONPYCACHEPREFIX and
    PYTHONDEVMODE's faulthandler apply; returns warnings for the rest."""
    warnings = []
    digits = env.get("PYTHONINTMAXSTRDIGITS", "")
    try:
        sys.set_int_max_str_digits(int(digits) if digits else sys.int_info.default_max_str_digits)
    except (ValueError, AttributeError):
        pass
    _apply_tracemalloc(env.get("PYTHONTRACEMALLOC", ""))
    sys.pycache_prefix = env.get("PYTHONPYCACHEPREFIX") or None
    dev = bool(env.get("PYTHONDEVMODE"))
    if dev:
        import faulthandler
        faulthandler.enable()
    warnings.append(_flag_warning("PYTHONDEVMODE", dev, bool(sys.flags.dev_mode),
                                  "sys.flags.dev_mode, asyncio debug, the allocator's debug hooks"))
    optimize = env.get("PYTHONOPTIMIZE", "")
    wanted = (int(optimize) if optimize.isdigit() else 1) if optimize else 0
    warnings.append(_flag_warning("PYTHONOPTIMIZE", wanted, sys.flags.optimize, "assert and __debug__"))
    # sys.dont_write_bytecode follows the client (child.py); the flag it started from cannot.
    warnings.append(_flag_warning("PYTHONDONTWRITEBYTECODE", bool(env.get("PYTHONDONTWRITEBYTECODE")),
                                  bool(sys.flags.dont_write_bytecode), "sys.flags.dont_write_bytecode"))
    return [w for w in warnings if w]


def _apply_tracemalloc(value):
    if not value and "tracemalloc" not in sys.modules:
        return  # not tracing, as a fresh python without PYTHONTRACEMALLOC
    import tracemalloc
    frames = int(value) if value.isdigit() else (1 if value else 0)
    if frames > 0 and not tracemalloc.is_tracing():
        tracemalloc.start(frames)
    elif frames == 0 and tracemalloc.is_tracing():
        tracemalloc.stop()


def without_cwd_if_safe_path(path, cwd, env):
    """PYTHONSAFEPATH: `python -m pytest` does not put the cwd first."""
    if env.get("PYTHONSAFEPATH") and path and path[0] == cwd:
        return path[1:]
    return path
