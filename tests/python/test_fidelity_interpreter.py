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
