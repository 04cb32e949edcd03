"""fidelity_preload: what preloading records."""
import types
import warnings

from ltest.in_test_process import fidelity_import_warnings
from ltest.in_kernel import fidelity_preload


def test_a_module_holding_part_of_the_stack_keeps_all_of_it():
    holder = types.ModuleType("holder")
    holder.get_ipython = types.SimpleNamespace(__module__="IPython.core.getipython")
    plain = types.ModuleType("plain")
    plain.json = __import__("json")
    assert fidelity_preload.stack_packages_held([plain]) == set()
    held = fidelity_preload.stack_packages_held([plain, holder])
    assert {"IPython", "traitlets", "zmq"} <= held


def test_an_instance_of_a_stack_class_does_not_keep_the_stack():
    """sympy's strategies.core does `from sys import stdout` at import: in the
    kernel, ipykernel's OutStream. Its class is the stack's; the module holds
    no part of the stack a test process would import."""
    OutStream = type("OutStream", (), {"__module__": "ipykernel.iostream"})
    holder = types.ModuleType("sympy_like")
    holder.stdout = OutStream()
    assert fidelity_preload.stack_packages_held([holder]) == set()
    holder.OutStream = OutStream  # the class itself does
    assert "ipykernel" in fidelity_preload.stack_packages_held([holder])


class _LazyLoader(types.ModuleType):
    """A module whose attributes raise, as TensorFlow 2.21's keras lazy loader does."""

    def __getattribute__(self, name):
        raise AttributeError(f"`{name}` is not available with Keras 3.")


def test_a_lazy_loader_that_raises_for_its_name_is_not_the_stack():
    holder = types.ModuleType("tf_like")
    holder.keras = _LazyLoader("keras")
    holder.get_ipython = types.SimpleNamespace(__module__="IPython.core.getipython")
    assert fidelity_preload.stack_packages_held([types.ModuleType("only_lazy")]) == set()
    only_lazy = types.ModuleType("only_lazy")
    only_lazy.keras = _LazyLoader("keras")
    assert fidelity_preload.stack_packages_held([only_lazy]) == set()
    assert "IPython" in fidelity_preload.stack_packages_held([holder])


def test_warnings_are_recorded_and_filters_the_imports_add_stay(monkeypatch):
    monkeypatch.setattr(fidelity_import_warnings, "_recorded", [])
    filters = list(warnings.filters)
    try:
        with fidelity_preload.recording():
            exec(compile("import warnings\nwarnings.filterwarnings('ignore', message='fid-added')\n"
                         "warnings.warn('fid-recorded', DeprecationWarning)\n", "fidmod.py", "exec"),
                 {"__name__": "fidmod"})
        assert warnings.filters[0][1].pattern == "fid-added"
        assert [(w[1], w[4]) for w in fidelity_import_warnings.recorded()] == [("fid-recorded", ("fidmod",))]
    finally:
        warnings.filters[:] = filters


def test_a_library_a_preload_holds_is_found_and_one_it_does_not_is_not():
    import json as json_module
    holder = types.ModuleType("holder")
    holder.loads = json_module.loads
    assert fidelity_preload.packages_held([holder], ("json", "psutil")) == {"json"}
    assert fidelity_preload.packages_held([types.ModuleType("plain")], ("json",)) == set()
