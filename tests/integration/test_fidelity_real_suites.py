"""Real suites no one here wrote: test modules that the stack's numpy, scipy
and scikit-learn ship (Debian's packages, or PyPI's wheels), run through ltest with their packages preloaded in
the kernel and cold, compared test by test (--junitxml), by exit code and by
summary line (warnings counted). pandas' formatting suite is in
test_fidelity_jupyter_shadow.py. The modules are small ones (seconds each
cold) from different corners: printing, floating-point error state, random
generators, deprecations, linear algebra, sparse matrices, special
functions, input validation, encoders, metrics.
"""
import os

import pytest

from conftest import Server, package_dir, serving
from shadow_helpers import junit_outcomes
from fidelity_helpers import assert_same, client_env, cold, warm

SUITES = {
    "numpy": ["core/tests/test_arrayprint.py", "core/tests/test_errstate.py", "core/tests/test_print.py",
              "core/tests/test_deprecations.py", "random/tests/test_random.py"],
    "scipy": ["linalg/tests/test_basic.py", "sparse/tests/test_construct.py", "special/tests/test_basic.py"],
    "sklearn": ["preprocessing/tests/test_label.py", "utils/tests/test_validation.py",
                "metrics/tests/test_regression.py"],
}
# The same by module name (the package then is imported from sys.path, where
# the kernel's copy is already in sys.modules).
PYARGS = {"sklearn-pyargs": ["sklearn.preprocessing.tests.test_encoders", "sklearn.metrics.tests.test_regression"]}
# What a user of these suites would preload (-m): the packages and the
# subpackages the modules test.
PRELOADS = ("numpy", "scipy.linalg", "scipy.sparse", "scipy.special", "sklearn", "sklearn.preprocessing",
            "sklearn.utils", "sklearn.metrics")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from serving(Server(tmp_path_factory.mktemp("real"), modules=PRELOADS))


def suite_args(package):
    """The test modules' paths, or --pyargs and their dotted names."""
    if package.endswith("-pyargs"):
        return ["--pyargs", *PYARGS[package]]
    modules = [os.path.join(package_dir(package), m) for m in SUITES[package]]
    # numpy 2 moved numpy.core to numpy._core (Debian 12's is 1.24, PyPI's 2.x).
    modules = [m if os.path.exists(m) else m.replace(f"{os.sep}core{os.sep}", f"{os.sep}_core{os.sep}") for m in modules]
    missing = [m for m in modules if not os.path.exists(m)]
    assert not missing, f"the {package} package no longer ships {missing}"
    return modules


@pytest.mark.timeout(600)
@pytest.mark.parametrize("package", sorted(SUITES) + sorted(PYARGS))
def test_a_real_suite_equals_cold_test_by_test(server, tmp_path, package):
    w_xml, c_xml = tmp_path / "w.xml", tmp_path / "c.xml"
    args = ("-q", "-p", "no:cacheprovider", "-p", "no:sugar", *suite_args(package))
    env = client_env(server)
    w = warm(server, *args, f"--junitxml={w_xml}", cwd=tmp_path, env=env, timeout=600)
    c = cold(*args, f"--junitxml={c_xml}", cwd=tmp_path, env=env, timeout=600)
    assert_same(w, c)
    assert w.returncode == 0, w.stdout[-3000:] + w.stderr[-3000:]
    outcomes = junit_outcomes(w_xml)
    assert len(outcomes) > 50 and outcomes == junit_outcomes(c_xml)
