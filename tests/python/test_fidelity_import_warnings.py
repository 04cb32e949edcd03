"""fidelity_import_warnings: when a recorded import warning is replayed."""
import warnings

import pytest

from ltest.in_test_process import fidelity_import_warnings as fiw


def test_relative_imports_resolve_against_the_importers_package():
    assert fiw.resolve("x", {"__package__": "pkg.sub"}, 1) == "pkg.sub.x"
    assert fiw.resolve("x", {"__package__": "pkg.sub"}, 2) == "pkg.x"
    assert fiw.resolve("", {"__package__": "pkg"}, 1) == "pkg"
    assert fiw.resolve("json", None, 0) == "json"


def test_an_import_of_a_chain_module_or_below_triggers_but_a_parent_does_not():
    importers = ("mypkg", "mypkg.legacy")
    assert fiw.triggered_by(["mypkg"], importers)
    assert fiw.triggered_by(["mypkg.legacy.deep"], importers)
    assert not fiw.triggered_by(["mypkgx", "other"], importers)
    assert not fiw.triggered_by(["sklearn"], ("sklearn.linear_model",))
    assert fiw.imported_names("sklearn", None, ("linear_model", "*"), 0) == ["sklearn", "sklearn.linear_model"]


def test_warnings_of_the_kernels_own_imports_are_not_replayed():
    assert fiw.kernel_only(("torch", "tqdm.auto", "tqdm.autonotebook"))
    assert fiw.kernel_only(("ipykernel.kernelbase",))
    assert not fiw.kernel_only(("legacy",))


def test_the_replayer_warns_once_at_the_triggering_import_then_removes_itself(monkeypatch):
    import builtins
    real, calls = builtins.__import__, []

    def original(name, *args):
        calls.append(name)
        return real(name, *args)

    pending = [(DeprecationWarning, "old", "/x/legacy.py", 3, ("email",), "email", False)]
    replayer = fiw.Replayer(pending, original)
    monkeypatch.setattr(builtins, "__import__", replayer)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        replayer("json")
        assert not seen
        replayer("email")
        replayer("email")
    assert builtins.__import__ is original
    assert [(str(w.message), w.filename, w.lineno) for w in seen] == [("old", "/x/legacy.py", 3)]
    assert calls == ["json", "email", "email"]


def test_an_error_filter_makes_the_triggering_import_fail():
    replayer = fiw.Replayer([(DeprecationWarning, "old", "f.py", 1, ("legacy",), None, True)], lambda *a: None)
    replayer.original = __import__("builtins").__import__  # it must not remove a hook it never installed
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DeprecationWarning, match="old"):
            replayer("legacy")
