"""pluggy's private API, as ltest's speed-ups use it; the only module that
reaches into pluggy. Each probe runs once per process; a failed one turns its
speed-up off (see __init__.py).

- a historic hook's call history (`HookCaller._call_history`): the order in
  which plugins were registered, for the fixtures parsed ahead;
- that history, left out of its replay to a plugin registered late (a
  fixture manager that parsed those plugins ahead, on pytest 9.1 on);
- a hook's implementations (`HookCaller.get_hookimpls()`) and the function a
  `HookImpl` calls (`HookImpl.function`), replaced for one call.
"""
import functools


def _hook_caller_class():
    from pluggy import _hooks
    return getattr(_hooks, "HookCaller", None) or getattr(_hooks, "_HookCaller")  # 1.0: _HookCaller


@functools.lru_cache(maxsize=None)
def _probe_history():
    try:
        import pluggy
        HookCaller = _hook_caller_class()
    except (ImportError, AttributeError) as e:
        return f"pluggy cannot be imported ({e})"
    names = HookCaller.__init__.__code__.co_names + getattr(HookCaller, "__slots__", ())
    if "_call_history" not in names:
        return f"pluggy {pluggy.__version__} keeps no historic hook's call history (HookCaller._call_history)"
    return None


@functools.lru_cache(maxsize=None)
def _probe_impls():
    try:
        import pluggy
        from pluggy._hooks import HookImpl
        HookCaller = _hook_caller_class()
    except (ImportError, AttributeError) as e:
        return f"pluggy cannot be imported ({e})"
    if not callable(getattr(HookCaller, "get_hookimpls", None)):
        return f"pluggy {pluggy.__version__} has no HookCaller.get_hookimpls()"
    names = HookImpl.__init__.__code__.co_names + tuple(getattr(HookImpl, "__slots__", ()))
    if "function" not in names:
        return f"pluggy {pluggy.__version__}'s HookImpl has no `function` to replace"
    return None


def probe_all():
    """{speed-up: None (on) or why it is off} for what needs pluggy."""
    why = _probe_history() or _probe_impls()
    return {"fixtures parsed ahead (pluggy)": why}


def call_history(hook):
    """[kwargs] of a historic hook's calls so far, or None where not probed."""
    if _probe_history() is not None:
        return None
    return [kwargs for kwargs, _ in (getattr(hook, "_call_history", None) or [])]


def register_past_history(pluginmanager, plugin, name, hook, skip):
    """Registers plugin as name, with pluggy's replay of the historic hook's
    calls to it leaving out the first skip (calls it has seen already): the
    history itself stays whole. False, with nothing registered, where that
    cannot be done (probe failed, or a history shorter than skip)."""
    if skip:
        history = getattr(hook, "_call_history", None) if _probe_history() is None else None
        if not isinstance(history, list) or len(history) < skip:
            return False
        seen = history[:skip]
        del history[:skip]
        try:
            pluginmanager.register(plugin, name)
        finally:
            history[0:0] = seen
    else:
        pluginmanager.register(plugin, name)
    return True


def replace_once_in(hook, plugin, make):
    """Replaces plugin's implementation of hook by make(original) until its
    first call (where the replacement calls restore() first). False where
    that cannot be done (probe failed, or plugin has not exactly one)."""
    if _probe_impls() is not None:
        return False
    impls = [i for i in hook.get_hookimpls() if i.plugin is plugin]
    if len(impls) != 1:
        return False
    impl = impls[0]
    original = impl.function

    def restore():
        impl.function = original

    impl.function = make(original, restore)
    return True
