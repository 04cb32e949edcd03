"""The wheel (pyproject.toml, issue 27): built once from this checkout,
installed into fresh virtualenvs with pip and with uv, and as a uv tool, it
gives `ltest` and `ltest-server` on the environment's PATH with their
runtime and libraries, runs a sample project warm, `%load_ext ltest`
works in a kernel of that environment, and its pytest11 entry point
(ltest.delegate) leaves a plain pytest cold unless the project opts in.

The wheel's CMake build is kept beside the build directory
($LTEST_BUILD_DIR-wheel), so the C++ compiles once per build directory
(mostly from ccache: compiled as tools/build compiles); later runs only
re-install. The fresh environments take pytest and ipykernel (the wheel's
dependencies) from the package index as a user's would, through pip's and
uv's caches."""
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from conftest import PYTHON, ROOT, alive, wait_for, write_files
from zeroconf import World

BUILD = Path(os.environ.get("LTEST_BUILD_DIR", str(ROOT / "build")))
# Beside the build directory, not in it: ccache (base_dir) sees compiler
# arguments relative to the build's directories, so a wheel build as deep as
# tools/build's (build-wheel/cli beside build/cli) finds tools/build's objects.
WHEEL_DIR = BUILD.parent / (BUILD.name + "-wheel")
TESTS = {"test_a.py": "def test_a():\n    assert 1 + 1 == 2\n", "test_b.py": "def test_b():\n    pass\n",
         "pyproject.toml": "[project]\nname = 'sample'\n"}
# glibc's own libraries: the only ones the server takes from the system (cli/bundle_libraries.cmake).
GLIBC = re.compile(r"^(ld-linux.*|lib(c|m|dl|rt|pthread|resolv|util|nsl|anl|mvec)\.so.*)$")
# This user's caches, whatever HOME a test's world sets: installs reuse what was downloaded before.
REAL_ENV = dict(os.environ)


def run(cmd, env=None, timeout=1800, **kw):
    r = subprocess.run([str(c) for c in cmd], env=env or REAL_ENV, capture_output=True, text=True, timeout=timeout,
                       **kw)
    assert r.returncode == 0, f"{cmd}:\n{r.stdout}\n{r.stderr}"
    return r


def uv_command():
    """uv from PATH, else one installed with pip into the build directory once."""
    found = shutil.which("uv")
    if found:
        return [found]
    venv = WHEEL_DIR / "uv-venv"
    if not (venv / "bin" / "uv").exists():
        run([PYTHON, "-m", "venv", venv])
        run([venv / "bin" / "python", "-m", "pip", "install", "-q", "uv"])
    return [str(venv / "bin" / "uv")]


def pip_config():
    r = subprocess.run([PYTHON, "-m", "pip", "config", "list"], capture_output=True, text=True)
    out = {}
    for line in r.stdout.splitlines():
        key, _, value = line.partition("=")
        out[key.split(".", 1)[-1]] = value.strip().strip("'\"")
    return out


def uv_env(**extra):
    """uv does not read pip's configuration: the same index, links and
    certificates, said uv's way; uv's cache is the user's."""
    env = dict(REAL_ENV, **extra)
    config = pip_config()
    if config.get("index-url"):
        env["UV_DEFAULT_INDEX"] = env["UV_INDEX_URL"] = config["index-url"]
    if config.get("extra-index-url"):
        env["UV_EXTRA_INDEX_URL"] = config["extra-index-url"]
    links = [p for p in config.get("find-links", "").split() if os.path.exists(p)]
    if links:
        env["UV_FIND_LINKS"] = ",".join(links)
    if config.get("cert"):
        env["SSL_CERT_FILE"] = config["cert"]
    return env


@pytest.fixture(scope="module")
def lab_bin():
    """tools/lab-build: the prebuilt JupyterLab extension the wheel takes
    (lab/extension/labextension; quick when built), and the bin directory of
    its JupyterLab 4 virtualenv."""
    # With the PATH the harness was given: conftest put the stack's python
    # first, and tools/lab-build's lock wants a newer python3 than Debian's
    # 3.11.2 (the one tools/test finds first).
    path = os.environ["PATH"]
    first, _, rest = path.partition(os.pathsep)
    env = dict(REAL_ENV, PATH=rest if first == os.path.dirname(PYTHON) else path)
    r = subprocess.run([ROOT / "tools" / "lab-build"], env=env, capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, "tools/lab-build failed (it needs npm and PyPI):\n" + r.stderr[-3000:]
    return Path(r.stdout.strip())


@pytest.fixture(scope="module")
def wheel(lab_bin):
    """The wheel built from this checkout by scikit-build-core, its CMake
    build kept beside the build directory (through ccache when there is one)."""
    dist = WHEEL_DIR / "dist"
    for old in dist.glob("ltest-*.whl"):
        old.unlink()
    # Compiled as tools/build compiles (the same generator, build type and
    # flags; ccache not hashing the build directory), so that the first build
    # of a fresh build directory takes its objects from ccache; stripped at
    # install all the same. (A release wheel is scikit-build-core's Release.)
    env = uv_env(CMAKE_GENERATOR="Unix Makefiles", CMAKE_BUILD_PARALLEL_LEVEL=str(os.cpu_count() or 1),
                 CCACHE_NOHASHDIR="1", CCACHE_BASEDIR=str(ROOT))
    if shutil.which("ccache"):
        env["CMAKE_CXX_COMPILER_LAUNCHER"] = "ccache"
    cache = BUILD / "CMakeCache.txt"  # tools/build's compiler, by the same name (ccache hashes the name)
    if cache.exists():
        found = re.search(r"^CMAKE_CXX_COMPILER:FILEPATH=(.+)$", cache.read_text(), re.M)
        if found:
            env["CXX"] = found.group(1)
    run([*uv_command(), "build", "--wheel", "--out-dir", dist, "-C", f"build-dir={WHEEL_DIR}",
         "-C", "cmake.build-type=RelWithDebInfo", ROOT], env=env)
    [built] = dist.glob("ltest-*.whl")
    return built


def venv_env(venv, world):
    """The world's environment with `venv` activated, as `source bin/activate` does."""
    env = dict(world.env, VIRTUAL_ENV=str(venv), PATH=f"{venv / 'bin'}{os.pathsep}{world.env['PATH']}")
    return env


@pytest.fixture(scope="module", params=["pip", "uv"])
def installed(request, wheel, tmp_path_factory):
    """A fresh virtualenv of the harness's Python with the wheel installed
    and nothing else (its dependencies come with it): with pip, or with uv."""
    venv = tmp_path_factory.mktemp(request.param) / "venv"
    if request.param == "pip":
        run([PYTHON, "-m", "venv", venv])
        run([venv / "bin" / "python", "-m", "pip", "install", "-q", wheel])
    else:
        uv = uv_command()
        run([*uv, "venv", "--python", PYTHON, venv], env=uv_env())
        run([*uv, "pip", "install", "--python", venv / "bin" / "python", wheel], env=uv_env())
    return venv


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path)
    w.env.pop("VIRTUAL_ENV", None)
    w.env.pop("LTEST_SHARE_DIR", None)  # the installed binaries find their own runtime
    yield w
    w.kill_all()


def version_of(venv):
    """The installed distribution's version, as pip and uv record it."""
    return run([venv / "bin" / "python", "-c", "import importlib.metadata as m; print(m.version('ltest'))"],
               env=dict(REAL_ENV, PYTHONPATH="")).stdout.strip()


def started_lines(stderr):
    return [line for line in stderr.splitlines() if line.startswith("ltest: started a server")]


def check_runs_warm_and_stops(ltest, world, proj, env, python):
    """`ltest -- -q` starts a server on `python` and passes; the second run
    is warm (the same server, no start line); `ltest --stop` stops it."""
    first = subprocess.run([ltest, "--", "-q"], cwd=proj, env=env, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0 and "2 passed" in first.stdout, first.stdout + first.stderr
    [line] = started_lines(first.stderr)
    assert f"for {proj} (python {python})" in line, line
    [server] = world.servers()
    second = subprocess.run([ltest, "--", "-q"], cwd=proj, env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0 and "2 passed" in second.stdout, second.stdout + second.stderr
    assert second.stderr == ""
    assert [s["pid"] for s in world.servers()] == [server["pid"]]
    r = subprocess.run([ltest, "--stop"], cwd=proj, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert wait_for(lambda: not alive(server["pid"]), 60)
    assert world.servers() == []


def test_the_environment_has_both_executables_their_runtime_and_libraries(installed):
    bin_dir = installed / "bin"
    for name in ("ltest", "ltest-server"):
        assert shutil.which(name, path=str(bin_dir)) == str(bin_dir / name)
    assert run([bin_dir / "ltest", "--version"]).stdout == f"ltest {version_of(installed)}\n"
    # The runtime where the binaries look for it (bin/../share/ltest), completion beside it.
    assert (installed / "share" / "ltest" / "ltest" / "__init__.py").exists()
    assert (installed / "share" / "ltest" / "loader.py").exists()
    assert (installed / "share" / "bash-completion" / "completions" / "ltest").exists()
    # Every library the server loads is the wheel's, but glibc's own.
    ldd = run(["ldd", bin_dir / "ltest-server"]).stdout
    resolved = dict(re.findall(r"^\s*(\S+) => (\S+)", ldd, re.M))
    assert "libzmq.so.5" in resolved and "not" not in resolved.values(), ldd
    for name, path in resolved.items():
        if not GLIBC.match(name):
            assert os.path.realpath(path) == str((installed / "lib" / "ltest" / name).resolve()), (name, path)
    # The client is static: nothing to find.
    r = subprocess.run(["ldd", bin_dir / "ltest"], capture_output=True, text=True)
    assert "not a dynamic executable" in r.stdout + r.stderr, r.stdout + r.stderr
    labext = installed / "share" / "jupyter" / "labextensions" / "ltest-jupyterlab" / "package.json"
    assert json.loads(labext.read_text())["name"] == "ltest-jupyterlab"


def test_jupyterlab_finds_the_extension_in_the_environments_data_dir(installed, lab_bin, tmp_path):
    """A JupyterLab 4 (tools/lab-build's) whose Jupyter path has the
    environment's share/jupyter lists the extension enabled and OK; without
    it, not (the extension is the wheel's, not that JupyterLab's)."""
    def listed(**extra):
        env = dict(REAL_ENV, JUPYTER_CONFIG_DIR=str(tmp_path / "config"), **extra)
        env.pop("JUPYTER_PATH", None)
        env.update(extra)
        out = run([lab_bin / "jupyter", "labextension", "list"], env=env)
        text = re.sub(r"\x1b\[[0-9;]*m", "", out.stdout + out.stderr)
        return [line.split() for line in text.splitlines() if "ltest-jupyterlab" in line]
    assert listed() == []
    [line] = listed(JUPYTER_PATH=str(installed / "share" / "jupyter"))
    assert line[0] == "ltest-jupyterlab" and line[2:4] == ["enabled", "OK"], line


def test_a_project_runs_warm_with_the_activated_environment(installed, world, tmp_path):
    proj = write_files(tmp_path / "proj", TESTS)
    check_runs_warm_and_stops(installed / "bin" / "ltest", world, proj, venv_env(installed, world),
                              installed / "bin" / "python")


def test_its_pytest_plugin_hands_a_plain_pytest_over_only_when_the_project_opts_in(installed, world, tmp_path):
    python = installed / "bin" / "python"
    r = run([python, "-c", "import importlib.metadata as m; "
             "print([e.value for e in m.entry_points(group='pytest11') if e.name == 'ltest-delegate'])"])
    assert r.stdout.strip() == "['ltest.delegate']"
    env = venv_env(installed, world)
    proj = write_files(tmp_path / "proj", TESTS)
    cold = subprocess.run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=proj, env=env,
                          capture_output=True, text=True, timeout=300)
    assert cold.returncode == 0 and "2 passed" in cold.stdout and "ltest" not in cold.stderr, cold.stdout + cold.stderr
    assert world.servers() == []
    (proj / "pyproject.toml").write_text(TESTS["pyproject.toml"] + "[tool.ltest]\ndelegate = true\n")
    warm = subprocess.run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=proj, env=env,
                          capture_output=True, text=True, timeout=600)
    assert warm.returncode == 0 and "2 passed" in warm.stdout, warm.stdout + warm.stderr
    assert started_lines(warm.stderr), warm.stderr
    [server] = world.servers()
    assert server["project_root"] == str(proj)


def test_the_package_imports_and_its_magic_runs_in_a_kernel_of_the_environment(installed, world, tmp_path):
    python = installed / "bin" / "python"
    site = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['platlib'])"]).stdout.strip()
    r = run([python, "-c", "import ltest; print(ltest.__file__)"], env=dict(REAL_ENV, PYTHONPATH=""))
    assert r.stdout.strip() == str(Path(site) / "ltest" / "__init__.py")

    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    specs = tmp_path / "kernels"
    (specs / "wheelenv").mkdir(parents=True)
    (specs / "wheelenv" / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "the wheel's environment", "language": "python"}))
    proj = write_files(tmp_path / "proj", TESTS)
    km = KernelManager(kernel_name="wheelenv", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(specs)]),
                       connection_file=str(tmp_path / "kernel.json"))
    km.start_kernel(cwd=str(proj), env=venv_env(installed, world))
    try:
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=120)
        out = []

        def keep(msg):
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                out.append("\n".join(msg["content"]["traceback"]))

        for code in ("%load_ext ltest", "import ltest; print(ltest.__file__)", "%ltest -q -p no:cacheprovider"):
            reply = kc.execute_interactive(code, timeout=300, output_hook=keep)
            assert reply["content"]["status"] == "ok", (code, "".join(out))
        text = re.sub(r"\x1b\[[0-9;]*m", "", "".join(out))  # the magic's output is coloured
        assert str(Path(site) / "ltest" / "__init__.py") in text, text
        assert re.search(r"\b2 passed\b", text), text
        kc.stop_channels()
    finally:
        km.shutdown_kernel(now=True)


def test_a_tool_install_runs_the_tests_in_the_projects_interpreter(wheel, world, tmp_path):
    """`uv tool install`: ltest in its own virtualenv, linked into a bin
    directory; the project's .venv has pytest and ipykernel but not ltest,
    and the server sends the runtime to the kernel there as always."""
    uv = uv_command()
    tools = tmp_path / "tools"
    env = uv_env(UV_TOOL_DIR=str(tools / "venvs"), UV_TOOL_BIN_DIR=str(tools / "bin"))
    run([*uv, "tool", "install", wheel], env=env)
    ltest = tools / "bin" / "ltest"
    assert ltest.is_symlink() and (tools / "bin" / "ltest-server").is_symlink()

    proj = write_files(tmp_path / "proj", TESTS)
    venv = proj / ".venv"
    run([*uv, "venv", "--python", PYTHON, venv], env=uv_env())
    run([*uv, "pip", "install", "--python", venv / "bin" / "python", "pytest", "ipykernel"], env=uv_env())
    r = subprocess.run([venv / "bin" / "python", "-c", "import ltest"], capture_output=True, text=True)
    assert r.returncode == 1 and "No module named 'ltest'" in r.stderr, r.stderr
    check_runs_warm_and_stops(ltest, world, proj, world.env, venv / "bin" / "python")


def test_the_sdist_holds_the_sources_and_no_build_output(tmp_path):
    run([*uv_command(), "build", "--sdist", "--out-dir", tmp_path, ROOT], env=uv_env())
    [sdist] = tmp_path.glob("ltest-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    for needed in ("pyproject.toml", "CMakeLists.txt", "cli/CMakeLists.txt", "cli/bundle_libraries.cmake",
                   "kernel_bridge/CMakeLists.txt", "share/ltest/ltest/__init__.py", "share/completion/ltest.bash"):
        assert needed in names, needed
    assert not [n for n in names if n.startswith(("build/", "lab/node_modules/"))]
