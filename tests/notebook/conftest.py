"""Real kernels for the `%ltest` magic tests.

Each kernel is the ipykernel of the interpreter that runs these tests (the
stack under test: Debian's /usr/bin/python3, or the newest stack's
virtualenv, as ctest runs them with LTEST_PYTHON=$(tools/stack-newest)),
started from a private `python3` kernelspec in a temp dir, with its own
Jupyter runtime dir and IPython dir, and ltest's runtime (share/ltest) on its
PYTHONPATH, as `%load_ext ltest` finds it once installed. Every kernel a test
starts is shut down, whatever the outcome.
"""
import json
import os
import sys
from pathlib import Path

import pytest

SHARE_DIR = os.environ.get("LTEST_SHARE_DIR") or str(Path(__file__).resolve().parents[2] / "share" / "ltest")

if SHARE_DIR not in sys.path:  # the pure parts of ltest.magic are tested in this process too
    sys.path.insert(0, SHARE_DIR)


@pytest.fixture
def kernel_env(tmp_path, monkeypatch):
    """Environment for a kernel (and for this process's jupyter_client)."""
    runtime = tmp_path / "runtime"
    spec_dir = tmp_path / "jupyter" / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (ltest tests)",
        "language": "python",
    }))
    # jupyter_client reads these in this process: connection files and kernelspecs.
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    env = dict(os.environ)
    env.update({
        "PYTHONPATH": os.pathsep.join(p for p in [SHARE_DIR, env.get("PYTHONPATH", "")] if p),
        "IPYTHONDIR": str(tmp_path / "ipython"),
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("PYTEST_CURRENT_TEST", None)
    return env


@pytest.fixture
def workdir(tmp_path):
    """The kernel's working directory: where the notebook's test files go."""
    d = tmp_path / "work"
    d.mkdir()
    return d


@pytest.fixture
def kernel(kernel_env, workdir):
    """(KernelManager, started BlockingKernelClient) of a fresh kernel in `workdir`."""
    from jupyter_client.manager import KernelManager
    km = KernelManager(kernel_name="python3")
    kc = None
    try:
        km.start_kernel(env=kernel_env, cwd=str(workdir))
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        yield km, kc
    finally:
        if kc is not None:
            kc.stop_channels()
        if km.has_kernel:
            km.shutdown_kernel(now=True)
