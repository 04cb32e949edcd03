"""The suites and the junit comparison the sharded-run tests share
(test_gateway_shards.py: EG's local process proxy; test_gateway_hosts_shards.py:
namespace hosts under its distributed proxy)."""
import xml.etree.ElementTree as ET

# Each test notes which test process ran it (its process group: a kernel's
# run and its workers share one) and on which host (the mark's text: the
# host name its kernel sees) when RECORD names a directory, and waits until
# KERNELS test processes have: the lead's workers cannot take every test
# before a slower helper asks (work stealing would let them). A hook, not a
# fixture, so that it is also a plugin (-p) for a suite it must not change:
# no test's fixtures differ with it.
CONFTEST = """
import os, socket, time

def pytest_runtest_setup(item):
    record = os.environ.get("RECORD")
    if record:
        with open(os.path.join(record, str(os.getpgid(0))), "w") as mark:
            mark.write(socket.gethostname())
        while len(os.listdir(record)) < int(os.environ["KERNELS"]):
            time.sleep(0.02)
"""


# What a test of a killed kernel's suite knows and does: its kernel (its
# worker's parent's parent), whether that is the lead's (LEAD_KERNEL, a
# kernel id), marks in MARKS (claimed once; waited for), and blocking
# until its kernel is killed.
WHICH_KERNEL = """
import os, time, pytest

MARKS = os.environ["MARKS"]
LEAD = os.environ["LEAD_KERNEL"]

def kernel_pid():
    with open(f"/proc/{os.getppid()}/stat") as f:  # the worker's parent: its kernel's test process
        return int(f.read().rsplit(")", 1)[1].split()[1])

def on_lead():
    with open(f"/proc/{kernel_pid()}/cmdline", "rb") as f:
        return LEAD.encode() in f.read()

def claim(name):
    try:
        os.close(os.open(os.path.join(MARKS, name), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        return True
    except FileExistsError:
        return False

def wait_for_mark(name):
    while not os.path.exists(os.path.join(MARKS, name)):
        time.sleep(0.02)

# Names its kernel in the mark (written whole), then waits until that
# kernel (and so its test process, the worker's parent) is killed.
def block_until_killed(mark=None):
    parent = os.getppid()
    if mark:
        tmp = os.path.join(MARKS, f"{mark}-{os.getpid()}.tmp")
        with open(tmp, "w") as f:
            f.write(str(kernel_pid()))
        os.rename(tmp, os.path.join(MARKS, mark))
    while os.getppid() == parent:
        time.sleep(0.02)
    os._exit(1)
"""


def generated_suite(modules=12, per_module=25):
    """modules * per_module tests (parametrized ones counted each): passes,
    failures with output, skips, xfails, an xpass, errors in setup, and a
    module-scoped fixture."""
    files = {"conftest.py": CONFTEST}
    for m in range(modules):
        lines = ["import pytest", "",
                 "@pytest.fixture(scope='module')",
                 "def shared():",
                 "    return {'module': %d}" % m, "",
                 "@pytest.fixture",
                 "def broken():",
                 "    raise RuntimeError('setup of module %d fails')" % m, ""]
        count = 0
        for t in range(per_module - 5):
            kind = (m * per_module + t) % 9
            name = f"test_{m}_{t}"
            if kind == 0:
                lines += [f"def {name}(shared):", f"    print('failing output {m}/{t}')",
                          f"    assert shared['module'] + {t} == -1", ""]
            elif kind == 1:
                lines += [f"@pytest.mark.skip(reason='skipped {m}/{t}')", f"def {name}():", "    pass", ""]
            elif kind == 2:
                lines += ["@pytest.mark.xfail(reason='known')", f"def {name}():", "    assert False", ""]
            elif kind == 3 and t % 2:
                lines += [f"def {name}(broken):", "    pass", ""]
            elif kind == 4:
                lines += [f"def {name}():", f"    pytest.skip('skipped inside {m}/{t}')", ""]
            else:
                lines += [f"def {name}(shared):", f"    assert shared['module'] == {m}", ""]
            count += 1
        lines += ["@pytest.mark.xfail(reason='passes anyway')", f"def test_{m}_xpass():", "    pass", "",
                  "@pytest.mark.parametrize('n', range(4))", f"def test_{m}_param(n):", "    assert n != 3", ""]
        files[f"test_gen_{m:02}.py"] = "\n".join(lines)
    return files


def junit_outcomes(path):
    """Each test id and its outcome, as --junitxml writes them."""
    out = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        tags = sorted(child.tag for child in case if child.tag in ("failure", "error", "skipped"))
        key = f"{case.get('classname')}::{case.get('name')}"
        assert key not in out, f"{key} reported twice"
        out[key] = tuple(tags) or ("passed",)
    return out
