"""fidelity_threads: torch limited only when the kernel has thread pools."""
import os
import types

from ltest.in_test_process import fidelity_threads


class FakeTorch(types.ModuleType):
    threads = 2

    def get_num_threads(self):
        return self.threads

    def set_num_threads(self, n):
        self.threads = n


def test_pools_are_threads_beyond_the_baseline():
    me = os.getpid()
    count = fidelity_threads.kernel_thread_count(me)
    assert count >= 1
    assert fidelity_threads.kernel_has_pools(me, baseline=count - 1)
    assert not fidelity_threads.kernel_has_pools(me, baseline=count)


def test_torch_is_limited_when_the_kernel_has_pools(monkeypatch):
    torch = FakeTorch("torch")
    monkeypatch.setattr(fidelity_threads.STATE, "baseline_threads", 0)
    note = fidelity_threads.limit_pools(os.getpid(), {"torch": torch})
    assert torch.threads == 1 and "torch limited to 1 thread" in note
    assert fidelity_threads.limit_pools(os.getpid(), {}) is None
    monkeypatch.setattr(fidelity_threads.STATE, "baseline_threads", 10_000)
    assert fidelity_threads.limit_pools(os.getpid(), {"torch": FakeTorch("torch")}) is None
