"""child.py's pure parts: the sys.path `python -m pytest` would have."""
from ltest.in_test_process import child


def test_sys_path_is_cwd_then_pythonpath_then_the_interpreters():
    base = ["/usr/lib/python311.zip", "/usr/lib/python3.11", "/usr/lib/python3/dist-packages"]
    path = child.pytest_sys_path("/proj", {"PYTHONPATH": "src:/abs/lib"}, base=base)
    assert path == ["/proj", "/proj/src", "/abs/lib"] + base


def test_sys_path_does_not_repeat_entries():
    path = child.pytest_sys_path("/proj", {}, base=["/proj", "/usr/lib/python3.11"])
    assert path == ["/proj", "/usr/lib/python3.11"]
