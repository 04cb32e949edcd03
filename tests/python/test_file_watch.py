"""file_watch.py with real inotify: which events tell a prepared spare that
something it read changed."""
import os

import pytest

from ltest import file_watch


@pytest.fixture
def watch():
    fd = file_watch.open_watch()
    yield fd
    os.close(fd)


def touch(path, text="x = 1\n"):
    with open(path, "w") as f:
        f.write(text)


@pytest.mark.parametrize("name, kind, expected", [
    ("mod.py", "code", True), ("conftest.py", "code", True), ("pytest.ini", "code", True),
    ("ext.cpython-311-x86_64-linux-gnu.so", "code", True), ("site.pth", "code", True),
    (".mod.py.swp", "code", False), ("4913", "code", False), ("mod.py~", "code", False), ("notes.txt", "code", False),
    ("pyproject.toml", "ini", True), ("conftest.py", "ini", True), ("mod.py", "ini", False),
    ("anything", "any", True),
])
def test_an_event_matters_by_the_name_and_the_watch_kind(watch, tmp_path, name, kind, expected):
    kinds = {file_watch.add(watch, str(tmp_path)): kind}
    assert not file_watch.changed(watch, kinds)  # nothing happened yet
    touch(tmp_path / name)
    assert file_watch.changed(watch, kinds) is expected


def test_an_edit_a_rename_and_a_removal_are_each_seen(watch, tmp_path):
    touch(tmp_path / "mod.py")
    kinds = {file_watch.add(watch, str(tmp_path)): "code"}
    with open(tmp_path / "mod.py", "a") as f:
        f.write("y = 2\n")
    assert file_watch.changed(watch, kinds)
    os.rename(tmp_path / "mod.py", tmp_path / "mod.py~")  # vim's backup: the source is gone
    assert file_watch.changed(watch, kinds)
    os.unlink(tmp_path / "mod.py~")
    assert not file_watch.changed(watch, kinds)  # only the backup went


def test_the_watched_directory_itself_going_counts_as_a_change(watch, tmp_path):
    directory = tmp_path / "pkg"
    directory.mkdir()
    kinds = {file_watch.add(watch, str(directory)): "ini"}
    directory.rmdir()
    assert file_watch.changed(watch, kinds)


def test_a_directory_that_does_not_exist_cannot_be_watched(watch, tmp_path):
    with pytest.raises(OSError, match="inotify_add_watch"):
        file_watch.add(watch, str(tmp_path / "missing"))
