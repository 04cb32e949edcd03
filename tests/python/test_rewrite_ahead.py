"""rewrite_ahead.py: test modules rewritten and compiled ahead give the run
pytest's own rewrite (assertion introspection included); a file edited since,
or one whose rewrite warns, is rewritten by the run itself."""
import os

from forked import in_fork
from ltest.in_test_process import rewrite_ahead

FAILING = "def test_compare():\n    x = [1, 2]\n    assert x == [1, 3]\n"
WARNING = "def test_tuple():\n    assert (1 == 2, 'always true')\n"


def _run(tmp_path, ahead, edit=None):
    """pytest -q on tmp_path in a fork; (exit code, output, files the run rewrote itself)."""
    def body():
        import pytest
        from _pytest.assertion import rewrite
        from _pytest.config import _prepareconfig
        os.chdir(tmp_path)
        import sys
        sys.stdout = open(tmp_path / "out.txt", "w")  # the terminal reporter's stream
        args = ["-q", "-p", "no:cacheprovider", "-W", "default", str(tmp_path)]
        rewrote = []
        original = rewrite._rewrite_test

        def counting(fn, config):
            if str(fn).startswith(str(tmp_path)):  # not the installed plugins' lazy imports
                rewrote.append(os.path.basename(fn))
            return original(fn, config)

        rewrite._rewrite_test = counting
        if not ahead:
            code = pytest.main(args)
        else:
            config = _prepareconfig(args, [])
            paths = sorted(str(p) for p in tmp_path.glob("test_*.py"))
            compiled = rewrite_ahead.compile_ahead(paths, config)
            rewrote.clear()
            if edit:
                (tmp_path / edit[0]).write_text(edit[1])
            rewrite_ahead.use(compiled)
            try:
                code = config.hook.pytest_cmdline_main(config=config)
            finally:
                config._ensure_unconfigure()
        sys.stdout.close()
        return int(code), (tmp_path / "out.txt").read_text(), sorted(rewrote)
    return in_fork(body)


def _normalised(output):
    import re
    return re.sub(r"in [0-9.]+s", "in Xs", output)


def test_a_file_compiled_ahead_fails_with_pytests_own_explanation(tmp_path):
    (tmp_path / "test_fail.py").write_text(FAILING)
    cold_code, cold_out, _ = _run(tmp_path, ahead=False)
    code, out, rewrote = _run(tmp_path, ahead=True)
    assert rewrote == [], "the run rewrote a file that was compiled ahead"
    assert "assert [1, 2] == [1, 3]" in out
    assert (code, _normalised(out)) == (cold_code, _normalised(cold_out)) == (1, _normalised(cold_out))


def test_a_file_whose_rewrite_warns_is_left_to_the_run(tmp_path):
    (tmp_path / "test_fail.py").write_text(FAILING)
    (tmp_path / "test_warn.py").write_text(WARNING)
    cold_code, cold_out, _ = _run(tmp_path, ahead=False)
    code, out, rewrote = _run(tmp_path, ahead=True)
    assert rewrote == ["test_warn.py"]
    assert "assertion is always true" in out
    assert (code, _normalised(out)) == (cold_code, _normalised(cold_out))


def test_a_file_edited_after_the_compile_is_rewritten_from_its_new_bytes(tmp_path):
    (tmp_path / "test_fail.py").write_text(FAILING)
    code, out, rewrote = _run(tmp_path, ahead=True, edit=("test_fail.py", FAILING.replace("[1, 3]", "[1, 2]")))
    assert rewrote == ["test_fail.py"]
    assert code == 0, out


def test_the_rewritten_files_are_those_of_pytests_rewriting_loader():
    class Hook:
        pass
    Hook.__name__ = "AssertionRewritingHook"
    import types
    rewritten = types.ModuleType("test_x")
    rewritten.__file__, rewritten.__loader__ = "/p/test_x.py", Hook()
    plain = types.ModuleType("helpers")
    plain.__file__ = "/p/helpers.py"
    assert rewrite_ahead.rewritten_files([rewritten, plain, types.ModuleType("builtin_like")]) == ["/p/test_x.py"]
