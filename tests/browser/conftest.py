"""A real browser on real notebook servers, for the `%ltest` magic and the Tests panel.

`lab_server`, `notebook7_server`: JupyterLab 4.6 and Notebook 7 from PyPI
(tools/lab-build's virtualenv), with ltest's prebuilt extension, on
loopback, otherwise as below.
`notebook_server`: Debian's classic notebook server (`python3 -m notebook`)
on 127.0.0.1, a free port and a random token, serving its own temp notebook
dir, with its own Jupyter runtime/config/data dirs and IPython dir, a private
`python3` kernelspec running KERNEL_PYTHON (LTEST_PYTHON, the stack under
test, else this interpreter), and ltest's runtime
(share/ltest, or LTEST_SHARE_DIR) on the kernels' PYTHONPATH.
`browser`: headless Chromium driven by Debian's selenium and chromedriver.
`artifact_dir`: where screenshots go: LTEST_ARTIFACT_DIR (ctest sets it
under the build dir) or a temp dir.

Everything started here is stopped whatever the outcome: the browser, the
server (SIGTERM, which shuts its kernels down, then SIGKILL to its process
group), and any kernel or kernel fork still alive whose command line names
this server's private runtime dir.
"""
import contextlib
import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

SHARE_DIR = os.environ.get("LTEST_SHARE_DIR") or str(Path(__file__).resolve().parents[2] / "share" / "ltest")
# The kernels' interpreter: the stack under test (LTEST_PYTHON=$(tools/stack-newest)
# ctest ...: a user's virtualenv, whose kernelspec JupyterLab runs from its own
# environment), else this one (Debian's). The servers and selenium stay this one's.
KERNEL_PYTHON = os.environ.get("LTEST_PYTHON") or sys.executable
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

_MISSING = [m for m in ("notebook", "selenium") if importlib.util.find_spec(m) is None]
_MISSING += [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]


def pytest_collection_modifyitems(config, items):
    # Skipped on a machine without them; under CI (which runs tools/deps) they must be there.
    if _MISSING and not os.environ.get("CI"):
        skip = pytest.mark.skip(reason="needs " + ", ".join(_MISSING) + " (tools/deps installs them)")
        for item in items:
            item.add_marker(skip)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pids_naming(text):
    """Live processes whose command line contains `text` (not this one)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmdline = Path("/proc", entry, "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(int(entry))
    return found


class NotebookServer:
    def __init__(self, url, token, notebook_dir, log_path):
        self.url = url  # ends with '/'
        self.token = token
        self.notebook_dir = notebook_dir
        self.log_path = log_path

    def page(self, path):
        return f"{self.url}{path}?token={self.token}"

    def api(self, path):
        req = urllib.request.Request(self.url + "api/" + path, headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read())

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


@pytest.fixture
def artifact_dir(tmp_path):
    d = Path(os.environ.get("LTEST_ARTIFACT_DIR") or tmp_path / "artifacts")
    d.mkdir(parents=True, exist_ok=True)
    return d


def jupyter_home(root):
    """Private Jupyter dirs under `root` and the environment a server (and
    its kernels) runs in: a `python3` kernelspec running KERNEL_PYTHON,
    ltest's runtime on PYTHONPATH."""
    notebook_dir = root / "notebooks"
    spec_dir = root / "data" / "kernels" / "python3"
    for d in (notebook_dir, root / "runtime", spec_dir, root / "config", root / "ipython"):
        d.mkdir(parents=True, exist_ok=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [KERNEL_PYTHON, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (ltest browser test)",
        "language": "python",
    }))
    env = dict(os.environ)
    for var in ("PYTEST_ADDOPTS", "PYTEST_CURRENT_TEST", "JUPYTER_TOKEN", "JUPYTER_PATH", "BROWSER"):
        env.pop(var, None)
    env.update({
        "PYTHONPATH": os.pathsep.join(p for p in [SHARE_DIR, os.environ.get("PYTHONPATH", "")] if p),
        "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
        "JUPYTER_CONFIG_DIR": str(root / "config"),
        "JUPYTER_DATA_DIR": str(root / "data"),
        "JUPYTER_PATH": str(root / "data"),
        "IPYTHONDIR": str(root / "ipython"),
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    return notebook_dir, env


@contextlib.contextmanager
def running_server(argv, env, server, what):
    """Runs a Jupyter server (argv) until `server` answers /api/status;
    yields it; stops it and its kernels whatever happens."""
    with open(server.log_path, "wb") as log:
        proc = subprocess.Popen(argv, cwd=str(server.notebook_dir), env=env, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"{what} exited ({proc.returncode}):\n{server.log()}")
            try:
                server.api("status")
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"{what} did not answer in 30 s:\n{server.log()}")
                time.sleep(0.2)
        yield server
    finally:
        _stop_server(proc, env["JUPYTER_RUNTIME_DIR"])


@pytest.fixture
def notebook_server(tmp_path):
    root = tmp_path / "nbserver"
    notebook_dir, env = jupyter_home(root)
    token = secrets.token_hex(24)
    port = free_port()
    server = NotebookServer(f"http://127.0.0.1:{port}/", token, notebook_dir, root / "server.log")
    argv = [sys.executable, "-m", "notebook", "--no-browser", "--allow-root",
            "--ip=127.0.0.1", f"--port={port}", "--port-retries=0",
            f"--notebook-dir={notebook_dir}", f"--NotebookApp.token={token}",
            "--NotebookApp.password=", "--NotebookApp.open_browser=False",
            "--MappingKernelManager.default_kernel_name=python3"]
    with running_server(argv, env, server, "the notebook server"):
        yield server


REPO = Path(__file__).resolve().parents[2]
EXTENSION = REPO / "lab" / "extension" / "labextension"  # tools/lab-build builds it


@pytest.fixture(scope="session")
def lab_bin():
    """The bin directory of tools/lab-build's virtualenv (JupyterLab 4.6 and
    Notebook 7 from PyPI, tools/stacks/lab.lock), the extension built: the
    script is quick when both are up to date."""
    build = subprocess.run([str(REPO / "tools" / "lab-build")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    if build.returncode != 0:
        (pytest.fail if os.environ.get("CI") else pytest.skip)(
            "tools/lab-build failed (it needs npm and PyPI):\n" + build.stderr[-3000:])
    return Path(build.stdout.strip().splitlines()[-1])


def _frontend_server(tmp_path, lab_bin, app):
    """`jupyter lab` or `jupyter notebook` (app) from lab_bin on loopback, with
    ltest's prebuilt extension installed as a wheel installs it: copied to
    labextensions/ltest-jupyterlab of a data dir on JUPYTER_PATH. Kernels are
    KERNEL_PYTHON's, with ltest's runtime on PYTHONPATH (jupyter_home)."""
    root = tmp_path / f"{app}server"
    notebook_dir, env = jupyter_home(root)
    shutil.copytree(EXTENSION, root / "data" / "labextensions" / "ltest-jupyterlab")
    # No "get notified about Jupyter news?" toast over the screenshots.
    news = root / "user-settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    token = secrets.token_hex(24)
    port = free_port()
    server = NotebookServer(f"http://127.0.0.1:{port}/", token, notebook_dir, root / "server.log")
    argv = [str(lab_bin / f"jupyter-{app}"), "--no-browser", "--ServerApp.allow_root=True",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}", "--ServerApp.open_browser=False",
            f"--ServerApp.root_dir={notebook_dir}", "--MappingKernelManager.default_kernel_name=python3",
            f"--LabApp.user_settings_dir={root / 'user-settings'}", f"--LabApp.workspaces_dir={root / 'workspaces'}",
            "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if app == "notebook":  # its options are JupyterNotebookApp's
        argv = [a.replace("--LabApp.", "--JupyterNotebookApp.") for a in argv[:-2]]
    return argv, env, server


@pytest.fixture
def lab_server(tmp_path, lab_bin):
    """JupyterLab 4.6 (tools/lab-build's virtualenv) with ltest's extension."""
    argv, env, server = _frontend_server(tmp_path, lab_bin, "lab")
    with running_server(argv, env, server, "JupyterLab"):
        yield server


@pytest.fixture
def notebook7_server(tmp_path, lab_bin):
    """Notebook 7 (tools/lab-build's virtualenv) with ltest's extension."""
    argv, env, server = _frontend_server(tmp_path, lab_bin, "notebook")
    with running_server(argv, env, server, "Notebook 7"):
        yield server


def _stop_server(proc, runtime):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # stops the loop; the server then shuts its kernels down
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the server and anything left in its group
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)
    # Kernels run in sessions of their own; their forks name the same connection file.
    for pid in pids_naming(runtime):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--disable-extensions", "--disable-default-apps",
                 "--no-default-browser-check", "--window-size=1280,1000",
                 f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # console messages, for get_log
    service = Service(executable_path=CHROMEDRIVER, log_path=str(tmp_path / "chromedriver.log"))
    driver = None
    try:
        driver = webdriver.Chrome(service=service, options=options)
        driver.set_page_load_timeout(30)
        yield driver
    finally:
        if driver is not None:
            try:
                driver.quit()
            except Exception:
                pass
        service.stop()
        # A Chromium left behind by a crashed driver: it names its private profile dir.
        for pid in pids_naming(str(tmp_path / "chromium-profile")):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)
