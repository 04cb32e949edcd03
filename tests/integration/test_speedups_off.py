"""`ltest --status` says which speed-ups are off on this stack and why: the
probes of private_api/ (one module per library) that failed in the kernel,
the same as the stack's python finds on its own (issue 26)."""
import json
import os
import subprocess

from conftest import PYTHON

SHARE = os.environ.get("LTEST_SHARE_DIR")


def probed_by_the_stack():
    code = "import json, sys; sys.path.insert(0, sys.argv[1]); from ltest import private_api; " \
           "print(json.dumps(private_api.speedups_off()))"
    r = subprocess.run([PYTHON, "-c", code, SHARE], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_status_names_the_speedups_off_and_why(shared_server):
    expected = probed_by_the_stack()
    assert shared_server.status()["speedups_off"] == expected
    text = shared_server.client("--status").stdout
    if expected:
        assert f"speed-ups off:   {len(expected)}" in text
        for off in expected:
            assert f"  {off['speedup']}: {off['why']}" in text
    else:
        assert "speed-ups off:   none" in text
