"""Interpreter state of a fresh `python -m pytest`, in a fork of the kernel.

Recursion limit, the garbage collector, logging, random generators and the
exit handlers are process-wide state that the kernel (ipykernel, the
notebook sharing it) changed and that a test can observe.
"""
import atexit
import gc
import logging
import sys

FRESH_RECURSION_LIMIT = 1000  # CPython's default; ipykernel raises it to 3000

# The logging state the kernel had when the runtime was loaded: its loggers
# (tornado's, traitlets', IPKernelApp...) and the root logger's handlers and
# level. Loggers and handlers added after that came from preloaded modules,
# which a cold pytest imports as well.
_KERNEL_LOGGERS = frozenset(logging.Logger.manager.loggerDict)
_KERNEL_ROOT_HANDLERS = tuple(logging.root.handlers)
_KERNEL_HANDLERS = tuple(ref() for ref in logging._handlerList)


def fresh_recursion_limit():
    sys.setrecursionlimit(FRESH_RECURSION_LIMIT)


def thaw_gc():
    """gc.freeze() kept the kernel's heap out of the fork's collections; a
    fresh process has nothing frozen (gc.get_freeze_count() == 0). The thawed
    objects join the oldest generation, which a short run rarely collects in
    full, so few of their pages are written (measured: bench/README.md)."""
    gc.unfreeze()


def reset_logging(kernel_loggers=_KERNEL_LOGGERS, kernel_root_handlers=_KERNEL_ROOT_HANDLERS):
    """The kernel's loggers become as a fresh process would create them on
    first use (no handlers, NOTSET, propagating); the root logger loses the
    kernel's handlers and gets the default level WARNING back."""
    root = logging.root
    for handler in kernel_root_handlers:
        root.removeHandler(handler)
    root.setLevel(logging.WARNING)
    manager = logging.Logger.manager
    for name in kernel_loggers:
        logger = manager.loggerDict.get(name)
        if isinstance(logger, logging.Logger):
            logger.handlers.clear()
            logger.setLevel(logging.NOTSET)
            logger.propagate = True
            logger.disabled = False
    manager.disable = 0
    manager._clear_cache()


def reseed_generators(modules=None):
    """Unseeded generators start from fresh entropy in a new interpreter;
    forks of one kernel would all share its state. Only modules already
    imported are reseeded (a later import seeds itself); the standard
    library's `random` already is, by its own fork hook."""
    modules = sys.modules if modules is None else modules
    reseeded = []  # `random` reseeds itself in every fork (os.register_at_fork)
    numpy_random = modules.get("numpy.random")
    if numpy_random is not None:
        try:
            numpy_random.seed()  # the global RandomState; default_rng() draws fresh entropy itself
            reseeded.append("numpy.random")
        except Exception:
            pass
    torch = modules.get("torch")
    if torch is not None:
        try:
            torch.default_generator.seed()  # the CPU generator; CUDA is never initialised in a fork
            reseeded.append("torch")
        except Exception:
            pass
    return reseeded


def fresh_exit_handlers(modules=None):
    """atexit as a fresh process has it: empty but for the handlers that
    modules register when imported (logging.shutdown, multiprocessing's
    joining of children, weakref.finalize(atexit=True)), re-registered for
    the modules already imported, in the order a cold import registers them.
    The kernel's own multiprocessing children and finalizers are not the test
    process's: forgotten, so that its exit never touches them."""
    modules = sys.modules if modules is None else modules
    atexit._clear()
    if "logging" in modules:
        atexit.register(_shutdown_logging)
    weakref = modules.get("weakref")
    if weakref is not None and getattr(weakref.finalize, "_registered_with_atexit", False):
        for info in list(weakref.finalize._registry.values()):
            info.atexit = False  # the kernel's temporary directories and such
        atexit.register(weakref.finalize._exitfunc)
    util = modules.get("multiprocessing.util")
    if util is not None:
        _forget_kernel_multiprocessing(modules, util)
        atexit.register(util._exit_function)


def _shutdown_logging(kernel_handlers=_KERNEL_HANDLERS):
    """logging.shutdown as at exit, for the handlers of the test process:
    the kernel's write to streams the test process does not own."""
    ours = [ref for ref in list(logging._handlerList) if ref() not in kernel_handlers]
    logging.shutdown(ours)


def _forget_kernel_multiprocessing(modules, util):
    util._finalizer_registry.clear()  # e.g. a kernel Pool's terminate: it would kill the kernel's workers
    process = modules.get("multiprocessing.process")
    if process is not None:
        process._children.clear()
        current = process.current_process()
        current._config.pop("tempdir", None)  # /tmp/pymp-*: the test process makes (and removes) its own


def finalize_run_modules(before, modules=None, system_dirs=None):
    """What a fresh interpreter's shutdown does to the user's modules the run
    imported (test modules, conftest files, the project's code): their
    globals are cleared, latest import first, so that the objects only they
    hold are finalized (`__del__`, weakref callbacks) while stdout still
    works, as at CPython's exit. Dunder names stay (the project's layer is
    recorded from them after the exit code went out). Modules the kernel
    held are not touched (their objects are the kernel's), nor libraries
    the run imported (clearing 200 standard-library modules cost 15-20 ms,
    mostly deallocation: a cold process pays it, a warm run should not for
    what is rarely seen). Only the young generations are collected: a full
    collection would walk, and copy on write, the kernel's whole heap."""
    if before is None:
        return
    modules = sys.modules if modules is None else modules
    if system_dirs is None:
        from ..sysdirs import system_dirs as dirs
        system_dirs = dirs()
    ours = []
    for name in [name for name in modules if name not in before]:  # names only: touching every module
        module = modules.get(name)                                  # object would copy its page
        path = getattr(module, "__file__", None)
        if isinstance(path, str) and not path.startswith(system_dirs):
            ours.append(module)
    for module in reversed(ours):
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        try:
            for key in [k for k in namespace if isinstance(k, str) and not (k.startswith("__") and k.endswith("__"))]:
                namespace[key] = None  # as CPython's _PyModule_ClearDict: a __del__ may still look its name up
        except Exception:
            pass
    try:
        gc.collect(1)
    except Exception:
        pass
