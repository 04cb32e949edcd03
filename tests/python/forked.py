"""Runs a function in a forked child of the test process, for code that
changes its process (pytest.main, spares, test processes) or must not run
inside this test's captured streams."""
import json
import os


def in_fork(fn):
    """fn() in a forked child; returns what it returned, through JSON (an
    exception in the child fails the caller's test with its repr)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.write(w, json.dumps({"value": fn()}).encode())
        except BaseException as e:
            os.write(w, json.dumps({"error": repr(e)}).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    os.waitpid(pid, 0)
    out = json.loads(data)
    assert "error" not in out, out["error"]
    return out["value"]
