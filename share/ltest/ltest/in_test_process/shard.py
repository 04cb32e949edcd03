"""`ltest -n N`: collect once, then run the items in N forked workers.

A pytest plugin used in the test process. After collection it forks N
workers, each running a shard of the collected items made of a few
contiguous blocks (module-scoped fixtures stay mostly within one worker).
Workers send their reports back as JSON lines over a pipe; this process feeds them to its own hooks, so the
terminal reporter shows progress as results arrive, tracebacks and one final
summary, and pytest computes the exit code as for a serial run. Like
pytest-xdist, but the workers are forks of an already-collected session, so
nothing is imported or collected twice.
"""
import json
import os
import select
import signal

import pytest

from ..private_api import pytest_api

# Each worker's shard is made of this many contiguous blocks, taken in turn
# across the suite: slow tests that cluster at one end are spread over all
# workers, while neighbours (a module's tests, its fixtures) mostly stay together.
BLOCKS_PER_WORKER = 4


def split(items, n, blocks_per_worker=BLOCKS_PER_WORKER):
    """n shards of near-equal size (none empty): the items cut into n *
    blocks_per_worker contiguous blocks, dealt to the shards in turn."""
    n = max(1, min(n, len(items)))
    count = max(n, min(len(items), n * blocks_per_worker))
    size, extra = divmod(len(items), count)
    blocks, start = [], 0
    for i in range(count):
        end = start + size + (1 if i < extra else 0)
        blocks.append(items[start:end])
        start = end
    return [[item for block in blocks[w::n] for item in block] for w in range(n)]


def worker_messages(worker, fd):
    """The whole JSON lines a worker wrote on fd since the last call (a line
    cut by the read waits in worker.buffer); None at the pipe's end."""
    chunk = os.read(fd, 1 << 16)
    if not chunk:
        return None
    worker.buffer += chunk
    *lines, worker.buffer = worker.buffer.split(b"\n")
    return [json.loads(line) for line in lines]


class _Forwarder:
    """In a worker: every report goes to the coordinator instead of a terminal."""

    def __init__(self, config, fd):
        self.config = config
        self.fd = fd

    def send(self, obj):
        data = (json.dumps(obj) + "\n").encode()
        while data:
            data = data[os.write(self.fd, data):]

    def pytest_runtest_logstart(self, nodeid, location):
        self.send({"event": "logstart", "nodeid": nodeid, "location": list(location)})

    def pytest_runtest_logreport(self, report):
        if report.when == "call" and report.passed:
            # What the terminal reporter would ask here, in this worker, whose
            # state it may read: pytest 9's subtests fail a passed test that
            # holds failed subtests (their count stays in this worker).
            self.config.hook.pytest_report_teststatus(report=report, config=self.config)
        data = self.config.hook.pytest_report_to_serializable(config=self.config, report=report)
        self.send({"event": "logreport", "data": data})

    def pytest_runtest_logfinish(self, nodeid, location):
        self.send({"event": "logfinish", "nodeid": nodeid, "location": list(location)})

    def pytest_warning_recorded(self, warning_message, when, nodeid, location):
        self.send({"event": "warning", "when": when, "nodeid": nodeid,
                   "location": list(location) if location else None, **warning_to_json(warning_message)})


def warning_to_json(warning_message):
    category = warning_message.category
    return {"category": [category.__module__, category.__qualname__], "message": str(warning_message.message),
            "filename": warning_message.filename, "lineno": warning_message.lineno}


def warning_from_json(msg):
    """The worker's warning as a warnings.WarningMessage for this process's
    hooks (the warnings summary): its category if importable, else UserWarning."""
    import importlib
    import warnings
    category = UserWarning
    try:
        found = importlib.import_module(msg["category"][0])
        for part in msg["category"][1].split("."):
            found = getattr(found, part)
        if isinstance(found, type) and issubclass(found, Warning):
            category = found
    except Exception:
        pass
    try:
        message = category(msg["message"])
    except Exception:
        message = UserWarning(msg["message"])
    return warnings.WarningMessage(message, category, msg["filename"], msg["lineno"])


def report_from_json(config, data):
    """A worker's report as the serial run has it: JSON turned the tuples of
    a skip's longrepr (path, line, reason) and the location into lists,
    which -rA's skip summary and --junitxml expect as tuples."""
    report = config.hook.pytest_report_from_serializable(config=config, data=data)
    pytest_api.subtest_arguments_as_sent(report, data)
    if isinstance(getattr(report, "longrepr", None), list):
        report.longrepr = tuple(report.longrepr)
    if isinstance(getattr(report, "location", None), list):
        report.location = tuple(report.location)
    return report


def _run_worker(session, shard, fd):
    config = session.config
    pytest_api.own_capture_in_fork(config)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        config.pluginmanager.unregister(reporter)
    forwarder = _Forwarder(config, fd)
    config.pluginmanager.register(forwarder, "ltest-shard-forwarder")
    for i, item in enumerate(shard):
        nextitem = shard[i + 1] if i + 1 < len(shard) else None
        item.config.hook.pytest_runtest_protocol(item=item, nextitem=nextitem)
        if session.shouldfail or session.shouldstop:
            break
    forwarder.send({"event": "done"})


class _Worker:
    def __init__(self, pid, fd, shard):
        self.pid, self.fd, self.shard = pid, fd, shard
        self.buffer = b""
        self.finished = 0  # items whose logfinish arrived
        self.done = False
        self.reaped = False


class ShardPlugin:
    def __init__(self, workers, worker_setup=None):
        self.workers = workers
        self.worker_setup = worker_setup  # (config, index, count) in each worker first: xdist's identity

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session):
        config = session.config
        if (self.workers < 2 or len(session.items) < 2 or config.option.collectonly
                or (session.testsfailed and not config.option.continue_on_collection_errors)):
            return None  # pytest's own loop handles these exactly as usual
        workers = {}
        shards = split(session.items, self.workers)
        for index, shard in enumerate(shards):
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:  # a worker: never returns
                code = 0
                try:
                    os.close(r)
                    signal.signal(signal.SIGINT, signal.default_int_handler)
                    if self.worker_setup is not None:
                        self.worker_setup(config, index, len(shards))
                    _run_worker(session, shard, w)
                except BaseException:
                    code = 3
                finally:
                    os._exit(code)
            os.close(w)
            workers[r] = _Worker(pid, r, shard)
        try:
            self._collect_reports(session, workers)
        finally:
            for worker in workers.values():
                if not worker.reaped:
                    os.kill(worker.pid, signal.SIGKILL)  # finished workers are only waiting to exit
                    os.waitpid(worker.pid, 0)
                os.close(worker.fd)
        if session.shouldfail:
            raise session.Failed(session.shouldfail)
        if session.shouldstop:
            raise session.Interrupted(session.shouldstop)
        return True

    def _collect_reports(self, session, workers):
        config = session.config
        open_fds = set(workers)
        while open_fds and not session.shouldfail and not session.shouldstop:
            ready, _, _ = select.select(list(open_fds), [], [])
            for fd in ready:
                worker = workers[fd]
                messages = worker_messages(worker, fd)
                if messages is None:
                    open_fds.discard(fd)
                    if not worker.done:
                        self._report_crash(config, worker)
                    continue
                for msg in messages:
                    self._replay(config, worker, msg)
                    if session.shouldfail or session.shouldstop:
                        return  # -x / --maxfail: what the other workers did since is not reported

    @staticmethod
    def _replay(config, worker, msg):
        event = msg["event"]
        if event == "logstart":
            config.hook.pytest_runtest_logstart(nodeid=msg["nodeid"], location=tuple(msg["location"]))
        elif event == "logreport":
            config.hook.pytest_runtest_logreport(report=report_from_json(config, msg["data"]))
        elif event == "logfinish":
            worker.finished += 1
            config.hook.pytest_runtest_logfinish(nodeid=msg["nodeid"], location=tuple(msg["location"]))
        elif event == "warning":
            location = tuple(msg["location"]) if msg["location"] else None
            config.hook.pytest_warning_recorded.call_historic(kwargs=dict(
                warning_message=warning_from_json(msg), when=msg["when"], nodeid=msg["nodeid"], location=location))
        elif event == "done":
            worker.done = True

    @staticmethod
    def _report_crash(config, worker):
        """A worker died (a segfault, os._exit): its current item fails, and the
        items it never reached are reported as failed too, never silently lost."""
        from pytest import TestReport
        _, status = os.waitpid(worker.pid, 0)
        worker.reaped = True
        why = (f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else f"exit code {os.WEXITSTATUS(status)}")
        for i, item in enumerate(worker.shard[worker.finished:]):
            text = (f"the worker running this test died ({why})" if i == 0
                    else f"not run: its worker died ({why}) in {worker.shard[worker.finished].nodeid}")
            report = TestReport(item.nodeid, item.location, {}, "failed", text, "call")
            config.hook.pytest_runtest_logreport(report=report)
            config.hook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
