"""tree_sync.py: a kernel's copy of the project tree compared with the
client's manifest and brought up to date, on real directories (and a real
git checkout); unsafe paths refused with one line, nothing written."""
import base64
import hashlib
import os
import subprocess
import sys

import pytest

from ltest.in_kernel import preload, tree_sync
from ltest.in_kernel.result import last_result


def sha(data):
    return hashlib.sha256(data).hexdigest()


def entry(data, exec_bit=False):
    return {"sha256": sha(data), "data": base64.b64encode(data).decode(), "exec": exec_bit}


@pytest.fixture(autouse=True)
def no_root_variable(monkeypatch):
    monkeypatch.delenv(tree_sync.ROOT_VARIABLE, raising=False)


def make(root, files):
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def test_the_walk_skips_pytests_norecursedirs_caches_and_virtualenvs(tmp_path):
    make(tmp_path, {"pkg/mod.py": b"x = 1\n", "tests/test_a.py": b"", ".coveragerc": b"",
                    ".git/config": b"", ".tox/x.py": b"", "build/lib/x.py": b"", "dist/x.whl": b"",
                    "node_modules/x.js": b"", "venv/lib/x.py": b"", "pkg/__pycache__/mod.cpython-311.pyc": b"",
                    "pkg/old.pyc": b"", "a.egg-info/PKG-INFO": b"", "env2/pyvenv.cfg": b"", "env2/lib/x.py": b"",
                    "pkg/.ltest-sync-abc": b""})
    assert tree_sync.list_tree(str(tmp_path)) == [".coveragerc", "pkg/mod.py", "tests/test_a.py"]


def test_a_git_checkout_lists_tracked_and_untracked_files_git_does_not_ignore(tmp_path):
    make(tmp_path, {"tracked.py": b"1", ".gitignore": b"ignored.py\n", "ignored.py": b"", "new.py": b"",
                    "sub/deep.py": b""})
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "add", "tracked.py", ".gitignore"], check=True)
    (tmp_path / "tracked.py").write_bytes(b"changed, not committed")
    assert tree_sync.list_tree(str(tmp_path)) == [".gitignore", "new.py", "sub/deep.py", "tracked.py"]
    # Listed from a subdirectory's root: that directory's files, relative to it.
    assert tree_sync.list_tree(str(tmp_path / "sub")) == ["deep.py"]


def test_compare_names_missing_changed_and_extra_files(tmp_path):
    client = {"same.py": b"same", "changed.py": b"new", "missing/m.py": b"m"}
    make(tmp_path, {"same.py": b"same", "changed.py": b"old", "extra.py": b"gone on the client"})
    reply = tree_sync.compare({"root": str(tmp_path), "files": {k: sha(v) for k, v in client.items()}})
    assert reply["differ"] == ["changed.py", "missing/m.py"]
    assert reply["extra"] == ["extra.py"]
    assert reply["unsafe"] is None and reply["root"] == str(tmp_path)
    assert last_result() is reply  # what the server reads back through user_expressions


def test_write_brings_the_tree_up_to_date_atomically_and_a_second_compare_finds_nothing(tmp_path):
    make(tmp_path, {"changed.py": b"old", "extra.py": b"x", "run.sh": b"old"})
    client = {"changed.py": b"new", "missing/m.py": b"m", "run.sh": b"#!/bin/sh\n"}
    old_inode = os.stat(tmp_path / "changed.py").st_ino
    reply = tree_sync.write({"root": str(tmp_path),
                             "files": {"changed.py": entry(b"new"), "missing/m.py": entry(b"m"),
                                       "run.sh": entry(b"#!/bin/sh\n", exec_bit=True)},
                             "delete": ["extra.py"]})
    assert reply["error"] is None
    assert reply["written"] == ["changed.py", "missing/m.py", "run.sh"] and reply["deleted"] == ["extra.py"]
    assert (tmp_path / "changed.py").read_bytes() == b"new"
    assert os.stat(tmp_path / "changed.py").st_ino != old_inode  # a new file renamed over the old one
    assert os.access(tmp_path / "run.sh", os.X_OK)
    assert not (tmp_path / "extra.py").exists()
    assert not [p for p in tmp_path.rglob(".ltest-sync-*")]
    again = tree_sync.compare({"root": str(tmp_path), "files": {k: sha(v) for k, v in client.items()}})
    assert again["differ"] == [] and again["extra"] == []


def test_content_that_does_not_have_its_hash_is_refused_and_nothing_is_written(tmp_path):
    bad = entry(b"what the manifest named")
    bad["data"] = base64.b64encode(b"something else").decode()
    reply = tree_sync.write({"root": str(tmp_path), "files": {"a.py": entry(b"a"), "b.py": bad}, "delete": []})
    assert "does not have its sha256" in reply["error"] and "'b.py'" in reply["error"]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("rel, why", [
    ("/etc/passwd", "an absolute path"),
    ("../outside.py", "'..' in the path"),
    ("pkg/../../outside.py", "'..' in the path"),
    ("pkg//x.py", "not a normal relative path"),
])
def test_unsafe_paths_are_refused_with_one_line(tmp_path, rel, why):
    root = tmp_path / "root"
    root.mkdir()
    reply = tree_sync.write({"root": str(root), "files": {"ok.py": entry(b"ok"), rel: entry(b"bad")}, "delete": []})
    assert reply["error"].endswith(why) and "\n" not in reply["error"] and repr(rel) in reply["error"]
    assert list(root.iterdir()) == []  # not even the safe file
    cmp = tree_sync.compare({"root": str(root), "files": {rel: sha(b"bad")}})
    assert cmp["unsafe"].endswith(why)


def test_a_symlink_leading_out_of_the_root_is_refused_one_inside_is_followed(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "inner").mkdir(parents=True)
    outside.mkdir()
    (root / "out").symlink_to(outside)
    (root / "alias").symlink_to(root / "inner")
    reply = tree_sync.write({"root": str(root), "files": {"out/evil.py": entry(b"x")}, "delete": []})
    assert "a symlink on the way leads out of the project root" in reply["error"]
    assert list(outside.iterdir()) == []
    reply = tree_sync.write({"root": str(root), "files": {"alias/fine.py": entry(b"y")}, "delete": []})
    assert reply["error"] is None and (root / "inner" / "fine.py").read_bytes() == b"y"
    # Deleting through it is refused too.
    (outside / "keep.py").write_bytes(b"k")
    reply = tree_sync.write({"root": str(root), "files": {}, "delete": ["out/keep.py"]})
    assert reply["error"] and (outside / "keep.py").exists()


def test_the_kernel_says_where_its_tree_is(tmp_path, monkeypatch):
    there = tmp_path / "there"
    monkeypatch.setenv(tree_sync.ROOT_VARIABLE, str(there))
    reply = tree_sync.write({"root": "/the/clients/root", "files": {"a.py": entry(b"a")}, "delete": []})
    assert reply["error"] is None and (there / "a.py").read_bytes() == b"a"
    assert tree_sync.compare({"root": "/the/clients/root", "files": {"a.py": sha(b"a")}})["root"] == str(there)


def test_a_module_imported_from_a_file_that_changed_is_named(tmp_path, monkeypatch):
    make(tmp_path, {"tree_sync_probe_mod.py": b"VALUE = 1\n"})
    monkeypatch.syspath_prepend(str(tmp_path))
    import tree_sync_probe_mod  # noqa: F401
    try:
        reply = tree_sync.write({"root": str(tmp_path), "files": {"tree_sync_probe_mod.py": entry(b"VALUE = 2\n")},
                                 "delete": []})
        assert reply["stale_modules"] == ["tree_sync_probe_mod"]
        # A preloaded package of the user's own is imported afresh by each
        # test process: no fresh kernel for it.
        monkeypatch.setattr(preload, "_own_roots", {"tree_sync_probe_mod"})
        reply = tree_sync.write({"root": str(tmp_path), "files": {"tree_sync_probe_mod.py": entry(b"VALUE = 3\n")},
                                 "delete": []})
        assert reply["error"] is None and reply["stale_modules"] == []
    finally:
        sys.modules.pop("tree_sync_probe_mod", None)


def test_a_files_hash_is_read_again_only_when_its_stat_changes(tmp_path):
    path = tmp_path / "f.py"
    path.write_bytes(b"one")
    assert tree_sync.file_hash(str(path)) == sha(b"one")
    st = os.stat(path)
    path.write_bytes(b"two")  # same size; the mtime is put back: the cache answers
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    if os.stat(path).st_ino == st.st_ino:
        assert tree_sync.file_hash(str(path)) == sha(b"one")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    assert tree_sync.file_hash(str(path)) == sha(b"two")


def test_a_compare_of_what_changed_looks_only_at_those_files(tmp_path):
    make(tmp_path, {"same.py": b"s", "changed.py": b"old", "removed.py": b"r", "unlisted.py": b"u"})
    reply = tree_sync.compare({"root": str(tmp_path), "files": {"changed.py": sha(b"new"), "same.py": sha(b"s")},
                               "removed": ["removed.py", "never_there.py"]})
    # unlisted.py is not looked at: the server's memory says the kernel's copy is the client's but these.
    assert reply["differ"] == ["changed.py"] and reply["extra"] == ["removed.py"]


def test_files_sent_at_once_are_written_only_where_they_differ(tmp_path):
    # The shared-checkout case: the host's file is the client's own, already edited.
    make(tmp_path, {"edited.py": b"new", "stale.py": b"old"})
    inode = os.stat(tmp_path / "edited.py").st_ino
    reply = tree_sync.write({"root": str(tmp_path), "if_differs": True, "delete": ["already_gone.py"],
                             "files": {"edited.py": entry(b"new"), "stale.py": entry(b"fresh")}})
    assert reply["error"] is None and reply["written"] == ["stale.py"] and reply["deleted"] == []
    assert os.stat(tmp_path / "edited.py").st_ino == inode  # not rewritten
    assert (tmp_path / "stale.py").read_bytes() == b"fresh"
    assert reply["root"] == str(tmp_path)


def test_files_the_client_lacks_are_deleted_only_in_a_copy_listed_alike_or_ltests_own(tmp_path):
    # A shared checkout the client lists with git and this host walks (no git
    # here): a file git ignores is not the client's, and must stay.
    make(tmp_path, {"a.py": b"a", "local_settings.py": b"ignored by the client's .gitignore"})
    request = {"root": str(tmp_path), "files": {"a.py": sha(b"a")}, "listing": "git"}
    assert tree_sync.compare(request)["extra"] == []
    assert tree_sync.compare(dict(request, listing="walk"))["extra"] == ["local_settings.py"]
    # A copy ltest wrote into is ltest's: its extra files go.
    tree_sync.write({"root": str(tmp_path), "files": {"b.py": entry(b"b")}, "delete": []})
    assert (tmp_path / tree_sync.MARKER).exists()
    assert tree_sync.MARKER not in tree_sync.list_tree(str(tmp_path))
    assert tree_sync.compare(dict(request, files={"a.py": sha(b"a"), "b.py": sha(b"b")}))["extra"] == \
        ["local_settings.py"]
