"""import_record.py: the test process's record of the third-party modules it imports."""
import builtins
import importlib.util
import sys
import warnings

import pytest

from ltest import learned
from ltest.in_test_process import import_record


@pytest.fixture
def recording(tmp_path, monkeypatch):
    """import_record started as in a test process; yields what it saves."""
    saved = []
    monkeypatch.setattr(learned, "_file", str(tmp_path / "f.json"))
    monkeypatch.setattr(learned, "save", saved.extend)
    monkeypatch.setattr(import_record, "_finder", [])
    monkeypatch.setattr(import_record, "_records", [])
    monkeypatch.setattr(import_record, "_seen", set())
    monkeypatch.syspath_prepend(str(tmp_path))
    meta_path = list(sys.meta_path)
    import_record.start()
    yield saved
    import_record.finish()
    assert sys.meta_path == meta_path


def test_the_recorder_times_first_imports_of_third_party_top_level_names(tmp_path, recording):
    (tmp_path / "users_own.py").write_text("X = 1\n")
    for name in ("users_own", "xml", "xml.dom"):
        sys.modules.pop(name, None)
    original = builtins.__import__
    import users_own  # noqa: F401  (the user's code: never learned)
    import xml.dom  # noqa: F401  (the standard library counts as the interpreter's)
    assert builtins.__import__ is original  # nothing wraps the import
    import_record.finish()
    assert [r["module"] for r in recording] == ["xml"] and recording[0]["seconds"] >= 0
    assert type(sys.modules["xml"].__spec__) is importlib.machinery.ModuleSpec  # its own class back


def test_a_library_installed_on_pythonpath_is_third_party_and_its_neighbour_is_not(tmp_path, recording):
    """`pip install --target DIR` on PYTHONPATH (a dist-info listing its files):
    a library, learned as one; a module beside it that no dist-info lists is
    the user's own."""
    (tmp_path / "targetlib_rec.py").write_text("X = 1\n")
    (tmp_path / "beside_rec.py").write_text("X = 2\n")
    info = tmp_path / "targetlib_rec-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: targetlib_rec\nVersion: 1.0\n")
    (info / "RECORD").write_text("targetlib_rec.py,,\n")
    import targetlib_rec  # noqa: F401
    import beside_rec  # noqa: F401
    import_record.finish()
    assert [r["module"] for r in recording] == ["targetlib_rec"]


def test_importlib_import_module_is_seen_and_find_spec_is_not_an_import(tmp_path, recording):
    for name in ("xmlrpc", "xmlrpc.client", "netrc"):
        sys.modules.pop(name, None)
    spec = importlib.util.find_spec("netrc")  # a question: nothing runs, nothing recorded
    assert type(spec) is importlib.machinery.ModuleSpec
    importlib.import_module("xmlrpc.client")
    import netrc  # noqa: F401  (imported after the question: still timed)
    import_record.finish()
    names = [r["module"] for r in recording]  # xmlrpc's own imports (gzip) too, after it
    assert names[0] == "xmlrpc" and names[-1] == "netrc" and names.count("netrc") == 1
    assert all(r["seconds"] >= 0 for r in recording)


def test_a_module_its_importer_is_the_importing_frame(tmp_path, recording):
    """What a fresh process shows a module about its importer: warnings'
    stacklevel=2 lands on the import statement, no frame of ours between."""
    (tmp_path / "probe_imported.py").write_text(
        "import sys, warnings\n"
        "warnings.warn('probe', UserWarning, stacklevel=2)\n"
        "f = sys._getframe(1)\n"
        "while 'importlib' in f.f_code.co_filename and '_bootstrap' in f.f_code.co_filename:\n"
        "    f = f.f_back\n"
        "IMPORTER = f.f_code.co_name\n")
    sys.modules.pop("probe_imported", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import probe_imported
    assert probe_imported.IMPORTER == "test_a_module_its_importer_is_the_importing_frame"
    assert [w.filename for w in caught] == [__file__]


def test_a_failed_import_is_not_kept(tmp_path, recording):
    (tmp_path / "breaks_fid.py").write_text("raise RuntimeError('at import')\n")
    sys.modules.pop("breaks_fid", None)
    with pytest.raises(RuntimeError):
        import breaks_fid  # noqa: F401
    with pytest.raises(ImportError):
        import no_such_module_fid  # noqa: F401
    import_record.finish()
    assert recording == []
