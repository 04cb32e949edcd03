"""sysdirs.py: where the interpreter's own modules live, and the IPython shell."""
import json
import os
import sys

import pytest

from forked import in_fork
from ltest import sysdirs


def test_system_dirs_are_real_paths_ending_in_a_separator():
    dirs = sysdirs.system_dirs()
    assert dirs and all(d.endswith(os.sep) and os.path.realpath(d) + os.sep == d for d in dirs)
    assert os.path.realpath(sys.prefix) + os.sep in dirs


def test_the_standard_library_is_the_interpreters_and_a_temporary_directory_is_not(tmp_path):
    assert os.path.realpath(json.__file__).startswith(sysdirs.system_dirs())
    assert os.path.realpath(pytest.__file__).startswith(sysdirs.system_dirs())
    assert not str(tmp_path.resolve()).startswith(sysdirs.system_dirs())


def test_the_shell_is_found_only_once_ipython_made_one(tmp_path):
    def in_child():
        os.environ["IPYTHONDIR"] = str(tmp_path)
        before = sysdirs.ipython_shell()
        from IPython.core.interactiveshell import InteractiveShell
        from traitlets.config import Config
        config = Config()
        config.HistoryManager.enabled = False
        shell = InteractiveShell.instance(config=config)
        return [before is None, sysdirs.ipython_shell() is shell]

    assert in_fork(in_child) == [True, True]
