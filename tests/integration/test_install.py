"""`cmake --install` puts a working ltest, its runtime, the IPython extension
and bash completion where they are found (issue 7)."""
import os
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, Server, write_files


@pytest.fixture(scope="module")
def prefix(tmp_path_factory):
    build = os.environ.get("LTEST_BUILD_DIR", str(ROOT / "build"))
    prefix = tmp_path_factory.mktemp("prefix")
    r = subprocess.run(["cmake", "--install", build, "--prefix", str(prefix)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    return prefix


def test_installed_binary_finds_its_installed_runtime(prefix, tmp_path, monkeypatch):
    monkeypatch.delenv("LTEST_SHARE_DIR", raising=False)
    monkeypatch.setenv("LTEST_BIN", str(prefix / "bin" / "ltest"))
    server = Server(tmp_path)
    server.env.pop("LTEST_SHARE_DIR", None)
    server.start()
    try:
        assert server.proc.poll() is None, server.log.read_text()
        proj = write_files(tmp_path / "proj", {"test_x.py": "import ltest\ndef test_x(): assert ltest.__file__\n"})
        r = server.run("-q", "-p", "no:cacheprovider", cwd=proj,
                       env={"PYTHONPATH": str(next(prefix.glob("lib/python3*/dist-packages")))})
        assert r.returncode == 0, r.stdout + r.stderr
        # The kernel loaded the runtime from the installed share dir, not the source tree.
        kernel = Path(server.status()["connection_file"])
        assert kernel.exists()
    finally:
        server.stop()


def test_load_ext_finds_the_installed_package(prefix):
    site = next(prefix.glob("lib/python3*/dist-packages"))
    assert site.name == "dist-packages" and (site / "ltest" / "in_kernel" / "magic.py").exists()
    r = subprocess.run(["/usr/bin/python3", "-c", "import ltest, sys; print(ltest.__file__); "
                        "from IPython.testing.globalipapp import start_ipython; ip = start_ipython(); "
                        "ip.run_line_magic('load_ext', 'ltest'); print('ltest' in ip.magics_manager.magics['line'])"],
                       env=dict(os.environ, PYTHONPATH=str(site)), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].startswith(str(site)) and r.stdout.rstrip().endswith("True")


def test_bash_completion_offers_ltest_flags(prefix):
    script = prefix / "share" / "bash-completion" / "completions" / "ltest"
    r = subprocess.run(["bash", "-c", f"source {script}; COMP_WORDS=(ltest --st); COMP_CWORD=1; _ltest; "
                        "echo ${COMPREPLY[@]}"], capture_output=True, text=True)
    assert r.returncode == 0 and set(r.stdout.split()) == {"--status", "--stop"}
