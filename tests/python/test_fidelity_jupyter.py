"""fidelity_jupyter: which modules leave sys.modules in the test process."""
import types

from ltest.in_test_process import fidelity_jupyter


def test_the_stack_goes_and_what_preloads_hold_stays():
    modules = ["ipykernel", "ipykernel.kernelbase", "zmq.sugar", "json", "numpy", "traitlets.config", "tornadoish"]
    assert fidelity_jupyter.stack_modules(modules) == ["ipykernel", "ipykernel.kernelbase", "zmq.sugar",
                                                        "traitlets.config"]
    assert fidelity_jupyter.stack_modules(modules, keep={"traitlets"}) == ["ipykernel", "ipykernel.kernelbase",
                                                                           "zmq.sugar"]


def test_forget_drops_the_stack_and_notebook_choices_from_a_module_table():
    table = {name: types.ModuleType(name) for name in ("IPython", "IPython.core", "tqdm", "tqdm.auto", "os")}
    fidelity_jupyter.forget_jupyter(table)
    assert sorted(table) == ["os", "tqdm"]
