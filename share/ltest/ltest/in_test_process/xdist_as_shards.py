"""`ltest -- -n N`: pytest-xdist's -n as ltest's own -n (shard.py).

What an xdist user types after `--` (`-n 2`, `-n auto`, `--numprocesses=4`,
`addopts = -n auto` in the ini file, PYTEST_ADDOPTS) would start N cold
interpreters that import and collect everything again. A plugin of every
test process reads what xdist made of the options, after xdist's own
pytest_cmdline_main (tryfirst) resolved them and before its pytest_configure
(trylast) starts the distributed session: for the modes whose meaning is
only "spread the tests over N workers" (`--dist load`, what -n implies, and
`worksteal`, over local `popen` workers) it turns xdist's distribution off
and runs the collected tests in N forks of this test process instead, with
one combined report: pytest's summary line and exit code, as xdist's. The
progress shows no file names, as under xdist (its session sets
`showfspath` off), and each worker is an xdist worker to its tests
(`worker_id` gw0, gw1...; PYTEST_XDIST_WORKER). The modes that group tests (`loadscope`, `loadfile`,
`loadgroup`), run each test on every worker (`each`), or use other
gateways (`--tx ssh=...`, `--rsyncdir`), or coverage (pytest-cov combines
what xdist's workers send) stay xdist's, said once on stderr.
Without xdist (not installed, `-p no:xdist`), -n is pytest's usage error,
as cold.
"""
import os
import sys

import pytest

# What ltest's shards honour: any spread of the tests over the workers.
SPREADING_MODES = ("load", "worksteal")


class XdistAsShards:
    def pytest_cmdline_main(self, config):
        n = workers_for(config)
        if n is None:
            return None
        # No gateways: xdist's pytest_configure starts no distributed session. --dist
        # stays, so that what other plugins see is as under xdist (pytest-benchmark
        # turns itself off, xdist's is_xdist_controller holds).
        config.option.tx = []
        if not _has_shards(config):  # `ltest -n 2 -- -n 2`: ltest's own -n holds
            import functools
            import uuid
            from .shard import ShardPlugin
            uid = getattr(config.option, "testrunuid", None) or uuid.uuid4().hex  # the workers share it, as xdist's
            setup = functools.partial(as_xdist_worker, testrun_uid=uid)
            config.pluginmanager.register(ShardPlugin(n, worker_setup=setup), "ltest-xdist-shards")
        self.showfspath_off = True
        return None

    @pytest.hookimpl(trylast=True)  # after the terminal reporter's registration
    def pytest_configure(self, config):
        if getattr(self, "showfspath_off", False):
            reporter = config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.showfspath = False


def workers_for(config):
    """The number of workers xdist would start, when ltest's shards can run
    them instead; None when xdist distributes nothing here, or must (said
    once on stderr)."""
    if not config.pluginmanager.hasplugin("xdist"):
        return None
    dist = getattr(config.option, "dist", "no")
    tx = list(getattr(config.option, "tx", None) or ())
    if dist == "no" or not tx or config.getoption("collectonly", False):
        return None
    reason = None
    if dist not in SPREADING_MODES:
        reason = f"--dist {dist}"
    elif any(spec != "popen" for spec in tx):
        reason = "--tx " + " ".join(sorted({spec for spec in tx if spec != "popen"}))
    elif getattr(config.option, "rsyncdir", None):
        reason = "--rsyncdir"
    elif getattr(config.option, "cov_source", None):  # pytest-cov combines what xdist's workers send it
        reason = "--cov"
    if reason is not None:
        sys.stderr.write(f"ltest: {reason} runs in pytest-xdist's own workers (fresh interpreters): "
                         f"ltest's forked workers honour only --dist load and worksteal\n")
        sys.stderr.flush()
        return None
    return len(tx)


def as_xdist_worker(config, index, count, testrun_uid):
    """What a test sees of xdist in its worker: the `worker_id` and
    `testrun_uid` fixtures, `is_xdist_worker`, PYTEST_XDIST_WORKER and its
    siblings (a database per worker, say), as xdist's worker sets them."""
    uid = testrun_uid
    worker = f"gw{index}"
    config.workerinput = {"workerid": worker, "workercount": count, "testrunuid": uid,
                          "mainargv": list(sys.argv)}
    os.environ.update(PYTEST_XDIST_WORKER=worker, PYTEST_XDIST_WORKER_COUNT=str(count),
                      PYTEST_XDIST_TESTRUNUID=uid)


def _has_shards(config):
    from .shard import ShardPlugin
    return any(isinstance(p, ShardPlugin) for p in config.pluginmanager.get_plugins())
