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


def test_a_checkout_of_a_package_installed_on_pythonpath_shadows_it(tmp_path):
    """pip install --target DIR, DIR on PYTHONPATH: outside the site
    directories, but installed (its dist-info lists it): a checkout in the
    project comes first, as cold."""
    target = tmp_path / "target"
    (target / "shadowlib_u").mkdir(parents=True)
    (target / "shadowlib_u" / "__init__.py").write_text("")
    (target / "shadowlib_u-1.0.dist-info").mkdir()
    (target / "shadowlib_u-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: shadowlib_u\nVersion: 1.0\n")
    (target / "shadowlib_u-1.0.dist-info" / "RECORD").write_text("shadowlib_u/__init__.py,,\n")
    (target / "ownlib_u").mkdir()  # no dist-info lists it: the user's own, not shadowed
    (target / "ownlib_u" / "__init__.py").write_text("")
    project = tmp_path / "project"
    for name in ("shadowlib_u", "ownlib_u"):
        (project / name).mkdir(parents=True)
        (project / name / "__init__.py").write_text("")
    modules = {name: module(name, str(target / name / "__init__.py")) for name in ("shadowlib_u", "ownlib_u")}
    site = str(tmp_path / "site") + "/"
    assert fc.shadowed([str(project), str(target)], modules, (site,)) == {"shadowlib_u": str(project / "shadowlib_u")}
