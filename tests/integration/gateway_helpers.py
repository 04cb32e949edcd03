"""A real Jupyter Enterprise Gateway (PyPI's, in the venv tools/gateway-venv
makes) for the gateway tests: its own port, its own Jupyter directories, a
kernelspec whose kernels are local processes (EG's LocalProcessProxy) on the
tests' interpreter, its own session, stopped and then killed at teardown even
when a test failed.
"""
import contextlib
import json
import os
import secrets
import signal
import subprocess
import time

from conftest import PYTHON, ROOT, free_port, kill_all, pids_of_session, pids_whose_cmdline

KERNELSPEC = "ltest-gw-python"


def gateway_executable():
    """tools/gateway-venv's jupyter-enterprisegateway (made on first use from the lock file)."""
    out = subprocess.run([str(ROOT / "tools" / "gateway-venv")], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    return os.path.join(out.stdout.strip(), "jupyter-enterprisegateway")  # it prints its bin directory


class Gateway:
    def __init__(self, tmp_path, token, max_kernels=None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = token
        home = tmp_path / "gateway"
        spec_dir = home / "data" / "kernels" / KERNELSPEC
        spec_dir.mkdir(parents=True)
        self.spec_file = spec_dir / "kernel.json"  # a test may add to it before start()
        (spec_dir / "kernel.json").write_text(json.dumps({
            "display_name": "ltest's gateway tests",
            "language": "python",
            "argv": [PYTHON, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "metadata": {"process_proxy": {
                "class_name": "enterprise_gateway.services.processproxies.processproxy.LocalProcessProxy"}},
        }))
        self.runtime_dir = home / "runtime"
        self.runtime_dir.mkdir()
        self.env = dict(os.environ, JUPYTER_PATH=str(home / "data"), JUPYTER_DATA_DIR=str(home / "data"),
                        JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_RUNTIME_DIR=str(self.runtime_dir),
                        EG_AUTH_TOKEN=token)
        self.env.pop("JUPYTER_GATEWAY_AUTH_TOKEN", None)
        self.env.pop("LTEST_GATEWAY_TOKEN", None)
        self.log = tmp_path / "gateway.log"
        self.cmd = [gateway_executable(), "--ip=127.0.0.1", f"--port={self.port}", "--port_retries=0",
                    f"--EnterpriseGatewayApp.default_kernel_name={KERNELSPEC}",
                    f"--EnterpriseGatewayApp.allowed_kernels=['{KERNELSPEC}']",
                    # root is refused by default, and the tests may run as root
                    "--EnterpriseGatewayApp.unauthorized_users=[]"]
        if max_kernels is not None:
            self.cmd.append(f"--EnterpriseGatewayApp.max_kernels={max_kernels}")
        self.proc = None

    def start(self, timeout=120):
        self.log_file = open(self.log, "w")
        self.proc = subprocess.Popen(self.cmd, env=self.env, stdout=self.log_file, stderr=subprocess.STDOUT,
                                     start_new_session=True, cwd=self.runtime_dir)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:  # its line saying where it listens
            if "is available at" in self.log.read_text():
                return self
            assert self.proc.poll() is None, "the gateway exited:\n" + self.log.read_text()
            time.sleep(0.05)
        raise AssertionError("the gateway did not start in time:\n" + self.log.read_text())

    def kernel_pids(self):
        """Its kernels: their connection files are in its runtime directory
        (jupyter_client starts them in a session of their own)."""
        return pids_whose_cmdline(lambda c: "ipykernel_launcher" in c and str(self.runtime_dir) in c)

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        kill_all(pids_of_session(self.proc.pid) + self.kernel_pids())  # its kernels, whatever state they are in
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log_file.close()


@contextlib.contextmanager
def running_gateway(tmp_path):
    """A gateway with a token of its own, stopped (its kernels killed) even when the test fails."""
    g = Gateway(tmp_path, token=secrets.token_hex(16))
    try:
        g.start()
        yield g
    finally:
        g.stop()


async def send_execute(gateway, kernel_id, code):
    """Opens the gateway's websocket to a kernel (as JupyterLab does) and
    sends an execute request of code on it: (the connection, its msg_id).
    `gateway` is any with a port and a token (this file's or gateway_hosts')."""
    import uuid
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    connection = await websocket_connect(HTTPRequest(
        f"ws://127.0.0.1:{gateway.port}/api/kernels/{kernel_id}/channels",
        headers={"Authorization": f"token {gateway.token}"}))
    msg_id = uuid.uuid4().hex
    connection.write_message(json.dumps({
        "header": {"msg_id": msg_id, "username": "test", "session": uuid.uuid4().hex,
                   "msg_type": "execute_request", "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": False,
                    "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
    }))
    return connection, msg_id
