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
