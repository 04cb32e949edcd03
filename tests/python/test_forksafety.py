"""forksafety.py: whether forking now may hang the test process, with real
threads (the libraries it looks for are stood in for by modules of their shape)."""
import os
import sys
import threading
import time
import types

import pytest

from forked import in_fork
from ltest.in_kernel import forksafety
from ltest.state import STATE


@pytest.fixture
def thread():
    """Starts a thread that runs until the test ends."""
    stop = threading.Event()
    started = []

    def start():
        t = threading.Thread(target=stop.wait, daemon=True)
        t.start()
        started.append(t)

    yield start
    stop.set()
    for t in started:
        t.join()


def test_a_fork_holds_only_the_thread_that_forked():
    assert in_fork(forksafety.thread_count) == 1


def test_threads_are_counted_by_the_kernel_not_by_python(thread):
    before = forksafety.thread_count()
    thread()
    assert forksafety.thread_count() == before + 1


def test_threads_started_after_the_baseline_make_forking_unsafe(thread, monkeypatch):
    monkeypatch.setattr(STATE, "baseline_threads", None)
    thread()
    assert forksafety.unsafe_reasons() == []  # no baseline yet: threads at warm-up are expected
    forksafety.mark_baseline()
    assert forksafety.unsafe_reasons() == []
    thread()
    thread()
    [reason] = forksafety.unsafe_reasons()
    assert reason.startswith("2 thread(s) started in the kernel since warm-up")


def test_a_thread_started_after_one_of_the_baselines_ended_makes_forking_unsafe():
    """Counted, the two cancel out (ipykernel 7's kernel loses a thread after
    warm-up; then a parallel torch op starts OpenMP's worker): by id they do
    not. In a fork, where this is the only thread: no other can come or go."""
    def scenario():
        stop_first, stop_second = threading.Event(), threading.Event()
        ids = []
        first = threading.Thread(target=lambda: (ids.append(threading.get_native_id()), stop_first.wait()),
                                 daemon=True)
        first.start()
        while not ids:
            time.sleep(0.01)
        forksafety.mark_baseline()
        stop_first.set()
        first.join()
        # Its exit ends in the kernel after join returns: gone from /proc, then the next.
        for _ in range(1000):
            if str(ids[0]) not in os.listdir("/proc/self/task"):
                break
            time.sleep(0.01)
        second = threading.Thread(target=stop_second.wait, daemon=True)
        second.start()
        try:
            return [forksafety.thread_count() - STATE.baseline_threads, forksafety.unsafe_reasons()]
        finally:
            stop_second.set()
            second.join()
    [grown, [reason]] = in_fork(scenario)
    assert grown == 0 and reason.startswith("1 thread(s) started in the kernel since warm-up"), (grown, reason)


def torch_like(initialised):
    def is_initialized():
        if initialised is None:
            raise RuntimeError("a torch built without CUDA")
        return initialised
    return types.SimpleNamespace(cuda=types.SimpleNamespace(is_initialized=is_initialized))


@pytest.mark.parametrize("initialised, expected", [
    (True, ["CUDA is initialised in the kernel"]), (False, []), (None, []),
])
def test_cuda_initialised_in_the_kernel_makes_forking_unsafe(monkeypatch, initialised, expected):
    monkeypatch.setattr(STATE, "baseline_threads", None)
    monkeypatch.setitem(sys.modules, "torch", torch_like(initialised))
    assert forksafety.unsafe_reasons() == expected


def test_a_jax_backend_makes_forking_unsafe(monkeypatch):
    monkeypatch.setattr(STATE, "baseline_threads", None)
    bridge = types.SimpleNamespace(_backends={})
    monkeypatch.setitem(sys.modules, "jax._src.xla_bridge", bridge)
    assert forksafety.unsafe_reasons() == []
    bridge._backends["cpu"] = object()
    assert forksafety.unsafe_reasons() == ["a JAX backend is initialised in the kernel"]
