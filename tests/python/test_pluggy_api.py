"""private_api/pluggy_api.py: a historic hook's history, and a plugin
registered with the replay of that history leaving out calls it has seen."""
import pluggy

from ltest.private_api import pluggy_api

hookspec = pluggy.HookspecMarker("demo")
hookimpl = pluggy.HookimplMarker("demo")


class Spec:
    @hookspec(historic=True)
    def seen(self, name):
        pass


def _manager_with_history(names):
    pm = pluggy.PluginManager("demo")
    pm.add_hookspecs(Spec)
    for name in names:
        pm.hook.seen.call_historic(kwargs={"name": name})
    return pm


class Recorder:
    def __init__(self):
        self.calls = []

    @hookimpl
    def seen(self, name):
        self.calls.append(name)


def test_the_replay_leaves_out_the_calls_skipped_and_the_history_stays_whole():
    pm = _manager_with_history(["a", "b", "c"])
    plugin = Recorder()
    assert pluggy_api.register_past_history(pm, plugin, "rec", pm.hook.seen, 2)
    assert plugin.calls == ["c"]
    assert [k["name"] for k in pluggy_api.call_history(pm.hook.seen)] == ["a", "b", "c"]
    pm.hook.seen.call_historic(kwargs={"name": "d"})
    assert plugin.calls == ["c", "d"]


def test_nothing_skipped_is_a_plain_registration():
    pm = _manager_with_history(["a", "b"])
    plugin = Recorder()
    assert pluggy_api.register_past_history(pm, plugin, "rec", pm.hook.seen, 0)
    assert plugin.calls == ["a", "b"]


def test_a_history_shorter_than_the_calls_to_skip_registers_nothing():
    pm = _manager_with_history(["a"])
    plugin = Recorder()
    assert not pluggy_api.register_past_history(pm, plugin, "rec", pm.hook.seen, 2)
    assert plugin.calls == [] and not pm.is_registered(plugin)
    assert [k["name"] for k in pluggy_api.call_history(pm.hook.seen)] == ["a"]


def test_the_history_is_whole_again_when_the_registration_raises():
    pm = _manager_with_history(["a", "b"])

    class Raising:
        @hookimpl
        def seen(self, name):
            raise RuntimeError(name)

    try:
        pluggy_api.register_past_history(pm, Raising(), "raising", pm.hook.seen, 1)
    except RuntimeError as e:
        assert str(e) == "b"
    else:
        raise AssertionError("the replay's call did not raise")
    assert [k["name"] for k in pluggy_api.call_history(pm.hook.seen)] == ["a", "b"]
