"""The interpreter a pytest user means (issue 26): a run's server runs on the
Python `python -m pytest` would run there ($VIRTUAL_ENV, the project's
.venv, [tool.ltest] python, the first python3 on PATH that has pytest), one
server per project and interpreter, and an interpreter that cannot serve is
one line naming it, what is missing and the command that installs it (exit
78), before any kernel is started."""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import PYTHON, write_files
from zeroconf import world  # noqa: F401 (fixture)

TESTS = {"pyproject.toml": "[project]\nname = 'proj'\n", "tests/test_a.py": "def test_a():\n    assert 1 + 1 == 2\n"}
# A test that passes only in the interpreter it names.
PREFIX_TEST = "import sys\n\ndef test_prefix():\n    assert sys.prefix == {prefix!r}, sys.prefix\n"


def make_venv(path, system_site=False):
    """A stdlib virtualenv of the harness's Python, without pip (nothing from
    the network): with system_site, it sees the harness's pytest and ipykernel."""
    args = [PYTHON, "-m", "venv", "--without-pip", str(path)]
    if system_site:
        args.insert(3, "--system-site-packages")
    subprocess.run(args, check=True)
    if system_site and not set(stack_site_packages()) <= set(base_site_packages()):
        # The harness's Python is itself a virtualenv (the newest stack): a venv
        # made from it is made from its base interpreter, whose site directories
        # do not hold the stack's pytest and ipykernel. A .pth names them instead.
        (site_packages(Path(path)) / "ltest_stack.pth").write_text("\n".join(stack_site_packages()) + "\n")
    return Path(path)


def stack_site_packages():
    """The site-packages directories of the harness's Python."""
    return _python_says(PYTHON, "import site; print('\\n'.join(site.getsitepackages()))").splitlines()


def base_site_packages():
    """Those of its base interpreter: what --system-site-packages adds."""
    return _python_says(PYTHON, "import site, sys; "
                        "print('\\n'.join(site.getsitepackages([sys.base_prefix])))").splitlines()


def _python_says(python, code):
    return subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout


def named_python(line):
    """The interpreter a server's start line names: '... (python PATH) on ...'."""
    return line.split("(python ", 1)[1].split(")", 1)[0]


def site_packages(venv):
    return Path(subprocess.run([str(venv / "bin" / "python"), "-c",
                                "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               capture_output=True, text=True, check=True).stdout.strip())


def fake_distribution(venv, module, dist, version):
    """An importable name and its metadata: what the start-up probe looks at
    (find_spec and importlib.metadata), enough to stand for the package
    there. The real missing-package case is tested with a real venv below."""
    site = site_packages(venv)
    (site / module).mkdir(parents=True, exist_ok=True)
    (site / module / "__init__.py").write_text("")
    info = site / f"{dist}-{version}.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")


def activate(world, venv):
    world.env["VIRTUAL_ENV"] = str(venv)
    world.env["PATH"] = f"{venv}/bin{os.pathsep}{world.env['PATH']}"


def the_log(world):
    [log] = world.runtime_dir.glob("ltest-*.log")
    return log


def started(stderr):
    return [line for line in stderr.splitlines() if line.startswith("ltest: started a server")]


def test_an_active_virtualenv_without_pytest_or_ipykernel_is_one_line(world, tmp_path):
    proj = write_files(tmp_path / "proj", TESTS)
    venv = make_venv(tmp_path / "venv")
    activate(world, venv)
    r = world.ltest("--", "-q", cwd=proj)
    py = venv / "bin" / "python"
    log = the_log(world)
    assert (r.returncode, r.stdout) == (78, "")
    assert r.stderr == (f"ltest: could not start a server for {proj}: {py} has neither pytest nor ipykernel "
                        f"(ltest's kernel); install them with: {py} -m pip install pytest ipykernel (log: {log})\n")
    # Said before any kernel was started: no kernel_info timeout to wait for.
    assert "starting a kernel" not in log.read_text()
    assert not list(world.runtime_dir.glob("kernel-*.json"))


def test_a_uv_projects_venv_without_ipykernel_is_told_uv_add(world, tmp_path):
    proj = write_files(tmp_path / "proj", dict(TESTS, **{"uv.lock": "version = 1\n"}))
    venv = make_venv(proj / ".venv")
    fake_distribution(venv, "pytest", "pytest", "9.2.0")
    r = world.ltest("--", "-q", cwd=proj)  # .venv not activated
    assert r.returncode == 78, r.stderr
    assert r.stderr == (f"ltest: could not start a server for {proj}: {venv}/bin/python has no ipykernel "
                        f"(ltest's kernel); install it with: uv add --dev ipykernel (log: {the_log(world)})\n")


def test_ipykernel_7_on_pyzmq_before_25_is_refused_before_any_kernel(world, tmp_path):
    proj = write_files(tmp_path / "proj", TESTS)
    venv = make_venv(tmp_path / "venv")
    for module, dist, version in (("pytest", "pytest", "9.2.0"), ("ipykernel", "ipykernel", "7.0.1"),
                                  ("zmq", "pyzmq", "24.0.1")):
        fake_distribution(venv, module, dist, version)
    activate(world, venv)
    r = world.ltest("--", "-q", cwd=proj)
    py = venv / "bin" / "python"
    assert r.returncode == 78, r.stderr
    assert r.stderr == (f"ltest: could not start a server for {proj}: {py} has ipykernel 7.0.1 with pyzmq 24.0.1, "
                        "a pair whose kernel never answers (ipykernel 7 needs pyzmq >= 25); install a newer pyzmq "
                        f"with: {py} -m pip install 'pyzmq>=25' (log: {the_log(world)})\n")


def test_the_projects_venv_then_activated_is_one_server(world, tmp_path):
    proj = write_files(tmp_path / "proj", TESTS)
    venv = make_venv(proj / ".venv", system_site=True)  # Debian's pytest and ipykernel, seen from the venv
    (proj / "tests" / "test_prefix.py").write_text(PREFIX_TEST.format(prefix=str(venv)))
    r = world.ltest("--", "-q", cwd=proj)
    assert r.returncode == 0 and "2 passed" in r.stdout, r.stdout + r.stderr
    [line] = started(r.stderr)
    assert line.startswith(f"ltest: started a server for {proj} (python {venv}/bin/python) on "), line
    activate(world, venv)
    r = world.ltest("--", "-q", cwd=proj / "tests")
    assert r.returncode == 0 and "2 passed" in r.stdout, r.stdout + r.stderr
    assert r.stderr == world.cold_stderr("-q", cwd=proj / "tests", python=venv / "bin" / "python"), r.stderr
    [server] = world.servers()
    assert server["python"] == f"{venv}/bin/python" and server["project_root"] == str(proj)


def test_a_python3_on_path_without_pytest_is_skipped(world, tmp_path):
    proj = write_files(tmp_path / "proj", TESTS)
    bare = make_venv(tmp_path / "bare")  # first on PATH, no pytest
    world.env["PATH"] = f"{bare}/bin{os.pathsep}{world.env['PATH']}"
    r = world.ltest("--", "-q", cwd=proj)
    assert r.returncode == 0 and "1 passed" in r.stdout, r.stdout + r.stderr
    # The first python3 on PATH with pytest: PYTHON by another name, perhaps (a venv's python3 for its python).
    assert os.path.samefile(named_python(started(r.stderr)[0]), PYTHON), started(r.stderr)
    [server] = world.servers()
    assert os.path.samefile(server["python"], PYTHON) and server["python_skipped"] == [f"{bare}/bin/python3"]
    r = world.ltest("--", "-q", cwd=proj)  # found again without asking any Python
    assert r.returncode == 0 and r.stderr == world.cold_stderr("-q", cwd=proj), r.stderr


def test_tool_ltest_python_comes_before_path(world, tmp_path):
    proj = write_files(tmp_path / "proj", dict(TESTS, **{
        "pyproject.toml": f"[project]\nname = 'proj'\n\n[tool.ltest]\npython = {PYTHON!r}\n"}))
    half = make_venv(tmp_path / "half")  # first on PATH, with pytest but no ipykernel: would be refused
    fake_distribution(half, "pytest", "pytest", "9.2.0")
    world.env["PATH"] = f"{half}/bin{os.pathsep}{world.env['PATH']}"
    r = world.ltest("--", "-q", cwd=proj)
    assert r.returncode == 0 and f"(python {PYTHON})" in r.stderr, r.stdout + r.stderr
    (proj / "pyproject.toml").write_text("[project]\nname = 'proj'\n")
    r = world.ltest("--", "-q", cwd=proj)  # now PATH decides: another interpreter, another server
    assert r.returncode == 78 and f"{half}/bin/python3 has no ipykernel" in r.stderr, r.stderr


def test_a_virtualenvs_own_kernelspec_is_found(world, tmp_path):
    proj = write_files(tmp_path / "proj", TESTS)
    venv = make_venv(tmp_path / "venv", system_site=True)
    spec = venv / "share" / "jupyter" / "kernels" / "venvk"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(venv / "bin" / "python"), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "venv", "language": "python"}))
    (proj / "tests" / "test_prefix.py").write_text(PREFIX_TEST.format(prefix=str(venv)))
    activate(world, venv)
    r = world.ltest("--kernel", "venvk", "--", "-q", cwd=proj)
    assert r.returncode == 0 and "2 passed" in r.stdout and "(kernel venvk)" in r.stderr, r.stdout + r.stderr
    [server] = world.servers()
    assert server["kernel_name"] == "venvk" and "python" not in server


# --- a real uv project: pytest, ipykernel and pyzmq as PyPI has them today ---

def uv():
    found = shutil.which("uv") or shutil.which(os.path.expanduser("~/.local/bin/uv"))
    if not found:
        pytest.fail("uv is not installed: tools/deps installs it")
    return found


def uv_project(world, path, *dev):
    """`uv init`, then `uv add --dev ...`: a .venv filled from PyPI, not activated."""
    env = dict(world.env, UV_PYTHON_DOWNLOADS="never", UV_PYTHON=PYTHON,
               UV_CACHE_DIR=os.environ.get("UV_CACHE_DIR", os.path.expanduser("~/.cache/uv")))
    path.mkdir()
    subprocess.run([uv(), "init", "-q", "--no-readme"], cwd=path, env=env, check=True)
    subprocess.run([uv(), "add", "-q", "--dev", *dev], cwd=path, env=env, check=True)
    write_files(path, {"tests/test_a.py": TESTS["tests/test_a.py"]})
    return path


def test_a_uv_project_runs_on_its_venv_activated_or_not(world, tmp_path):
    proj = uv_project(world, tmp_path / "proj", "pytest", "ipykernel")
    venv = proj / ".venv"
    (proj / "tests" / "test_prefix.py").write_text(PREFIX_TEST.format(prefix=str(venv)))
    r = world.ltest("--", "-q", cwd=proj)
    assert r.returncode == 0 and "2 passed" in r.stdout, r.stdout + r.stderr
    [line] = r.stderr.splitlines()
    assert line.startswith(f"ltest: started a server for {proj} (python {venv}/bin/python) on "), line
    activate(world, venv)
    r = world.ltest("--", "-q", cwd=proj)
    assert r.returncode == 0 and "2 passed" in r.stdout, r.stdout + r.stderr
    assert r.stderr == world.cold_stderr("-q", cwd=proj, python=venv / "bin" / "python"), r.stderr
    assert len(world.servers()) == 1


def test_a_uv_project_without_ipykernel_is_told_uv_add(world, tmp_path):
    proj = uv_project(world, tmp_path / "proj", "pytest")
    r = world.ltest("--", "-q", cwd=proj)
    assert r.returncode == 78, r.stdout + r.stderr
    assert r.stderr == (f"ltest: could not start a server for {proj}: {proj}/.venv/bin/python has no ipykernel "
                        f"(ltest's kernel); install it with: uv add --dev ipykernel (log: {the_log(world)})\n")
