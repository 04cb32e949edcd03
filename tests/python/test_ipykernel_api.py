"""private_api/ipykernel_api.py: the input() and getpass a kernel's cell
replaced, as ipykernel keeps them (probed on this stack's ipykernel)."""
import types

import ipykernel.ipkernel  # noqa: F401  (what a kernel has imported)

from ltest.private_api import ipykernel_api


def test_this_stacks_ipykernel_keeps_what_a_cell_replaced():
    assert ipykernel_api._probe_input() is None
    assert ipykernel_api.probe_all()["input() and getpass as a plain python's in a test process"] is None


def test_input_before_the_cell_is_the_kernels_saved_pair():
    kernel = types.SimpleNamespace(_sys_raw_input=input, _save_getpass=len)
    assert ipykernel_api.input_before_the_cell(kernel) == (input, len)
    assert ipykernel_api.input_before_the_cell(types.SimpleNamespace()) == (None, None)  # no cell ran yet
    assert ipykernel_api.input_before_the_cell(None) == (None, None)
