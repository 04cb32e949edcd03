"""ltest's runtime inside an IPython kernel.

The ltest server loads this package into a kernel and calls
`attach_server(path)`: from then on the kernel's event loop takes each run's
request and stdio from the server's hand-over socket as it comes and starts
a test process that talks to the server directly (`serve(spec)`, for a
kernel on another host, relays the output as Jupyter stream messages
instead). The same package is the `%ltest`
IPython extension (`%load_ext ltest`). Standard library and IPython only.
"""
from .in_kernel import preload as _preload
from .in_kernel.preload import preloaded_roots
from .in_kernel.result import Reply, last_result
from .in_kernel.handover import attach as attach_server
from .in_kernel.runner import serve, run

__version__ = "0.1.0"
__all__ = ["preload", "preloaded_roots", "serve", "attach_server", "run", "Reply", "last_result"]


def preload(modules):
    """The server's warm-up: import the modules, pytest and its plugins, then
    fork the first spares (the first run need not wait for a fork either)."""
    from .in_kernel.runner import prepare_spare
    reply = _preload.preload(modules)
    prepare_spare()
    return reply


def load_ipython_extension(ipython):
    from .in_kernel.magic import register
    register(ipython)
