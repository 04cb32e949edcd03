"""fixtures_ahead.py: the plugins' fixtures parsed ahead give the run the
fixtures, their order and the items' order of a cold pytest.main, and a
plugin that changes its fixtures after the parse gets pytest's own manager."""
import os

import pytest

from forked import in_fork
from ltest.in_test_process import fixtures_ahead

PLUGIN = '''
import pytest

@pytest.fixture
def from_plugin():
    return "plugin"

@pytest.fixture(scope="module")
def shared():
    return "plugin's shared"

@pytest.fixture(autouse=True)
def plugin_autouse(request):
    request.node.plugin_autouse = True

def _scope(fixture_name, config):
    return "module" if config.getoption("verbose") < 0 else "function"  # -q: module

@pytest.fixture(scope=_scope)
def dynamic_scope(request):
    return request.scope
'''

LATE_PLUGIN = '''
import pytest

def pytest_configure(config):
    @pytest.fixture
    def added_at_configure():
        return "late"
    globals()["added_at_configure"] = added_at_configure
'''

CONFTEST = '''
import pytest

@pytest.fixture
def shared():
    return "conftest's shared"  # overrides the plugin's

@pytest.fixture(scope="module")
def module_scoped():
    return 1
'''

SUB_CONFTEST = '''
import pytest

@pytest.fixture
def shared(shared):
    return "sub's " + shared

@pytest.fixture(autouse=True)
def sub_autouse():
    pass
'''

SUB_TESTS = '''
def test_sub(shared, request):
    assert shared == "sub's conftest's shared"
    assert "sub_autouse" in request.fixturenames and request.node.plugin_autouse
'''

TESTS = '''
def test_a(from_plugin, shared, request):
    assert (from_plugin, shared) == ("plugin", "conftest's shared")
    assert "sub_autouse" not in request.fixturenames and request.node.plugin_autouse

def test_dynamic(dynamic_scope):
    assert dynamic_scope == "module"

def test_b(module_scoped):
    pass

def test_c(from_plugin):
    pass
'''

RECORDER = '''
from _pytest.nodes import Node

RECORD = {}

def _definitions(fm):
    """{name: [FixtureDef]} of the manager, in its order, as each pytest keeps them."""
    if hasattr(fm, "_arg2node2fixturedefs"):  # pytest 9.2 on: by name, then by node
        out = {name: [d for defs in by_node.values() for d in defs] for name, by_node in fm._arg2node2fixturedefs.items()}
        for name, by_nodeid in fm._arg2nodeid2fixturedefs.items():
            out.setdefault(name, []).extend(d for defs in by_nodeid.values() for d in defs)
        return out
    return fm._arg2fixturedefs

def _described(defs):
    return [(d.baseid, d.func.__module__, d.scope) for d in defs]

def pytest_collection_finish(session):
    fm = session._fixturemanager
    defs = _definitions(fm)
    RECORD["fixtures"] = sorted((name, _described(d)) for name, d in defs.items())
    RECORD["items"] = [item.nodeid for item in session.items]
    RECORD["closures"] = [(item.nodeid, item.fixturenames,
                           sorted((n, _described(d)) for n, d in item._fixtureinfo.name2fixturedefs.items()))
                          for item in session.items]
    # pytest 9.1 on: a definition's node is the Session or a collector, never the stand-in of a parse ahead
    RECORD["strange_nodes"] = sorted({repr(d.node) for ds in defs.values() for d in ds
                                      if getattr(d, "node", None) is not None and not isinstance(d.node, Node)})
    RECORD["autouse_keys"] = sorted(repr(k) for k in getattr(fm, "_node_autousenames", {}) if not isinstance(k, Node))
    RECORD["manager"] = fm
'''


def _project(tmp_path, late=False):
    (tmp_path / "plugin_ahead.py").write_text(PLUGIN + (LATE_PLUGIN if late else ""))
    (tmp_path / "recorder_ahead.py").write_text(RECORDER)
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_x.py").write_text(TESTS)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "conftest.py").write_text(SUB_CONFTEST)
    (tmp_path / "sub" / "test_sub.py").write_text(SUB_TESTS)
    return ["-q", "-p", "plugin_ahead", "-p", "recorder_ahead", "-p", "no:cacheprovider", str(tmp_path)]


def _run(tmp_path, args, ahead, stand_in_held=False):
    """pytest's run of args in a fork: cold (pytest.main) or from a parse ahead
    (stand_in_held: with the manager ahead holding its stand-in session
    somewhere ltest does not re-key, as a pytest of another shape might)."""
    def body():
        import sys
        sys.path.insert(0, str(tmp_path))
        os.chdir(tmp_path)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        import pytest
        from _pytest.config import _prepareconfig
        if not ahead:
            code = pytest.main(args)
            parsed = None
        else:
            config = _prepareconfig(list(args), [])
            parsed = fixtures_ahead.parse(config)
            if stand_in_held:
                parsed.manager.somewhere_else = parsed.made.placeholder
            fixtures_ahead.use_at_session_start(config, parsed)
            try:
                code = config.hook.pytest_cmdline_main(config=config)
            finally:
                config._ensure_unconfigure()
        record = sys.modules["recorder_ahead"].RECORD
        adopted = parsed is not None and record.pop("manager") is parsed.manager
        record.pop("manager", None)
        record["registered_once"] = _registered_once(config if ahead else None)
        return dict(record, code=int(code), adopted=adopted)
    return in_fork(body)


def _registered_once(config):
    """Each plugin's pytest_plugin_registered call is in the history once
    (the replay to a manager parsed ahead leaves out calls, not history)."""
    if config is None:
        return True
    from ltest.private_api import pluggy_api
    plugins = [kwargs["plugin"] for kwargs in pluggy_api.call_history(config.hook.pytest_plugin_registered)]
    return len(plugins) == len({id(p) for p in plugins})


def _on():
    """This speed-up is on for this stack's pytest and pluggy: where a probe
    fails (a pytest whose FixtureManager has a shape ltest does not know),
    this suite fails with the probe's reason, so that the gap is seen."""
    from ltest.private_api import pluggy_api, pytest_api
    why = pytest_api.probe_all()["fixtures parsed ahead"] or pluggy_api.probe_all()["fixtures parsed ahead (pluggy)"]
    assert why is None, f"fixtures parsed ahead are off on this stack: {why}"


def test_a_parse_ahead_gives_the_fixtures_and_item_order_of_a_cold_run(tmp_path):
    _on()
    args = _project(tmp_path)
    cold = _run(tmp_path, args, ahead=False)
    warm = _run(tmp_path, args, ahead=True)
    assert warm["adopted"], "the run used a manager made at session start, not the one parsed ahead"
    assert cold["code"] == warm["code"] == 0
    assert [sorted(d[1] for d in f[1]) for f in warm["fixtures"] if f[0] == "shared"] == [
        ["conftest", "conftest", "plugin_ahead"]]
    assert warm["fixtures"] == cold["fixtures"]
    assert warm["items"] == cold["items"]
    assert warm["closures"] == cold["closures"]
    assert warm["strange_nodes"] == warm["autouse_keys"] == []
    assert warm["registered_once"]


def test_a_plugin_that_adds_a_fixture_at_configure_gets_pytests_own_manager(tmp_path):
    _on()
    args = _project(tmp_path, late=True)
    cold = _run(tmp_path, args, ahead=False)
    warm = _run(tmp_path, args, ahead=True)
    assert not warm["adopted"]
    assert "added_at_configure" in dict(warm["fixtures"])
    assert warm["fixtures"] == cold["fixtures"]


def test_a_manager_ahead_still_holding_its_stand_in_session_is_not_used(tmp_path):
    """From pytest 9.1 the parse ahead is made under a stand-in session that
    the Session replaces at adoption; a reference to it left anywhere means
    the manager is not the one pytest would have made: pytest's is used."""
    _on()
    from ltest.private_api import pytest_api
    args = _project(tmp_path)
    cold = _run(tmp_path, args, ahead=False)
    warm = _run(tmp_path, args, ahead=True, stand_in_held=True)
    by_node = pytest_api._fixtures_shape()[0] == pytest_api._BY_NODE
    assert warm["adopted"] is not by_node
    assert (warm["code"], warm["fixtures"], warm["closures"]) == (cold["code"], cold["fixtures"], cold["closures"])


def test_a_changed_attribute_that_is_no_fixture_does_not_count():
    before = {"counter": 1, "f": len}
    assert not fixtures_ahead._fixtures_differ(before, {"counter": 2, "f": len, "new": object()})
    import pytest

    @pytest.fixture
    def fx():
        pass

    assert fixtures_ahead._fixtures_differ(before, dict(before, fx=fx))
    assert fixtures_ahead._fixtures_differ(dict(before, fx=fx), before)


def test_a_parse_that_warns_is_not_used(tmp_path):
    """pytest lists a warning of its fixture parse (9.x: a fixture behind a
    wrapper); parsed ahead, outside the session, it would be lost."""
    def body():
        import sys
        import warnings
        sys.path.insert(0, str(tmp_path))
        (tmp_path / "warning_plugin.py").write_text(
            "import warnings\n\nclass Loud:\n    def __getattr__(self, name):\n"
            "        warnings.warn('parsed: ' + name)\n        raise AttributeError(name)\n\n"
            "def __dir__():\n    return ['loud_attr']\n\ndef __getattr__(name):\n"
            "    warnings.warn('looked up: ' + name)\n    raise AttributeError(name)\n")
        os.chdir(tmp_path)
        from _pytest.config import _prepareconfig
        config = _prepareconfig(["-p", "warning_plugin", "-p", "no:cacheprovider"], [])
        with warnings.catch_warnings(record=True) as outside:
            warnings.simplefilter("always")
            parsed = fixtures_ahead.parse(config)
        config._ensure_unconfigure()
        return parsed is None, len(outside)
    assert in_fork(body) == [True, 0]
