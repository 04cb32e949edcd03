""""Am I in Jupyter?" answered as plain pytest would: no.

The kernel's own stack (ipykernel, IPython, zmq, tornado, traitlets, the
debugger, jedi...) is in sys.modules of every fork; libraries ask
`'IPython' in sys.modules`, `'ipykernel' in sys.modules` or IPython's
`get_ipython()` to decide whether they run in a notebook. In the test
process those packages leave sys.modules (their module objects live on for
whatever still holds them), unless a preloaded module imported them itself:
a preload's references must keep working and keep one copy. A test that
imports IPython then gets a fresh, shell-less copy, as in plain pytest.

What libraries decided at import in the kernel is put back as a fresh
import would have decided it: tqdm.auto's choice, pandas' display.max_columns.
"""
import sys

# Top-level packages that only a Jupyter kernel imports (as seen in a
# kernel's sys.modules against a cold `python -m pytest`'s). Generic
# libraries the stack also uses (dateutil, six, psutil, pygments) stay: a
# notebook's own imports may hold them.
JUPYTER_STACK = frozenset({
    "ipykernel", "ipykernel_launcher", "IPython", "zmq", "jupyter_client", "jupyter_core", "tornado",
    "traitlets", "comm", "debugpy", "pydevd", "pydevconsole", "pydevd_file_utils", "pydevd_plugins",
    "pydevd_tracing", "pydev_ipython", "_pydev_bundle", "_pydevd_bundle", "_pydev_runfiles",
    "_pydevd_frame_eval", "matplotlib_inline", "jedi", "parso", "prompt_toolkit", "pexpect", "ptyprocess",
    "pickleshare", "backcall", "stack_data", "executing", "asttokens", "pure_eval", "entrypoints",
    "nest_asyncio", "bytecode",
})

# Modules whose import-time choice depends on being in a notebook (and what
# they imported for it): dropped so that a test's import decides again.
NOTEBOOK_CHOICES = ("tqdm.auto", "tqdm.autonotebook", "tqdm.notebook")

# Top-level names the preloads imported themselves (preload.py records them):
# those of the stack stay, since the preloaded modules use them.
_used_by_preloads = set()


def note_used_by_preloads(names):
    _used_by_preloads.update(names)


def stack_modules(modules, keep=frozenset()):
    """Names in `modules` that belong to the Jupyter stack and are not kept."""
    drop = JUPYTER_STACK - set(keep)
    return [name for name in modules if name.partition(".")[0] in drop]


# The dropped modules, still referenced: their last reference going would
# deallocate the kernel's whole shell and kernel object graph in every test
# process (measured: 15-25 ms, and its pages copied on write).
_dropped = []


# (len(sys.modules), names to drop) as the kernel computed it before the fork.
_planned = None


def plan():
    global _planned
    if _planned is None or _planned[0] != len(sys.modules):
        _planned = (len(sys.modules), stack_modules(list(sys.modules), _used_by_preloads))


def forget_jupyter(modules=None):
    """Drops the kernel's stack and notebook-dependent choices from sys.modules
    (the names the kernel planned, when it did: see plan)."""
    if modules is None and _planned is not None:
        modules, names = sys.modules, _planned[1]
    else:
        modules = sys.modules if modules is None else modules
        names = stack_modules(list(modules), _used_by_preloads)
    for name in names + list(NOTEBOOK_CHOICES):
        module = modules.pop(name, None)
        if module is not None:
            _dropped.append(module)
    _pandas_as_in_a_terminal(modules.get("pandas.core.config_init"))


def matplotlib_as_cold(env, modules=None):
    """matplotlib read $MPLBACKEND when the kernel imported it: ipykernel's
    inline backend. The test process takes the client's $MPLBACKEND, else
    the matplotlibrc's backend, as a fresh import would (pyplot, if already
    imported, switches; one that cannot start here falls back as pyplot's
    import does)."""
    modules = sys.modules if modules is None else modules
    mpl = modules.get("matplotlib")
    if mpl is None:
        return
    wanted = env.get("MPLBACKEND")
    try:
        current = str(dict.__getitem__(mpl.rcParams, "backend"))
        if not wanted and "inline" not in current:
            return  # nothing of the kernel's
        target = wanted or mpl.rcParamsOrig["backend"]
        pyplot = modules.get("matplotlib.pyplot")
        if pyplot is None:
            mpl.rcParams["backend"] = target  # resolved when a test imports pyplot
            return
        try:
            pyplot.switch_backend(target)
        except ImportError:
            from matplotlib import rcsetup
            pyplot.switch_backend(rcsetup._auto_backend_sentinel)
    except Exception:  # another matplotlib: at least no inline backend
        mpl.use("Agg", force=True)


def _pandas_as_in_a_terminal(config_init):
    """pandas sets display.max_columns to 20 when imported in a notebook, 0
    (fit the terminal) otherwise; the default and, unless someone changed
    it, the value become the terminal's."""
    if config_init is None:
        return
    try:
        from pandas._config import config
        option = config._registered_options.get("display.max_columns")
        if option is None or option.defval == 0:
            return
        kernel_default = option.defval
        config._registered_options["display.max_columns"] = option._replace(defval=0)
        if config.get_option("display.max_columns") == kernel_default:
            config.set_option("display.max_columns", 0)
    except Exception:  # another pandas layout: leave it
        pass
