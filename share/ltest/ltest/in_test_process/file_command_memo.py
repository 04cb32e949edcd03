"""The `file` command's answer on the interpreter, asked once per spare.

platform.architecture() runs `file -b` on sys.executable: a subprocess
that pytest-benchmark's pytest_configure starts in every session. A
prepared spare asks it ahead; during its run's `pytest_configure` only,
platform._syscmd_file gives that answer for that question while the
interpreter's file and PATH are what they were. Before and after configure
(in the tests) platform is untouched.
"""
import os
import platform
import sys

from ..private_api import pytest_api


class Memo:
    def __init__(self):
        self.key = _key(sys.executable)
        self.answer = platform._syscmd_file(sys.executable, "")

    def during(self, body):
        """body(), with the answer given."""
        original = platform._syscmd_file

        def syscmd_file(target, default=""):
            if target == sys.executable and default == "" and _key(target) == self.key:
                return self.answer
            return original(target, default)

        platform._syscmd_file = syscmd_file
        try:
            return body()
        finally:
            platform._syscmd_file = original


def _key(target):
    try:
        real = os.path.realpath(target)
        st = os.stat(real)
    except OSError:
        return None
    return real, st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size, os.environ.get("PATH")


def ask_ahead():
    """A Memo, or None where platform is not the one this mirrors."""
    if not callable(getattr(platform, "_syscmd_file", None)):
        return None
    memo = Memo()
    return memo if memo.key is not None else None


def use_during_configure(config, memo):
    """config's next `_do_configure` runs with memo's answer."""
    if memo is None:
        return
    pytest_api.around_next_configure(config, memo.during)
