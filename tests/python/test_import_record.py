"""import_record.py: the test process's record of the third-party modules it imports."""
import builtins
import sys

from ltest import learned
from ltest.in_test_process import import_record


def test_the_recorder_times_first_imports_of_third_party_top_level_names(tmp_path, monkeypatch):
    saved = []
    monkeypatch.setattr(learned, "_file", str(tmp_path / "f.json"))
    monkeypatch.setattr(learned, "save", saved.extend)
    monkeypatch.setattr(import_record, "_original_import", None)
    monkeypatch.setattr(import_record, "_records", [])
    monkeypatch.setattr(import_record, "_seen", set())
    (tmp_path / "users_own.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("users_own", "xml", "xml.dom"):
        sys.modules.pop(name, None)
    original = builtins.__import__
    import_record.start()
    try:
        import users_own  # noqa: F401  (the user's code: never learned)
        import xml.dom  # noqa: F401  (the standard library counts as the interpreter's)
    finally:
        import_record.finish()
    assert builtins.__import__ is original
    assert [r["module"] for r in saved] == ["xml"] and saved[0]["seconds"] >= 0
