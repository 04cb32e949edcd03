"""A test sees no run request (forget_request.py): the client's environment
is in os.environ, as cold, and nowhere else, neither in the locals of the
frames above pytest.main (inspect.stack()) nor in gc.get_objects(); against
a cold `python -m pytest`, in a spare prepared for the run and in one that
is not."""
import json
import subprocess
import time

import pytest

from conftest import PYTHON, ltest_binary, write_files
from fidelity_helpers import client_env
from fidelity_helpers import server  # noqa: F401 (the module-scoped fixture)

MARK = "ltest-marker-7f3a9c"
PROBE = {"test_sees.py": """
    import gc, inspect, json, os

    MARK = os.environ["LTEST_PROBE_MARK"]

    def holds(value, depth=0):
        if isinstance(value, (str, bytes)):
            return MARK in (value if isinstance(value, str) else value.decode("latin-1"))
        if depth < 3 and isinstance(value, dict):
            return any(holds(k, depth + 1) or holds(v, depth + 1) for k, v in list(value.items()))
        if depth < 3 and isinstance(value, (list, tuple)):
            return any(holds(v, depth + 1) for v in value)
        return False

    def test_no_request_in_sight():
        environ_data = os.environ._data
        frames = sorted({f"{os.path.basename(f.filename)}:{f.function}:{name}"
                         for f in inspect.stack() for name, value in f.frame.f_locals.items()
                         if value is not environ_data and holds(value)})
        containers = [sorted(str(k) for k in o)[:3] for o in gc.get_objects()
                      if isinstance(o, dict) and o is not environ_data and o is not globals()
                      and any(isinstance(v, str) and v == MARK for v in list(o.values()))]
        requests = [sorted(o) for o in gc.get_objects()
                    if isinstance(o, dict) and isinstance(o.get("env"), dict) and "LTEST_PROBE_MARK" in o["env"]]
        print("SEEN " + json.dumps({"frames": frames, "env_copies": containers, "requests": requests}))
"""}
ARGS = ("-q", "-s", "-p", "no:cacheprovider")
PAUSES = (0.3, 0.6, 1, 2, 4, 8, 16)


def seen(output):
    lines = [l for l in output.splitlines() if l.startswith("SEEN ")]
    assert len(lines) == 1, output
    return json.loads(lines[0][len("SEEN "):])


def test_no_frame_or_object_holds_the_request(server, tmp_path):
    root = write_files(tmp_path / "p", PROBE)
    env = client_env(server, LTEST_PROBE_MARK=MARK)
    c = subprocess.run([PYTHON, "-m", "pytest", *ARGS], cwd=root, env=env, capture_output=True, text=True,
                       timeout=120)
    expected = seen(c.stdout)
    assert expected == {"frames": [], "env_copies": [], "requests": []}, c.stdout  # the probe's premise
    for pause in PAUSES:  # unprepared first, then until a run finds its spare prepared
        time.sleep(pause)
        w = subprocess.run([ltest_binary(), "-p", str(server.port), "--json", "--", *ARGS], cwd=root, env=env,
                           capture_output=True, text=True, timeout=120)
        assert seen(w.stdout) == expected, w.stdout + w.stderr
        if json.loads(w.stdout.strip().splitlines()[-1])["prepared"]:
            return
    pytest.fail("no run found its spare prepared")
