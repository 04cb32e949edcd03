"""ltest's runtime inside an IPython kernel.

The ltest server loads this package into a kernel and calls
`attach_server(path)`: from then on the kernel's event loop takes each run's
request and stdio from the server's hand-over socket as it comes and starts
a test process that talks to the server directly (`serve(spec)`, for a
kernel on another host, relays the output as Jupyter stream messages
instead). The same package is the `%ltest`
IPython extension (`%load_ext ltest`). Standard library and IPython only.

Its names are imported when first used: every pytest run of an environment
that has the package imports `ltest.delegate` (a pytest11 entry point), which
must not pay for the kernel's runtime (about 65 ms).
"""
__version__ = "0.1.0"
__all__ = ["preload", "preloaded_roots", "serve", "attach_server", "run", "Reply", "last_result"]

_LAZY = {  # name: (module, attribute)
    "preloaded_roots": ("in_kernel.preload", "preloaded_roots"),
    "Reply": ("in_kernel.result", "Reply"),
    "last_result": ("in_kernel.result", "last_result"),
    "attach_server": ("in_kernel.handover", "attach"),
    "serve": ("in_kernel.runner", "serve"),
    "run": ("in_kernel.runner", "run"),
    # a kernel on another host takes the client's project tree (tree_sync.py)
    "tree_compare": ("in_kernel.tree_sync", "compare"),
    "tree_write": ("in_kernel.tree_sync", "write"),
}


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib
    module, attribute = _LAZY[name]
    value = getattr(importlib.import_module(f"{__name__}.{module}"), attribute)
    globals()[name] = value
    return value


def preload(modules):
    """The server's warm-up: import the modules, pytest and its plugins, then
    fork the first spares (the first run need not wait for a fork either)."""
    from .in_kernel import preload as _preload
    from .in_kernel.runner import prepare_spare
    reply = _preload.preload(modules)
    prepare_spare()
    return reply


def load_ipython_extension(ipython):
    from .in_kernel.magic import register
    register(ipython)
