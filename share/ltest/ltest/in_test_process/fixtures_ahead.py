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

A parse that warns is not used (the run parses again, and pytest lists
the warning as in a cold run). A plugin whose fixtures may have changed since the parse (an attribute
added, removed or replaced where the old or the new value is a fixture)
gives the run a manager made by pytest, as in a cold run. From pytest 9.1,
a manager keeps plugins' fixtures under the Session node, which does not
exist yet: the parse is made under a stand-in whose place the Session takes
at adoption (private_api/pytest_api.py), and pluggy's replay of the plugins
registered so far leaves out those parsed (9.1 no longer skips plugins it
has seen). A pytest or pluggy whose probe fails gives pytest's own manager
too: this speed-up is then off, and `ltest --status` says why.
"""
import warnings

from ..private_api import pluggy_api, pytest_api


class Ahead:
    def __init__(self, config, registered):
        self.config = config
        self.registered = registered
        self.made = pytest_api.fixture_manager_ahead(config, registered)
        self.manager = self.made.manager if self.made is not None else None
        self.plugins = [(kwargs["plugin"], _attributes(kwargs["plugin"])) for kwargs in registered]

    def still_exact(self):
        """Nothing parsed has changed, and the plugins parsed are still the
        first ones registered (so pluggy's replay can leave them out)."""
        now = pluggy_api.call_history(self.config.hook.pytest_plugin_registered) or []
        if len(now) < len(self.registered) or any(
                a["plugin"] is not b["plugin"] or a.get("plugin_name") != b.get("plugin_name")
                for a, b in zip(now, self.registered)):
            return False
        return not any(_fixtures_differ(before, _attributes(plugin)) for plugin, before in self.plugins)

    def adopt(self, session):
        """Registers the manager for session as pytest registers its own,
        with pluggy's replay of the plugins registered so far leaving out
        the ones parsed ahead (pytest up to 9.0 skips them itself). False,
        with nothing registered, where it cannot be (pytest's own then)."""
        if not pytest_api.bind_to_session(self.made, session):
            return False
        pm = session.config.pluginmanager
        skip = 0 if self.made.skips_seen else len(self.registered)
        if not pluggy_api.register_past_history(pm, self.manager, "funcmanage", pm.hook.pytest_plugin_registered, skip):
            return False
        pytest_api.finish_fixture_manager(session, self.manager)
        return True


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
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            ahead = Ahead(config, registered)
    except Exception:  # a plugin whose parse raises: it raises in the run, as in a cold one
        return None
    if warned:  # pytest would list the warning (9.x warns of fixtures behind wrappers): the run parses
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
            if not (ahead.still_exact() and ahead.adopt(session)):
                original(session)
        return sessionstart

    pluggy_api.replace_once_in(config.hook.pytest_sessionstart, pytest_api.fixtures_sessionstart_plugin(), make)
