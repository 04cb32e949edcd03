"""A server whose environment autoloads a plugin that fails to load (as
Debian's pytest-flaky, -benchmark, -lazy-fixture and -filter-subpackage do
under pytest 9) still has practised spares for the clients that turn the
autoload off, and each run is as cold (issue 26, finding 6)."""
import json
import subprocess
import time

from conftest import ltest_binary, write_files
from fidelity_helpers import client_env, cold, normalised

# An installed plugin (a dist-info with a pytest11 entry point, on PYTHONPATH)
# that fails on every pytest.
BROKEN_PLUGIN = {
    "site/brokenplugin.py": "def pytest_configure(config):\n    raise RuntimeError('this plugin fails to load')\n",
    "site/brokenplugin-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: brokenplugin\nVersion: 1.0\n",
    "site/brokenplugin-1.0.dist-info/entry_points.txt": "[pytest11]\nbroken = brokenplugin\n",
    "site/brokenplugin-1.0.dist-info/RECORD": "brokenplugin.py,,\nbrokenplugin-1.0.dist-info/RECORD,,\n",
}


def test_clients_without_autoload_get_practised_spares(start_server, tmp_path):
    site = write_files(tmp_path, BROKEN_PLUGIN) / "site"
    server = start_server(extra_env={"PYTHONPATH": str(site)})
    root = write_files(tmp_path / "project", {"test_ok.py": "def test_ok():\n    assert True\n"})
    args = ("-q", "-p", "no:cacheprovider")
    env = client_env(server, PYTHONPATH=str(site), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    c = cold(*args, cwd=root, env=env)
    assert c.returncode == 0, c.stdout + c.stderr
    with_autoload = cold(*args, cwd=root, env=client_env(server, PYTHONPATH=str(site)))
    assert with_autoload.returncode != 0  # the plugin does fail where it loads
    reply = None
    for pause in (0.5, 1, 2, 4, 8, 16):  # idle long enough for a practice (a failed one first), on a busy machine too
        time.sleep(pause)
        w = subprocess.run([ltest_binary(), "-p", str(server.port), "--json", "--", *args], cwd=root, env=env,
                           capture_output=True, text=True, timeout=120)
        lines = w.stdout.strip().splitlines()
        reply = json.loads(lines[-1])
        assert (normalised("\n".join(lines[:-1])), w.returncode) == (normalised(c.stdout.strip()), 0), w.stderr
        if reply["practised"]:
            break
    assert reply["practised"], reply
