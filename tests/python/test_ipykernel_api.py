"""private_api/ipykernel_api.py: the input() and getpass a kernel's cell
replaced, as ipykernel keeps them (probed on this stack's ipykernel)."""
import types

from forked import in_fork
from ltest.private_api import ipykernel_api


def test_this_stacks_ipykernel_keeps_what_a_cell_replaced():
    def body():  # in a fork: ipykernel's imports stay out of this process (and of test_template's)
        import ipykernel.ipkernel  # noqa: F401  (what a kernel has imported)
        ipykernel_api._probe_input.cache_clear()  # a probe made here before the import said "not in a kernel"
        return ipykernel_api._probe_input(), ipykernel_api.probe_all()
    why, probes = in_fork(body)
    assert why is None
    assert probes["input() and getpass as a plain python's in a test process"] is None


def test_input_before_the_cell_is_the_kernels_saved_pair():
    kernel = types.SimpleNamespace(_sys_raw_input=input, _save_getpass=len)
    assert ipykernel_api.input_before_the_cell(kernel) == (input, len)
    assert ipykernel_api.input_before_the_cell(types.SimpleNamespace()) == (None, None)  # no cell ran yet
    assert ipykernel_api.input_before_the_cell(None) == (None, None)
