"""fidelity_checkouts: a project directory that provides an installed module."""
import types

from ltest.in_test_process import fidelity_checkouts as fc


def module(name, path):
    m = types.ModuleType(name)
    m.__file__ = path
    return m


def test_a_checkout_of_an_installed_package_shadows_it(tmp_path):
    (tmp_path / "dateutil").mkdir()
    (tmp_path / "dateutil" / "__init__.py").write_text("")
    (tmp_path / "nsonly").mkdir()  # a namespace package never wins
    (tmp_path / "json.py").write_text("")  # the standard library is not swapped
    site = str(tmp_path / "site") + "/"
    modules = {"dateutil": module("dateutil", site + "dateutil/__init__.py"),
               "dateutil.tz": module("dateutil.tz", site + "dateutil/tz.py"),
               "nsonly": module("nsonly", site + "nsonly/__init__.py"),
               "json": module("json", "/usr/lib/python3/json/__init__.py"), "pytest": module("pytest", site + "p.py")}
    assert fc.shadowed([str(tmp_path)], modules, (site,)) == {"dateutil": str(tmp_path / "dateutil")}
    assert fc.use_checkouts([str(tmp_path)], (site,), modules) == []
    assert sorted(modules) == ["json", "nsonly", "pytest"]


def test_a_checkout_of_what_the_test_process_runs_on_is_named(tmp_path):
    (tmp_path / "pluggy.py").write_text("")
    site = str(tmp_path / "site") + "/"
    modules = {"pluggy": module("pluggy", site + "pluggy/__init__.py")}
    notes = fc.use_checkouts([str(tmp_path)], (site,), modules)
    assert len(notes) == 1 and "pluggy" in notes[0] and "pluggy" in modules
