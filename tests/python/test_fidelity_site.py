"""fidelity_site: .pth files and site directories that changed since the kernel started."""
import sys

from ltest.in_test_process import fidelity_site


def test_new_and_changed_pth_files_are_found(tmp_path):
    site_dir = tmp_path / "site"
    missing = tmp_path / "user-site"
    site_dir.mkdir()
    (site_dir / "old.pth").write_text("")
    before = fidelity_site.snapshot([str(site_dir), str(missing)])
    assert fidelity_site.changed_pth_files(before, fidelity_site.snapshot(list(before))) == {}
    (site_dir / "new.pth").write_text("")
    missing.mkdir()
    (missing / "a.pth").write_text("")
    assert fidelity_site.changed_pth_files(before, fidelity_site.snapshot(list(before))) == {
        str(site_dir): ["new.pth"], str(missing): ["a.pth"]}


def test_a_new_pth_file_puts_its_directory_on_sys_path(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))
    site_dir, lib = tmp_path / "site", tmp_path / "lib"
    site_dir.mkdir()
    lib.mkdir()
    before = fidelity_site.snapshot([str(site_dir)])
    (site_dir / "late.pth").write_text(f"{lib}\n")
    assert fidelity_site.see_new_installs(before) == {str(site_dir): ["late.pth"]}
    assert sys.path[-2:] == [str(site_dir), str(lib)]
