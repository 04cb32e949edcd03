"""ltest's runtime inside an IPython kernel.

The ltest server loads this package into a kernel and calls `serve(spec)` for
each run: the kernel forks, the child runs pytest, the kernel relays the
child's output as Jupyter stream messages. The same package is the `%ltest`
IPython extension (`%load_ext ltest`). Standard library and IPython only.
"""
from .preload import preload, preloaded_roots
from .result import Reply, last_result
from .runner import serve, run

__version__ = "0.1.0"
__all__ = ["preload", "preloaded_roots", "serve", "run", "Reply", "last_result"]


def load_ipython_extension(ipython):
    from .magic import register
    register(ipython)
