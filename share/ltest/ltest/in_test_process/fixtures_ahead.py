"""pytest's fixture definitions in the registered plugins, parsed ahead.

With many plugins installed, most of a re-run's set-up after configuration
is the fixture manager pytest creates at session start parsing every
registered plugin for fixtures (`FixtureManager.parsefactories`, a getattr
of every name of every plugin). A prepared spare does that parse ahead, for
the plugins `_prepareconfig` registered, in the order pytest would (the
`pytest_plugin_registered` history), into a manager that is not registered
yet. At session start it takes the place of the manager pytest would make,
and is registered at that moment, as pytest registers its own: hook order,
and the parse of plugins registered during `pytest_configure` (a manager
skips the plugins it has seen), come out as in a cold run.

A plugin whose fixtures may have changed since the parse (an attribute
added, removed or replaced where the old or the new value is a fixture)
gives the run a manager made by pytest, as in a cold run.
"""
import types


class Ahead:
    def __init__(self, config):
        from _pytest import fixtures
        self.config = config
        # pytest's own __init__, given a session whose plugin manager does
        # not register it yet (adopt() does, at session start).
        unregistered = types.SimpleNamespace(getini=config.getini,
                                             pluginmanager=types.SimpleNamespace(register=lambda *a, **k: None))
        self.manager = fixtures.FixtureManager(types.SimpleNamespace(config=unregistered))
        self.manager.session = None
        self.manager.config = config
        history = config.hook.pytest_plugin_registered._call_history or []
        self.plugins = [(kwargs["plugin"], _attributes(kwargs["plugin"])) for kwargs, _ in history]
        for plugin, _ in self.plugins:
            self.manager.pytest_plugin_registered(plugin)

    def still_exact(self):
        return not any(_fixtures_differ(before, _attributes(plugin)) for plugin, before in self.plugins)

    def adopt(self, session):
        """What `_pytest.fixtures.pytest_sessionstart` does, with this manager."""
        self.manager.session = session
        session._fixturemanager = self.manager
        session.config.pluginmanager.register(self.manager, "funcmanage")


def _attributes(plugin):
    try:
        return dict(vars(plugin))
    except TypeError:  # no __dict__: its names are its class's
        return {}


def _fixtures_differ(before, now):
    for name in before.keys() | now.keys():
        old, new = before.get(name), now.get(name)
        if old is not new and (_is_fixture(old) or _is_fixture(new)):
            return True
    return False


def _is_fixture(obj):
    from _pytest import fixtures
    return isinstance(fixtures.getfixturemarker(obj), fixtures.FixtureFunctionMarker)


def parse(config):
    """An Ahead for config, or None where pytest's own manager is the one to use."""
    if not hasattr(config.hook.pytest_plugin_registered, "_call_history"):
        return None  # not the pluggy this mirrors
    try:
        return Ahead(config)
    except Exception:  # a plugin whose parse raises: it raises in the run, as in a cold one
        return None


def use_at_session_start(config, ahead):
    """Until the next session start, fixtures' pytest_sessionstart adopts
    ahead's manager (if it is still exact) instead of making one."""
    if ahead is None:
        return
    from _pytest import fixtures
    impls = [i for i in config.hook.pytest_sessionstart.get_hookimpls() if i.plugin is fixtures]
    if len(impls) != 1:
        return
    impl = impls[0]
    original = impl.function

    def sessionstart(session):
        impl.function = original
        if ahead.still_exact():
            ahead.adopt(session)
        else:
            original(session)

    impl.function = sessionstart
