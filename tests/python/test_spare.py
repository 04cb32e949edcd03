"""spare.py, the kernel's side of the spares, with real spares: forks of
this process (spare.prefork) whose practice is a callable of the test's,
that run real pytest runs on pipes when handed one."""
import asyncio
import os
import select
import sys
import types

import pytest

from forked import RunPipes, run_spec
from ltest.in_kernel import spare
from ltest.state import STATE

PASSING = "def test_one():\n    assert 1\n"
FAILING = "def test_one():\n    assert 0\n"


class Pool:
    """spare.py's pool for one test: spares it forked, reaped whatever happens."""

    def __init__(self):
        self.discarded = []  # pids spare.py gave up, in order
        self.ran = []  # pids that took a run

    def fork(self, practise=lambda: True, count=2):
        pids = [spare.prefork(self.discarded.append, practise) for _ in range(count)]
        assert None not in pids
        return pids

    def answered(self, s):
        """Waits for the spare's answer to its practice (or its exit), then
        lets spare.py read it."""
        assert select.select([s.sock], [], [], 60)[0], "the spare did not answer"
        s.usable()
        return s.state

    def run(self, spec, pipes):
        """Hands spec over; (the spare's state, stdout, exit code) once its run ended."""
        taken = spare.hand_over(spec, pipes.fds)
        if taken is None:
            return None
        self.ran.append(taken.pid)
        out, err, ctl, status = pipes.finish(taken.pid)
        self.ran.remove(taken.pid)
        assert status == int(ctl.split()[-1]), (ctl, err)  # the control pipe's exit code is the process's
        return taken.state, out, status

    def cleanup(self):
        spare.discard()
        for pid in self.discarded + self.ran:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


@pytest.fixture
def pool(monkeypatch):
    for name in ("prediction", "refill", "baseline_threads"):
        monkeypatch.setattr(STATE, name, None)
    assert spare._spares == []
    assert spare._runs == set(), "a run that began was never said to have ended (spare.run_ended)"
    p = Pool()
    yield p
    p.cleanup()


@pytest.fixture
def project(tmp_path):
    (tmp_path / "test_x.py").write_text(PASSING)
    # Made a minute ago: a file changed just before a preparation started
    # (coarse timestamps) ends that preparation (prepared.py).
    past = os.stat(tmp_path).st_mtime - 60
    for path in (tmp_path / "test_x.py", tmp_path):
        os.utime(path, (past, past))
    return tmp_path


@pytest.fixture
def pipes():
    """Makes a run's pipes: after the spares are forked, which must not hold
    copies of them (the run's output would never see EOF)."""
    made = []

    def make():
        made.append(RunPipes())
        return made[-1]

    yield make
    for p in made:
        p.close()


def states():
    return [s.state for s in spare._spares]


def alive(pid):
    return os.waitpid(pid, os.WNOHANG) == (0, 0)


def test_two_spares_are_forked_and_wait_for_a_run(pool):
    pids = pool.fork()
    assert all(alive(pid) for pid in pids) and spare.wanted() == 0
    assert spare.prefork(pool.discarded.append) is None  # the pool is full
    assert states() == ["waiting", "waiting"]
    spare.discard()
    assert pool.discarded == list(reversed(pids)) and spare.wanted() == 2


def test_a_spare_without_a_practice_is_unpractised_and_never_asked(pool):
    pool.fork(practise=None)
    spare.practise_next()
    assert states() == ["unpractised", "unpractised"]


def test_the_oldest_spare_practises_the_other_stays_as_forked(pool):
    pool.fork()
    spare.practise_next()
    assert states() == ["practising", "waiting"]
    spare.practise_next()  # one practises already
    assert states() == ["practising", "waiting"]
    assert pool.answered(spare._spares[0]) == "ready"
    spare.practise_next()  # one is practised and nothing is predicted: nothing to do
    assert states() == ["ready", "waiting"]


def test_a_lone_spare_does_not_practise(pool):
    pool.fork(count=1)
    spare.practise_next()
    assert states() == ["waiting"]


def test_a_run_goes_to_the_practised_spare_first_then_to_a_waiting_one(pool, project, pipes):
    ready_pid, waiting_pid = pool.fork()
    spare.practise_next()
    pool.answered(spare._spares[0])
    assert spare._spares[0].pid == ready_pid
    state, out, code = pool.run(run_spec(project), pipes())
    assert (state, code) == ("ready", 0) and "1 passed" in out
    assert [s.pid for s in spare._spares] == [waiting_pid]
    (project / "test_x.py").write_text(FAILING)
    state, out, code = pool.run(run_spec(project), pipes())
    assert (state, code) == ("waiting", 1) and "1 failed" in out
    assert spare._spares == [] and pool.discarded == []


def test_a_spare_in_the_middle_of_its_practice_is_skipped(pool, project, pipes):
    gate_r, gate_w = os.pipe()  # the practice waits on it: still practising when the run comes
    try:
        busy, other = pool.fork(practise=lambda: os.read(gate_r, 1) == b"g")
        spare.practise_next()
        state, out, code = pool.run(run_spec(project), pipes())
        assert (state, code) == ("waiting", 0)
        assert [s.pid for s in spare._spares] == [busy] and states() == ["practising"]
        os.write(gate_w, b"g")
        assert pool.answered(spare._spares[0]) == "ready"
    finally:
        os.close(gate_r)
        os.close(gate_w)


def test_a_spare_whose_practice_failed_is_dropped(pool, project, pipes):
    failed, _ = pool.fork(practise=lambda: False)
    spare.practise_next()
    assert pool.answered(spare._spares[0]) == "dead"
    assert not spare._spares[0].usable()
    state, _, code = pool.run(run_spec(project), pipes())
    assert (state, code) == ("waiting", 0) and pool.discarded == [failed]


def prepare(pool, spec):
    """The oldest of two spares prepared for spec, as after a run of it."""
    pids = pool.fork()
    STATE.prediction = spec
    spare.practise_next()
    assert states() == ["practising", "waiting"]
    assert pool.answered(spare._spares[0]) == "prepared"
    spare.practise_next()  # one is prepared: the other practises, for a run with other arguments
    assert states() == ["prepared", "practising"]
    assert pool.answered(spare._spares[1]) == "ready"
    spare.practise_next()  # nothing more to do
    assert states() == ["prepared", "ready"]
    return pids


def test_a_spare_prepared_for_the_predicted_run_takes_it(pool, project, pipes):
    spec = run_spec(project)
    prepared, waiting = prepare(pool, spec)
    state, out, code = pool.run(spec, pipes())
    assert (state, code) == ("prepared", 0) and "1 passed" in out
    assert [s.pid for s in spare._spares] == [waiting] and pool.discarded == []


def test_a_prepared_spare_is_dropped_when_the_run_differs_from_its_prediction(pool, project, pipes):
    spec = run_spec(project)
    prepared, waiting = prepare(pool, spec)
    state, out, code = pool.run({**spec, "args": spec["args"] + ["-rA"]}, pipes())
    assert (state, code) == ("ready", 0) and "PASSED test_x.py::test_one" in out  # pytest warm all the same
    assert pool.discarded == [prepared] and spare._spares == []


def test_a_preparation_answered_but_not_yet_read_takes_only_the_run_it_was_prepared_for(pool, project, pipes):
    spec = run_spec(project)
    pool.fork()
    STATE.prediction = spec
    spare.practise_next()
    preparing = spare._spares[0]
    # Its answer has come, but the kernel has not read it yet (busy with the run that comes now).
    assert select.select([preparing.sock], [], [], 60)[0] and preparing.state == "practising"
    state, out, code = pool.run({**spec, "args": spec["args"] + ["-rA"]}, pipes())
    assert (state, code) == ("waiting", 0) and "PASSED test_x.py::test_one" in out
    assert pool.discarded == [preparing.pid] and spare._spares == []


def test_a_run_with_coverage_is_not_prepared_ahead_and_the_last_runs_data_is_left_alone(pool, project, pipes):
    pytest.importorskip("pytest_cov")  # Debian's python3-pytest-cov, which tools/deps installs
    data = project / ".coverage"
    data.write_bytes(b"the last run's coverage data")
    spec = run_spec(project, args=("-q", "-p", "no:cacheprovider", "--cov=."))
    pool.fork()
    STATE.prediction = spec
    spare.practise_next()
    assert pool.answered(spare._spares[0]) == "dead"  # pytest-cov would have erased the data file
    assert data.read_bytes() == b"the last run's coverage data"
    state, out, code = pool.run(spec, pipes())
    assert (state, code) == ("waiting", 0) and "1 passed" in out and "coverage" in out


def test_an_edit_to_a_file_the_preparation_read_drops_the_prepared_spare(pool, project, pipes):
    spec = run_spec(project)
    prepared, waiting = prepare(pool, spec)
    (project / "test_x.py").write_text(FAILING)
    state, out, code = pool.run(spec, pipes())
    assert (state, code) == ("ready", 1) and "1 failed" in out  # the run sees the edit
    assert pool.discarded == [prepared]


async def until(condition):
    while not condition():
        await asyncio.sleep(0.01)  # a turn of the loop: its readers and timers run


def test_an_edit_seen_by_the_kernels_event_loop_drops_the_prepared_spare_and_prepares_again(pool, project):
    spec = run_spec(project)
    pool.fork()
    STATE.prediction = spec
    loop = asyncio.new_event_loop()
    try:
        refilled = loop.create_future()
        STATE.refill = lambda: refilled.set_result(True)
        prepared = spare._spares[0]
        spare.practise_next(loop)  # the loop reads the answer

        loop.run_until_complete(asyncio.wait_for(until(lambda: prepared.state != "practising"), 60))
        assert prepared.state == "prepared"
        (project / "test_x.py").write_text(FAILING)
        assert loop.run_until_complete(asyncio.wait_for(refilled, 60))
        assert pool.discarded == [prepared.pid] and states() in (["practising"], ["ready"])  # the other practised
    finally:
        loop.close()


def test_a_spare_whose_preparation_fails_is_dropped_by_the_kernels_event_loop_not_left_a_zombie(pool, project):
    spec = run_spec(project, args=["--no-such-option"])  # pytest's usage error: no exact preparation
    pool.fork()
    STATE.prediction = spec
    loop = asyncio.new_event_loop()
    try:
        failing = spare._spares[0]
        spare.practise_next(loop)  # the loop reads the answer: the spare's end of its socket

        loop.run_until_complete(asyncio.wait_for(until(lambda: failing not in spare._spares), 60))
        assert failing.state == "dead" and pool.discarded == [failing.pid]  # handed to the reaper
        assert not failing.edited  # nothing to prepare again: it would fail the same way
        assert states() == ["waiting"]  # the plain spare stays for the run, which reports the error
    finally:
        loop.close()


def test_a_preparation_that_an_edit_cut_short_is_prepared_again(pool, project):
    # The conftest edits itself while the preparation imports it: before the watches are set.
    (project / "conftest.py").write_text("import os\nos.utime(__file__)\n")
    refills = []
    STATE.refill = lambda: refills.append(len(spare._spares))
    pool.fork()
    STATE.prediction = run_spec(project)
    loop = asyncio.new_event_loop()
    try:
        cut = spare._spares[0]
        spare.practise_next(loop)

        loop.run_until_complete(asyncio.wait_for(until(lambda: refills), 60))
        assert cut.state == "dead" and cut.edited and pool.discarded == [cut.pid]
        assert refills == [1]  # asked once, with the plain spare still in the pool
    finally:
        loop.close()


def test_every_spare_is_discarded_once_the_kernel_imported_a_module(pool, project, pipes, monkeypatch):
    pids = pool.fork()
    monkeypatch.setitem(sys.modules, "ltest_new_in_the_kernel", types.ModuleType("ltest_new_in_the_kernel"))
    assert spare.hand_over(run_spec(project), pipes().fds) is None  # the caller forks afresh
    assert sorted(pool.discarded) == sorted(pids) and spare._spares == []


def test_a_request_too_large_for_one_message_is_forked_afresh_and_the_spares_kept(pool, project, pipes):
    pool.fork()
    spec = run_spec(project, env={"BIG": "x" * spare.MAX_SPEC})
    assert spare.hand_over(spec, pipes().fds) is None
    assert states() == ["waiting", "waiting"] and pool.discarded == []


def test_no_spare_practises_or_prepares_while_a_run_is_under_way_and_one_does_once_it_ended(pool, project):
    spec = run_spec(project)
    pool.fork()
    STATE.prediction = spec
    loop = asyncio.new_event_loop()
    run = 1 << 30  # a pid no process of this test has: only its bookkeeping is tested here
    try:
        spare.run_began(run)
        spare.practise_next(loop)  # as runner.prepare_spare asks after a hand-over
        assert states() == ["waiting", "waiting"]  # nothing competes with the run for the CPU
        spare.run_ended(run + 1)  # another process reaped: the run is still under way
        loop.run_until_complete(asyncio.sleep(spare.PRACTICE_DELAY * 2))
        assert states() == ["waiting", "waiting"]
        spare.run_ended(run)  # reaping.reap_finished: the deferred practice starts
        loop.run_until_complete(asyncio.wait_for(until(lambda: "practising" in states()), 60))
        prepared = spare._spares[0]
        loop.run_until_complete(asyncio.wait_for(until(lambda: prepared.state != "practising"), 60))
        assert prepared.state == "prepared" and prepared.prediction is not None
    finally:
        spare._runs.clear()
        spare._deferred["loop"] = None
        loop.close()
