"""file_command_memo.py: platform.architecture() during configure gets the
`file` command's answer asked ahead, while the interpreter and PATH are
unchanged; outside configure, platform is untouched."""
import os
import platform
import sys

from ltest.in_test_process import file_command_memo


class _Config:
    """What use_during_configure needs of pytest's Config: its _do_configure."""

    def __init__(self):
        self.seen = {}

    def _do_configure(self):
        self.seen["arch"] = platform.architecture()
        self.seen["other"] = platform._syscmd_file("/bin/sh", "")


def test_configure_gets_the_answer_asked_ahead_and_platform_is_restored(monkeypatch):
    memo = file_command_memo.ask_ahead()
    assert memo is not None
    original = platform._syscmd_file
    asked = []

    def counting(target, default=""):
        asked.append(target)
        return original(target, default)

    monkeypatch.setattr(platform, "_syscmd_file", counting)
    config = _Config()
    file_command_memo.use_during_configure(config, memo)
    config._do_configure()
    assert asked == ["/bin/sh"]  # the interpreter's answer came from the memo
    assert config.seen["arch"] == platform.architecture()  # and it is the answer asking now gives
    assert asked == ["/bin/sh", sys.executable]
    assert platform._syscmd_file is counting
    assert "_do_configure" not in vars(config)  # once only: the class's method again


def test_another_path_gets_the_command_run_again(monkeypatch):
    memo = file_command_memo.ask_ahead()
    monkeypatch.setenv("PATH", os.environ.get("PATH", "") + ":/nonexistent")
    asked = []
    monkeypatch.setattr(platform, "_syscmd_file", lambda target, default="": asked.append(target) or "ELF")
    assert memo.during(lambda: platform._syscmd_file(sys.executable, "")) == "ELF"
    assert asked == [sys.executable]
