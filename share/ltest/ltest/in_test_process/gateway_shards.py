"""`ltest -n` on a server with several gateway kernels: one run per kernel,
the tests handed out by the server in small batches to whichever kernel
asks next (work stealing), one report.

Every kernel's test process collects the session (so it has the items to
fork from) and forks its own workers, as shard.py's workers; each worker
is fed batches of tests through a pipe instead of a fixed slice. The
*lead* run (the client's) tells the server the collected node ids, and
feeds every report, its own workers' and those the server passes on from
the *helper* runs on the other kernels, to its own hooks: its terminal
reporter prints the one report, its session the exit code, its
--junitxml the file. Its own workers' reports go to the server too: if
the lead's kernel dies, a run on another kernel takes the lead over and
is handed every report so far first. A helper's test process only
forwards its workers' reports (as JSON, shard.py's events) and ends with
os._exit once the server has them: it writes no report, cache or junit
file of its own.

The server is reached through the kernel (child_stdin.ask_server): a
question is a JSON line, the answer another.
"""
import copy
import json
import os
import select
import signal
import sys
import time

import pytest

from ..private_api import pytest_api
from .shard import _Forwarder, report_from_json, warning_from_json, worker_messages

# How often a coordinator that has nothing else to ask still talks to the
# server: the lead to take the helpers' reports, a helper to pass its own on.
POLL_SECONDS = 0.05
# A helper's reports go out when this many wait, or at the next poll.
EVENTS_PER_MESSAGE = 200


def role_from_environment():
    """The server marks a sharded run's test process with LTEST_SHARD_ROLE
    (lead or helper) in the run's environment; a test never sees it."""
    return os.environ.pop("LTEST_SHARD_ROLE", None)


def _worker_main(session, task_r, report_w):
    """A worker: runs the batches of item indices it is sent, one item held
    back until the next batch comes (so its nextitem is the true next one
    and module fixtures are not torn down between batches); "ready", sent
    as a batch arrives, asks for the next one (so a worker never waits for
    the server's answer while it has tests); "flush" runs the held item; an
    empty batch ends it."""
    config = session.config
    pytest_api.own_capture_in_fork(config)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        config.pluginmanager.unregister(reporter)
    forwarder = _Forwarder(config, report_w)
    config.pluginmanager.register(forwarder, "ltest-shard-forwarder")
    items = session.items
    tasks = os.fdopen(task_r, "rb")
    pending = None

    def run(index, next_index):
        item = items[index]
        nextitem = items[next_index] if next_index is not None else None
        item.config.hook.pytest_runtest_protocol(item=item, nextitem=nextitem)
        return session.shouldfail or session.shouldstop

    while True:
        line = tasks.readline()
        batch = json.loads(line) if line else []
        if batch == "flush":  # no more for now: the held item runs (the lead may yet get a test run again)
            if pending is not None and run(pending, None):
                break
            pending = None
            forwarder.send({"event": "ready"})
            continue
        if batch:  # the next batch is asked for now, to come while this one runs
            forwarder.send({"event": "ready"})
        if pending is not None and run(pending, batch[0] if batch else None):
            break
        pending = None
        if not batch:
            break
        stop = False
        for index, next_index in zip(batch, batch[1:]):
            if run(index, next_index):
                stop = True
                break
        if stop:
            break
        pending = batch[-1]
    forwarder.send({"event": "done"})


def _exit_without_session_files():
    """A helper's end: no report, cache or junit file of its own (the lead
    writes them)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(0)


class _Worker:
    def __init__(self, pid, fd, task_w):
        self.pid, self.fd, self.task_w = pid, fd, task_w
        self.buffer = b""
        self.assigned = []  # node ids sent and not finished, in order
        self.idle = True    # wants a batch
        self.done = False
        self.reaped = False
        self.ended = False  # sent its empty batch
        self.holding = False  # runs its last test only when the next batch (or the word) comes

    def give(self, batch_indices, nodeids):
        self.assigned.extend(nodeids)
        self.idle = False
        self.holding = bool(batch_indices) and batch_indices != "flush"
        data = (json.dumps(batch_indices) + "\n").encode()
        try:
            while data:
                data = data[os.write(self.task_w, data):]
        except OSError:  # it died: its reports' end says so
            pass

    def end(self):
        if not self.ended:
            self.ended = True
            self.give([], [])


class GatewayShards:
    def __init__(self, role, workers, ask):
        self.role = role  # "lead" or "helper"
        self.workers = max(1, workers)
        self._ask_line = ask  # bytes -> bytes: one question to the server
        self.outgoing = []  # reports not yet sent to the server

    def ask(self, question):
        return json.loads(self._ask_line(json.dumps(question).encode()))

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session):
        config = session.config
        lead = self.role == "lead"
        unrunnable = (not session.items or config.option.collectonly
                      or (session.testsfailed and not config.option.continue_on_collection_errors))
        if lead:
            # Nothing to hand out: the helpers are told so and pytest's own loop does the rest.
            self.ask({"op": "ids", "ids": [] if unrunnable else [item.nodeid for item in session.items]})
            if unrunnable:
                return None
        index = {item.nodeid: i for i, item in enumerate(session.items)}
        self.items, self.index = session.items, index
        workers = self._fork_workers(session)
        try:
            self._loop(session, workers, index)
        finally:
            for worker in workers.values():
                if not worker.reaped:
                    os.kill(worker.pid, signal.SIGKILL)
                    os.waitpid(worker.pid, 0)
                os.close(worker.fd)
                os.close(worker.task_w)
        if lead and self.outgoing:  # the server has the whole report, should the lead die in its summary
            self.ask({"op": "reported", "events": self.outgoing})
        if not lead:
            self.ask({"op": "finished", "events": self.outgoing})
            _exit_without_session_files()
        if session.shouldfail:
            raise session.Failed(session.shouldfail)
        if session.shouldstop:
            raise session.Interrupted(session.shouldstop)
        return True

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session):
        """A helper that ends otherwise (Ctrl-C, an error in collection) writes
        no junit, cache or stepwise file either: before their sessionfinish."""
        if self.role == "helper":
            _exit_without_session_files()

    def _fork_workers(self, session):
        workers = {}
        for _ in range(min(self.workers, max(1, len(session.items)))):
            r, w = os.pipe()
            task_r, task_w = os.pipe()
            pid = os.fork()
            if pid == 0:  # a worker: never returns
                code = 0
                try:
                    os.close(r)
                    os.close(task_w)
                    for other in workers.values():
                        os.close(other.fd)
                        os.close(other.task_w)
                    signal.signal(signal.SIGINT, signal.default_int_handler)
                    _worker_main(session, task_r, w)
                except BaseException:
                    code = 3
                finally:
                    os._exit(code)
            os.close(w)
            os.close(task_r)
            workers[r] = _Worker(pid, r, task_w)
        return workers

    def _loop(self, session, workers, index):
        config = session.config
        lead = self.role == "lead"
        open_fds = set(workers)
        dispatch_done = False  # the server has no test for us now
        all_done = False       # the lead: nothing left anywhere (a helper: dispatch_done)
        last_ask = 0.0
        while open_fds or (lead and not all_done):
            idle = [w for w in workers.values() if w.idle and not w.ended and not w.done and w.fd in open_fds]
            now = time.monotonic()
            due = now - last_ask >= POLL_SECONDS
            if ((idle and not dispatch_done) or (idle and lead and due) or (lead and not all_done and due)
                    or len(self.outgoing) >= EVENTS_PER_MESSAGE or (self.outgoing and (due or not open_fds))):
                last_ask = now
                answer = self.ask({"op": "next", "idle": len(idle), "workers": len(workers), "events": self.outgoing})
                self.outgoing = []
                batches = answer.get("batches", [])
                for worker, batch in zip(idle, batches):
                    known = [nodeid for nodeid in batch if nodeid in index]
                    for nodeid in batch:
                        if nodeid not in index:
                            self._fail(config, nodeid, f"{nodeid} was not collected on this kernel's host "
                                                       "(does its tree differ?)")
                    worker.give([index[n] for n in known], known)
                dispatch_done = answer.get("done", False) and not batches
                for msg in answer.get("events", []):
                    self._replay(config, msg)
                for note in answer.get("notes", []):
                    self._note(config, note)
                for nodeid, why in answer.get("lost", []):
                    self._fail(config, nodeid, f"not run: {why}")
                all_done = answer.get("all_done", False) if lead else dispatch_done
                if session.shouldfail or session.shouldstop:
                    self.ask({"op": "stop"})  # -x / --maxfail: the helpers get no more
                    return
            for worker in workers.values():
                if worker.idle and all_done:
                    worker.end()
                elif worker.idle and worker.holding and dispatch_done:
                    worker.give("flush", [])
            if not open_fds:
                time.sleep(POLL_SECONDS)  # the lead waits for the helpers' last reports
                continue
            ready, _, _ = select.select(list(open_fds), [], [], POLL_SECONDS)
            for fd in ready:
                worker = workers[fd]
                messages = worker_messages(worker, fd)
                if messages is None:
                    open_fds.discard(fd)
                    if not worker.done:
                        self._report_crash(config, worker)
                    continue
                for msg in messages:
                    event = msg["event"]
                    if event == "ready":
                        worker.idle = True
                        continue
                    if event == "done":
                        worker.done = True
                        continue
                    if event == "logfinish" and msg["nodeid"] in worker.assigned:
                        worker.assigned.remove(msg["nodeid"])
                    self._emit(config, msg)
                    if session.shouldfail or session.shouldstop:
                        self.ask({"op": "stop"})
                        return

    def _emit(self, config, msg):
        """A report of this kernel's: to the lead's hooks, and on to the server
        (which keeps the lead's, for a run whose lead's kernel dies: the next
        lead replays them)."""
        if self.role == "lead":
            # pytest's report_from_serializable turns the dict it is given
            # into report objects in place: the one sent must stay JSON.
            self._replay(config, copy.deepcopy(msg) if "data" in msg else msg)
        self.outgoing.append(msg)

    @staticmethod
    def _replay(config, msg):
        event = msg["event"]
        if event == "logstart":
            config.hook.pytest_runtest_logstart(nodeid=msg["nodeid"], location=tuple(msg["location"]))
        elif event == "logreport":
            config.hook.pytest_runtest_logreport(report=report_from_json(config, msg["data"]))
        elif event == "logfinish":
            config.hook.pytest_runtest_logfinish(nodeid=msg["nodeid"], location=tuple(msg["location"]))
        elif event == "warning":
            location = tuple(msg["location"]) if msg["location"] else None
            config.hook.pytest_warning_recorded.call_historic(kwargs=dict(
                warning_message=warning_from_json(msg), when=msg["when"], nodeid=msg["nodeid"], location=location))

    @staticmethod
    def _note(config, text):
        """The server's word on the run (a kernel that died: its tests ran elsewhere)."""
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_line(text, yellow=True)

    def _fail(self, config, nodeid, text):
        """A failed report of nodeid (at its item's location when collected here)."""
        from pytest import TestReport
        i = self.index.get(nodeid)
        location = self.items[i].location if i is not None else (nodeid.split("::")[0], None, nodeid)
        report = TestReport(nodeid, location, {}, "failed", text, "call")
        data = config.hook.pytest_report_to_serializable(config=config, report=report)
        for msg in ({"event": "logstart", "nodeid": nodeid, "location": list(location)},
                    {"event": "logreport", "data": data},
                    {"event": "logfinish", "nodeid": nodeid, "location": list(location)}):
            self._emit(config, msg)

    def _report_crash(self, config, worker):
        """A worker died (a segfault, os._exit): the test it ran and the rest
        of its batch fail, as shard.py reports them, never silently lost."""
        _, status = os.waitpid(worker.pid, 0)
        worker.reaped = True
        why = f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else f"exit code {os.WEXITSTATUS(status)}"
        for i, nodeid in enumerate(worker.assigned):
            text = (f"the worker running this test died ({why})" if i == 0
                    else f"not run: its worker died ({why}) in {worker.assigned[0]}")
            self._fail(config, nodeid, text)
        worker.assigned = []
