"""fidelity_interpreter: logging and random generators as in a fresh process."""
import logging
import types

from ltest.in_test_process import fidelity_interpreter as fi


def test_the_kernels_loggers_and_root_handlers_are_reset():
    logger = logging.getLogger("fid.kernel.logger")
    handler = logging.StreamHandler()
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    root_handler = logging.NullHandler()
    logging.root.addHandler(root_handler)
    level = logging.root.level
    try:
        fi.reset_logging({"fid.kernel.logger"}, (root_handler,))
        assert logger.handlers == [] and logger.level == logging.NOTSET and logger.propagate
        assert root_handler not in logging.root.handlers and logging.root.level == logging.WARNING
    finally:
        logging.root.setLevel(level)


def test_only_imported_generators_are_reseeded():
    seeded = []
    fake_numpy = types.SimpleNamespace(seed=lambda: seeded.append("numpy"))
    assert fi.reseed_generators({"numpy.random": fake_numpy}) == ["numpy.random"] and seeded == ["numpy"]
    assert fi.reseed_generators({}) == []


def test_the_runs_modules_release_what_they_hold_at_exit_and_the_kernels_keep_theirs():
    import types
    from ltest.in_test_process import fidelity_interpreter as fi
    finalized = []

    class Held:
        def __init__(self, name):
            self.name = name

        def __del__(self):
            finalized.append(self.name)

    kernels, runs, library = (types.ModuleType(n) for n in ("kernels_fid", "runs_fid", "library_fid"))
    kernels.obj, runs.obj, library.obj = Held("kernel"), Held("run"), Held("library")
    kernels.__file__, runs.__file__, library.__file__ = "/x/kernels_fid.py", "/x/runs_fid.py", "/usr/lib/library_fid.py"
    modules = {"kernels_fid": kernels, "runs_fid": runs, "library_fid": library}
    fi.finalize_run_modules({"kernels_fid"}, modules, system_dirs=("/usr/lib/",))
    assert finalized == ["run"] and runs.obj is None and runs.__file__ == "/x/runs_fid.py"
    assert kernels.obj.name == "kernel" and library.obj.name == "library"
    fi.finalize_run_modules(None, modules)  # no run was set up: nothing to do
