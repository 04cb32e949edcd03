"""A run through ltest is `python3 -m pytest ARGS` in the client's directory,
environment and terminal. This file: configuration, fixtures, markers,
outcomes, collection errors, the header. Its neighbours test_fidelity_*.py:
the process's state, the terminal, fresh code between runs.

Most tests run the same suite both ways, ltest against a warm server and plain
pytest, with the same environment, and compare exit codes, summary lines and
sometimes whole outputs (fidelity_helpers.py).
"""
import pytest

from conftest import summary_line, write_files
from fidelity_helpers import assert_same, both, client_env, header
from fidelity_helpers import server  # noqa: F401 (the module-scoped fixture)


# --- configuration, fixtures, markers, outcomes ------------------------------

CONFTEST = """
    import pytest

    EVENTS = []

    @pytest.fixture(scope="session")
    def session_res():
        EVENTS.append("session")
        yield "S"

    @pytest.fixture(scope="module")
    def module_res(request):
        EVENTS.append("module")
        yield request.module.__name__

    @pytest.fixture
    def func_res(session_res, module_res):
        EVENTS.append("function")
        return [session_res, module_res]

    @pytest.fixture(autouse=True)
    def auto():
        EVENTS.append("auto")
        yield

    def pytest_terminal_summary(terminalreporter):
        terminalreporter.write_line("EVENTS " + " ".join(
            f"{k}={EVENTS.count(k)}" for k in ("session", "module", "function", "auto")))
"""

TESTS_A = """
    import sys
    import pytest

    def test_scopes(func_res, session_res):
        assert func_res[0] == session_res == "S"

    @pytest.mark.parametrize("n", [1, 2, 3])
    def test_param(n, func_res):
        assert n < 3

    @pytest.mark.slow
    def test_slow(module_res):
        assert module_res.endswith("test_a")

    @pytest.mark.skip(reason="sample suite: a skip ltest must count and report as plain pytest does")
    def test_skipped():
        pass

    @pytest.mark.skipif(sys.platform.startswith("linux"), reason="on linux")
    def test_skipif():
        pass

    @pytest.mark.xfail(reason="known bug")
    def test_xfail():
        assert 0

    @pytest.mark.xfail(reason="fixed meanwhile")
    def test_xpass():
        pass
"""

TESTS_B = """
    import pytest

    def test_b1(module_res, session_res):
        assert module_res.endswith("test_b") and session_res == "S"

    @pytest.mark.slow
    def test_b2(func_res):
        pass
"""

CONFIGS = {
    "pyproject.toml": """
        [tool.pytest.ini_options]
        addopts = "-ra --strict-markers"
        markers = ["slow: slow tests"]
        testpaths = ["tests"]
    """,
    "pytest.ini": """
        [pytest]
        addopts = -ra --strict-markers
        markers =
            slow: slow tests
        testpaths = tests
    """,
}


def configured_suite(root, config):
    return write_files(root, {
        config: CONFIGS[config],
        "conftest.py": CONFTEST,
        "tests/test_a.py": TESTS_A,
        "tests/test_b.py": TESTS_B,
        # Outside testpaths: collected only if the ini file is ignored.
        "other/test_outside.py": "def test_outside(): assert 0, 'testpaths ignored'\n",
    })


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_fixtures_markers_and_outcomes_equal_plain_pytest(server, tmp_path, config):
    root = configured_suite(tmp_path, config)
    expected = {
        (): (1, "1 failed, 6 passed, 2 skipped, 1 xfailed, 1 xpassed", "session=1 module=2 function=5 auto=9"),
        ("-m", "slow"): (0, "2 passed, 9 deselected", "session=1 module=2 function=1 auto=2"),
        ("-m", "not slow"): (1, "1 failed, 4 passed, 2 skipped, 2 deselected, 1 xfailed, 1 xpassed",
                             "session=1 module=2 function=4 auto=7"),
        ("-k", "param or b1"): (1, "1 failed, 3 passed, 7 deselected", "session=1 module=2 function=3 auto=4"),
    }
    # The fixed expectations hold without the installed plugins (pytest-astropy,
    # for one, skips tests marked slow without --run-slow); with them, ltest
    # must still give what plain pytest gives, whatever that is.
    no_plugins = client_env(server, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    for args, (code, summary, events) in expected.items():
        w, c = both(server, root, *args, env=no_plugins)
        assert_same(w, c)
        assert (w.returncode, summary_line(w.stdout)) == (code, summary), w.stdout + w.stderr
        # Session fixtures once, module fixtures once per module, autouse for every test that ran.
        assert [l for l in w.stdout.splitlines() if l.startswith("EVENTS ")] == ["EVENTS " + events], w.stdout
        assert [l for l in c.stdout.splitlines() if l.startswith("EVENTS ")] == ["EVENTS " + events]
        w, c = both(server, root, *args)
        assert_same(w, c)
        assert [l for l in w.stdout.splitlines() if l.startswith("EVENTS ")] == \
            [l for l in c.stdout.splitlines() if l.startswith("EVENTS ")], w.stdout + c.stdout
    # -ra from addopts: the short summary lists skips and xfails.
    w, _ = both(server, root)
    assert "SKIPPED" in w.stdout and "XFAIL" in w.stdout


def test_unregistered_marker_fails_under_strict_markers(server, tmp_path):
    root = configured_suite(tmp_path, "pyproject.toml")
    write_files(root, {"tests/test_c.py": "import pytest\n@pytest.mark.unknown_mark\ndef test_c(): pass\n"})
    w, c = both(server, root)
    assert_same(w, c)
    assert w.returncode == 2 and "unknown_mark" in w.stdout


@pytest.mark.parametrize("files,args", [
    ({"test_ok.py": "def test_ok(): pass\n", "test_broken.py": "import no_such_module_fid\n"}, ()),
    ({"test_ok.py": "def test_ok(): pass\n", "test_broken.py": "import no_such_module_fid\n"},
     ("--continue-on-collection-errors",)),
    ({"test_ok.py": "def test_ok(): pass\n", "test_syntax.py": "def test_(:\n"}, ()),
    ({"conftest.py": "import no_such_module_fid\n", "test_ok.py": "def test_ok(): pass\n"}, ()),
], ids=["import-error", "continue-on-errors", "syntax-error", "broken-conftest"])
def test_collection_errors_equal_plain_pytest(server, tmp_path, files, args):
    root = write_files(tmp_path, files)
    w, c = both(server, root, *args)
    assert_same(w, c)
    assert w.returncode in (1, 2, 4)
    assert "no_such_module_fid" in w.stdout + w.stderr or "SyntaxError" in w.stdout + w.stderr


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_header_lines_equal_plain_pytest(server, tmp_path, config):
    root = configured_suite(tmp_path / "proj", config)
    for cwd in (root, root / "tests"):  # rootdir is found from below too
        w, c = both(server, cwd, "-m", "slow")
        assert_same(w, c)
        for prefix in ("platform ", "rootdir: ", "plugins: ", "collected "):
            assert header(w.stdout, prefix) == header(c.stdout, prefix), w.stdout
        assert header(w.stdout, "rootdir: ")[0].startswith(f"rootdir: {root}, configfile: {config}")


def test_pyargs_finds_a_package_on_the_clients_pythonpath(server, tmp_path):
    write_files(tmp_path / "lib", {
        "fidpkg/__init__.py": "",
        "fidpkg/test_inside.py": "def test_in(): pass\ndef test_fails(): assert 0\n",
    })
    elsewhere = write_files(tmp_path / "elsewhere", {"README": "no tests here\n"})
    env = client_env(server, PYTHONPATH=str(tmp_path / "lib"))
    w, c = both(server, elsewhere, "-q", "--pyargs", "fidpkg", env=env)
    assert_same(w, c)
    assert summary_line(w.stdout) == "1 failed, 1 passed"
    # Without the client's PYTHONPATH the package is not there, for both.
    w, c = both(server, elsewhere, "-q", "--pyargs", "fidpkg")
    assert_same(w, c)
    assert w.returncode == 4
