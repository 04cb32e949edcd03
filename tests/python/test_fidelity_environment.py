"""fidelity_environment: how a fresh CPython would read the client's environment."""
from ltest.in_test_process import fidelity_environment as fe


def test_a_virtualenv_other_than_the_kernels_prefix_is_refused(tmp_path):
    assert fe.wrong_interpreter({}, prefix="/usr") is None
    assert fe.wrong_interpreter({"VIRTUAL_ENV": "/usr"}, prefix="/usr") is None
    why = fe.wrong_interpreter({"VIRTUAL_ENV": str(tmp_path)}, prefix="/usr")
    assert str(tmp_path) in why and "\n" not in why


def test_the_c_locale_is_coerced_unless_lc_all_or_disabled():
    assert fe.coerced_ctype({}, "C") == "C.UTF-8"
    assert fe.coerced_ctype({}, "POSIX") == "C.UTF-8"
    assert fe.coerced_ctype({"LC_ALL": "C"}, "C") is None
    assert fe.coerced_ctype({"PYTHONCOERCECLOCALE": "0"}, "C") is None
    assert fe.coerced_ctype({}, "en_US.UTF-8") is None


def test_utf8_mode_follows_pythonutf8_then_the_locale():
    assert fe.expected_utf8_mode({"PYTHONUTF8": "1"}, "en_US.ISO-8859-1")
    assert not fe.expected_utf8_mode({"PYTHONUTF8": "0"}, "C")
    assert fe.expected_utf8_mode({}, "C") and not fe.expected_utf8_mode({}, "C.UTF-8")


def test_safe_path_drops_the_cwd_in_front():
    assert fe.without_cwd_if_safe_path(["/p", "/lib"], "/p", {"PYTHONSAFEPATH": "1"}) == ["/lib"]
    assert fe.without_cwd_if_safe_path(["/p", "/lib"], "/p", {}) == ["/p", "/lib"]


def test_start_up_variables_apply_and_what_cannot_is_named(monkeypatch):
    import sys
    monkeypatch.setattr(sys, "pycache_prefix", sys.pycache_prefix)
    digits = sys.get_int_max_str_digits()
    try:
        same_bytecode = {"PYTHONDONTWRITEBYTECODE": "1"} if sys.flags.dont_write_bytecode else {}
        notes = fe.apply_startup_variables({"PYTHONINTMAXSTRDIGITS": "5000", "PYTHONPYCACHEPREFIX": "/tmp/pyc",
                                            "PYTHONOPTIMIZE": "2", **same_bytecode})
        assert sys.get_int_max_str_digits() == 5000 and sys.pycache_prefix == "/tmp/pyc"
        assert len(notes) == 1 and notes[0].startswith("PYTHONOPTIMIZE=set cannot apply")
        other_bytecode = {} if sys.flags.dont_write_bytecode else {"PYTHONDONTWRITEBYTECODE": "1"}
        notes = fe.apply_startup_variables({"PYTHONINTMAXSTRDIGITS": "5000", **other_bytecode})
        assert len(notes) == 1 and notes[0].startswith("PYTHONDONTWRITEBYTECODE=") \
            and "sys.flags.dont_write_bytecode" in notes[0]
    finally:
        sys.set_int_max_str_digits(digits)
