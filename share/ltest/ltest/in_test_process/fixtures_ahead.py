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
gives the run a manager made by pytest, as in a cold run. So does a pytest
or pluggy whose probe fails (private_api/: pytest 9 keeps fixture
definitions by collection node, so a manager made before the session
cannot serve it): this speed-up is then off, and `ltest --status` says why.
"""
from ..private_api import pluggy_api, pytest_api


class Ahead:
    def __init__(self, config, registered):
        self.config = config
        self.manager = pytest_api.fixture_manager_ahead(config, registered)
        self.plugins = [(kwargs["plugin"], _attributes(kwargs["plugin"])) for kwargs in registered]

    def still_exact(self):
        return not any(_fixtures_differ(before, _attributes(plugin)) for plugin, before in self.plugins)

    def adopt(self, session):
        pytest_api.adopt_fixture_manager(session, self.manager)


def _attributes(plugin):
    try:
        return dict(vars(plugin))
    except TypeError:  # no __dict__: its names are its class's
        return {}


def _fixtures_differ(before, now):
    for name in before.keys() | now.keys():
        old, new = before.get(name), now.get(name)
        if old is not new and (pytest_api.is_fixture(old) or pytest_api.is_fixture(new)):
            return True
    return False


def parse(config):
    """An Ahead for config, or None where pytest's own manager is the one to use."""
    registered = pluggy_api.call_history(config.hook.pytest_plugin_registered)
    if registered is None:
        return None  # pluggy's probe failed
    try:
        ahead = Ahead(config, registered)
    except Exception:  # a plugin whose parse raises: it raises in the run, as in a cold one
        return None
    return ahead if ahead.manager is not None else None  # None: pytest's probe failed


def use_at_session_start(config, ahead):
    """Until the next session start, fixtures' pytest_sessionstart adopts
    ahead's manager (if it is still exact) instead of making one."""
    if ahead is None:
        return

    def make(original, restore):
        def sessionstart(session):
            restore()
            if ahead.still_exact():
                ahead.adopt(session)
            else:
                original(session)
        return sessionstart

    pluggy_api.replace_once_in(config.hook.pytest_sessionstart, pytest_api.fixtures_sessionstart_plugin(), make)
