"""Configuration, status and stop, stale preloads, help (issue 7)."""
import json
import os
import subprocess
import sys

import pytest

from conftest import PYTHON, free_port, ltest_binary, write_files


def test_help_and_version():
    r = subprocess.run([ltest_binary(), "--help"], capture_output=True, text=True)
    assert r.returncode == 0
    for text in ("ltest -l -m torch", "ltest -- -v tests/", "--status", "--stop", "Exit codes"):
        assert text in r.stdout
    r = subprocess.run([ltest_binary(), "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("ltest ")


def test_status_and_stop_find_the_only_server_without_a_port(start_server, tmp_path):
    server = start_server(modules=["json"])
    env = dict(server.env)
    r = subprocess.run([ltest_binary(), "--status"], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert f"127.0.0.1:{server.port}" in r.stdout and "json" in r.stdout and "runs served" in r.stdout
    s = json.loads(subprocess.run([ltest_binary(), "--status", "--json"], env=env, capture_output=True,
                                  text=True).stdout)
    # No kernelspec: the kernel runs on the harness's Python, first on PATH (conftest.py).
    assert s["kernel_name"] == "" and os.path.samefile(s["python"], PYTHON) and os.path.exists(s["connection_file"])
    assert s["preloaded"][0]["module"] == "json" and s["run_in_flight"] is False
    r = subprocess.run([ltest_binary(), "--stop"], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert server.proc.wait(timeout=30) == 0
    r = subprocess.run([ltest_binary(), "--status"], env=env, capture_output=True, text=True)
    assert r.returncode == 69 and "no ltest server" in r.stderr


def test_pyproject_sets_preload_and_port_command_line_overrides(start_server, tmp_path):
    port = free_port()
    proj = write_files(tmp_path / "proj", {
        "pyproject.toml": f"""
            [tool.ltest]
            preload = ["json", "decimal"]
            port = {port}
        """,
        "sub/test_x.py": "import sys\ndef test_x(): assert 'decimal' in sys.modules\n",
    })
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"))
    server = subprocess.Popen([ltest_binary(), "-l"], cwd=proj / "sub", env=env, stderr=subprocess.PIPE, text=True,
                              start_new_session=True)
    try:
        lines = []
        for line in server.stderr:
            lines.append(line)
            if "ready on" in line:
                break
        text = "".join(lines)
        assert f"127.0.0.1:{port}" in text and "preloaded decimal" in text, text
        r = subprocess.run([ltest_binary(), "--", "-q"], cwd=proj / "sub", env=env, capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_bad_config_names_file_line_and_key(tmp_path):
    proj = write_files(tmp_path, {"pyproject.toml": "[tool.ltest]\npreload = ['json']\nbogus_key = 1\n"})
    r = subprocess.run([ltest_binary(), "--status"], cwd=proj, capture_output=True, text=True)
    assert r.returncode == 64
    assert f"{proj}/pyproject.toml:3" in r.stderr and "bogus_key" in r.stderr
    (proj / "pyproject.toml").write_text("[tool.ltest]\nport = 'x'\n")
    r = subprocess.run([ltest_binary(), "--status"], cwd=proj, capture_output=True, text=True)
    assert r.returncode == 64 and ":2" in r.stderr and "port" in r.stderr


def _user_site_enabled():
    r = subprocess.run([PYTHON, "-c", "import site; print(site.ENABLE_USER_SITE)"], capture_output=True, text=True)
    return r.stdout.strip() == "True"


@pytest.mark.parametrize("where", ["user site", "installed on PYTHONPATH"])
def test_an_edited_package_of_your_own_needs_no_restart_and_an_upgraded_library_restarts(start_server, tmp_path,
                                                                                        where):
    """Layers: the user's own preloaded package is imported afresh by each
    test process (and ahead by the prepared spare), so an edit is seen with
    the same kernel; a library (in a site directory: the user site; or
    installed, with its dist-info, in a PYTHONPATH directory) rewritten in
    place, as an upgrade does, restarts the kernel."""
    own = write_files(tmp_path / "own", {"mypkg/__init__.py": "from .core import VALUE\n",
                                          "mypkg/core.py": "VALUE = 1\n"})
    if where == "user site":
        if not _user_site_enabled():
            pytest.skip("this stack's python has no user site (a virtualenv)")
        user_base = tmp_path / "userbase"
        site_dir = user_base / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
        env = {"PYTHONPATH": str(own), "PYTHONUSERBASE": str(user_base)}
    else:
        site_dir = tmp_path / "target"
        write_files(site_dir, {"libpkg-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: libpkg\nVersion: 1.0\n",
                               "libpkg-1.0.dist-info/RECORD": "libpkg/__init__.py,,\n"})
        env = {"PYTHONPATH": os.pathsep.join([str(own), str(site_dir)])}
    write_files(site_dir, {"libpkg/__init__.py": "LIB = 1\n"})
    server = start_server(modules=["libpkg", "mypkg"], extra_env=env)
    proj = write_files(tmp_path / "proj", {"test_v.py": """
        import os, libpkg, mypkg
        def test_value():
            assert (libpkg.LIB, mypkg.VALUE) == tuple(map(int, os.environ["EXPECTED"].split(",")))
    """})
    r = server.run("-q", cwd=proj, env=dict(env, EXPECTED="1,1"))
    assert r.returncode == 0, r.stdout + r.stderr
    old_pid = server.status()["kernel_pid"]
    (own / "mypkg" / "core.py").write_text("VALUE = 2\n")
    r = server.run("-q", cwd=proj, env=dict(env, EXPECTED="1,2"))
    assert r.returncode == 0 and "restarting" not in r.stderr, r.stdout + r.stderr
    assert server.status()["kernel_pid"] == old_pid
    (site_dir / "libpkg" / "__init__.py").write_text("LIB = 2\n")
    r = server.run("-q", cwd=proj, env=dict(env, EXPECTED="2,2"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "__init__.py changed on disk; restarting the kernel" in r.stderr
    assert "restarted and preloaded in" in r.stderr
    status = server.status()
    assert status["kernel_pid"] != old_pid and status["restarts"] == 1
    # Unchanged files do not restart it again.
    r = server.run("-q", cwd=proj, env=dict(env, EXPECTED="2,2"))
    assert r.returncode == 0 and "restarting" not in r.stderr
