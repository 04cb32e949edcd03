"""The machine-learning stack where users have it (issue 26): JAX's origin
example verbatim, and a kernel whose notebook computed with JAX and with
2-thread torch ops still serving runs that pass (in_kernel/template.py).

This file is for the newest stack (tools/stacks/newest.lock and
newest-ml.lock): the interpreter under test is $LTEST_PYTHON, and a stack
without jax and torch fails here rather than skipping; the Debian 12 run
does not select this file (Debian 12 packages neither).
"""
import json
import os
import subprocess
import sys

import pytest

from conftest import write_files

PYTHON = os.environ.get("LTEST_PYTHON", sys.executable)

ORIGIN = {"simple_test.py": """
    import jax
    import jax.numpy as jnp
    import numpy as np


    @jax.jit
    def times_two(x):
        return x * 2


    def test_times_two():
        np.testing.assert_array_equal(times_two(jnp.ones(10)), 2 * np.ones(10))
"""}

# Uses what the notebook's cells used: JAX's backend and a 2-thread torch op.
COMPUTED = {"pytest.ini": "[pytest]\n", "test_ml.py": """
    import jax
    import jax.numpy as jnp
    import numpy as np
    import torch


    def test_jax():
        assert jax.devices()[0].platform == "cpu"
        np.testing.assert_array_equal(jax.jit(lambda x: x * 2)(jnp.ones(10)), 2 * np.ones(10))


    def test_torch_two_threads():
        a = torch.ones(600, 600)
        assert float((a @ a)[0, 0]) == 600.0
        print("TORCH_THREADS", torch.get_num_threads())
"""}

NOTEBOOK_CELLS = [
    "import jax, jax.numpy as jnp\nprint(jax.devices())\nprint(jax.jit(lambda x: x * 3)(jnp.arange(8.0)).block_until_ready())",
    "import torch\ntorch.set_num_threads(2)\na = torch.ones(800, 800)\nprint(float((a @ a)[0, 0]))",
]


def require_ml_stack():
    """The newest stack has jax and torch: their absence is a failure here."""
    r = subprocess.run([PYTHON, "-c", "import jax, torch, ipykernel"], capture_output=True, text=True)
    assert r.returncode == 0, f"{PYTHON} lacks the newest stack's ML packages (tools/stacks/newest-ml.lock):\n{r.stderr}"


@pytest.fixture
def stack_kernel(tmp_path):
    """A kernelspec for $LTEST_PYTHON, found through JUPYTER_PATH, as a user's
    `python -m ipykernel install --prefix` makes one."""
    require_ml_stack()
    prefix = tmp_path / "jupyter-prefix"
    subprocess.run([PYTHON, "-m", "ipykernel", "install", "--prefix", str(prefix), "--name", "ltest-stack"],
                   check=True, capture_output=True)
    return {"JUPYTER_PATH": str(prefix / "share" / "jupyter")}, ("--kernel", "ltest-stack")


def cold(*args, cwd, env):
    return subprocess.run([PYTHON, "-m", "pytest", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)


def summary(output):
    """pytest's last line without its time and its "=" frame."""
    return output.strip().splitlines()[-1].split(" in ")[0].strip("= ")


@pytest.mark.timeout(600)
def test_the_origin_jax_example_passes_warm(start_server, stack_kernel, tmp_path):
    env, args = stack_kernel
    server = start_server(modules=["jax"], extra_env=env, args=args)
    root = write_files(tmp_path / "origin", ORIGIN)
    for _ in range(2):  # the fresh fork, then a spare
        r = server.run("-s", "-v", cwd=root, timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "simple_test.py::test_times_two PASSED" in r.stdout, r.stdout
    c = cold("-s", "-v", cwd=root, env=server.env)
    assert c.returncode == 0 and summary(c.stdout) == summary(r.stdout) == "1 passed"


def run_cells(connection_file, cells):
    from jupyter_client import BlockingKernelClient
    kc = BlockingKernelClient(connection_file=connection_file)
    kc.load_connection_file()
    kc.start_channels()
    try:
        for code in cells:
            reply = kc.execute_interactive(code, timeout=300, output_hook=lambda msg: None)
            assert reply["content"]["status"] == "ok", reply["content"]
    finally:
        kc.stop_channels()


@pytest.mark.timeout(900)
def test_a_kernel_that_computed_with_jax_and_torch_serves_runs_that_pass(start_server, stack_kernel, tmp_path):
    env, args = stack_kernel
    env = dict(env, OMP_NUM_THREADS="2")
    server = start_server(modules=["jax"], extra_env=env, args=args)
    root = write_files(tmp_path / "suite", COMPUTED)
    first = server.run("-q", "-s", "-p", "no:cacheprovider", cwd=root, timeout=300)
    assert first.returncode == 0, first.stdout + first.stderr
    assert server.status()["fork_unsafe"] == []
    # The notebook sharing the kernel starts JAX's backend and OpenMP's pool there.
    run_cells(server.status()["connection_file"], NOTEBOOK_CELLS)
    # Runs after it (the first forks afresh, the next ones take spares) pass
    # as cold does, with torch's own thread count, and nothing warns of a hang:
    # they descend from the template forked at warm-up.
    c = cold("-q", "-s", "-p", "no:cacheprovider", cwd=root, env=server.env)
    assert c.returncode == 0 and "TORCH_THREADS 2" in c.stdout, c.stdout + c.stderr
    for _ in range(3):
        r = server.client("--timeout", "300", "--json", "--", "-q", "-s", "-p", "no:cacheprovider", cwd=root,
                          timeout=400)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "TORCH_THREADS 2" in r.stdout and summary(r.stdout.rsplit("{", 1)[0]) == summary(c.stdout)
        assert "may hang" not in r.stderr and "torch limited" not in r.stderr, r.stderr
        reply = json.loads(r.stdout[r.stdout.rindex("\n{") + 1:])
        assert any("JAX backend" in why for why in reply["fork_unsafe"]), reply  # the kernel did compute
