"""Fidelity in Jupyter's shadow: what preloading must not change
(import-time warnings, the user's own package, a checkout that shadows an
installed module, packages installed later, `-n` reports, torch after a
parallel op in the kernel); against a cold `python3 -m pytest` (shadow_helpers.py).
"""
import subprocess

import pytest

from conftest import ltest_binary, summary_line, write_files
from shadow_helpers import USER_SITE, env_of, junit_outcomes, lines, same_marked
from shadow_helpers import server  # noqa: F401 (the module-scoped fixture)
from fidelity_helpers import assert_same, both, client_env, cold, warm


WARNS_AT_IMPORT = {"test_legacy.py": """
    import legacy_fid

    def test_uses_it():
        assert legacy_fid.VALUE == 1
"""}


# The error filter scoped to the test's module (legacy_fid warns at its importer):
# installed plugins warn too at start-up, pytest-asyncio 1.x a PytestDeprecationWarning
# that an unscoped filter makes an INTERNALERROR, cold as warm.
@pytest.mark.parametrize("args", [(), ("-W", "error::DeprecationWarning:test_legacy")], ids=["summary", "error"])
def test_a_preloaded_modules_import_warning_is_seen_as_cold(server, tmp_path, args):
    root = write_files(tmp_path, WARNS_AT_IMPORT)
    w, c = both(server, root, "-p", "no:cacheprovider", *args, env=env_of(server))
    assert_same(w, c)
    assert "legacy_fid is deprecated" in w.stdout, w.stdout
    assert summary_line(w.stdout) == ("1 passed, 1 warning" if not args else "1 error"), w.stdout


def test_sharded_run_reports_as_the_serial_run(server, tmp_path):
    root = write_files(tmp_path, {"test_many.py": """
        import warnings, pytest

        @pytest.mark.parametrize("n", range(6))
        def test_p(n):
            warnings.warn(f"w{n}", UserWarning)

        @pytest.mark.skip(reason="sample suite: a skip -n must report in -rA and --junitxml as a serial run does")
        def test_skip(): pass

        def test_skip_inside(): pytest.skip("inside")

        @pytest.mark.xfail
        def test_xf(): assert 0

        def test_fail(): assert 1 == 2
    """})
    w_xml, c_xml = tmp_path / "w.xml", tmp_path / "c.xml"
    env = env_of(server)
    w = subprocess.run([ltest_binary(), "-p", str(server.port), "-n", "2", "--", "-rA", f"--junitxml={w_xml}",
                        "-p", "no:cacheprovider"], cwd=root, env=env, capture_output=True, text=True, timeout=120)
    c = cold("-rA", f"--junitxml={c_xml}", "-p", "no:cacheprovider", cwd=root, env=env)
    assert_same(w, c)
    assert summary_line(w.stdout) == "1 failed, 6 passed, 2 skipped, 1 xfailed, 6 warnings", w.stdout
    assert junit_outcomes(w_xml) == junit_outcomes(c_xml)
    assert sorted(l for l in w.stdout.splitlines() if l.startswith(("SKIPPED", "PASSED", "XFAIL", "FAILED"))) == \
        sorted(l for l in c.stdout.splitlines() if l.startswith(("SKIPPED", "PASSED", "XFAIL", "FAILED")))


OWN_SUITE = {"test_own.py": """
    import mypkg_fid
    from mypkg_fid import models

    def test_one_copy():
        print("OWN", isinstance(models.Model(), mypkg_fid.Model), models.register(1), len(mypkg_fid.REGISTRY))

    def test_rewritten():
        models.check(3)
"""}


def test_a_preloaded_package_of_the_users_own_is_one_rewritten_copy(server, tmp_path):
    root = write_files(tmp_path, OWN_SUITE)
    w, c = same_marked(server, root, "OWN")
    assert lines(w, "OWN") == ["OWN True 1 1"]
    explained = [l for l in w.stdout.splitlines() if l.startswith("E ")]
    assert explained and explained == [l for l in c.stdout.splitlines() if l.startswith("E ")]


def test_coverage_of_a_preloaded_package_of_the_users_own_is_as_cold(server, tmp_path):
    root = write_files(tmp_path, OWN_SUITE)
    w, c = both(server, root, "-q", "-p", "no:cacheprovider", "--cov=mypkg_fid", "--cov-report=term",
                env=env_of(server))
    assert w.returncode == c.returncode == 1
    total = [l for l in w.stdout.splitlines() if l.startswith("TOTAL")]
    assert total and total == [l for l in c.stdout.splitlines() if l.startswith("TOTAL")], w.stdout + c.stdout


def test_a_checkout_in_the_project_shadows_the_kernels_copy(server, tmp_path):
    root = write_files(tmp_path, {
        "shadowpkg_fid/__init__.py": "ORIGIN = 'checkout'\n",
        "test_shadow.py": "import shadowpkg_fid\ndef test_origin(): print('ORIGIN', shadowpkg_fid.ORIGIN)\n",
    })
    w, _ = same_marked(server, root, "ORIGIN")
    assert lines(w, "ORIGIN") == ["ORIGIN checkout"]


def test_a_pth_file_added_after_the_server_started_is_seen(server, tmp_path):
    late = write_files(tmp_path / "late", {"late_fid.py": "WHERE = 'late'\n"})
    root = write_files(tmp_path / "suite", {"test_late.py": "import late_fid\ndef test_late(): print('LATE', late_fid.WHERE)\n"})
    if server.userbase is None:
        pytest.skip("this stack's python has no user site (a virtualenv): no site directory of the test's own")
    pth = server.userbase / USER_SITE / "late_fid.pth"
    pth.write_text(f"{late}\n")
    try:
        w, _ = same_marked(server, root, "LATE")
    finally:
        pth.unlink()
    assert lines(w, "LATE") == ["LATE late"]


TORCH_SUITE = {"test_torch.py": """
    import sys
    import sklearn.linear_model
    import torch

    def test_matmul_and_fit():
        a = torch.ones(800, 800)
        assert float((a @ a)[0, 0]) == 800.0
        model = sklearn.linear_model.LinearRegression().fit([[0], [1], [2]], [0, 1, 2])
        assert round(float(model.coef_[0]), 6) == 1.0
        print("TORCH", "ipykernel" in sys.modules, "zmq" in sys.modules, torch.initial_seed() != 0)
"""}


@pytest.mark.timeout(300)
def test_torch_after_a_parallel_op_in_the_kernel_runs(start_server, tmp_path):
    """A notebook sharing the kernel ran a 2-thread matmul (OpenMP's pool now
    has threads there, which a fork does not get): the next run must not hang
    on its first torch op; it descends from the template forked at warm-up
    (in_kernel/template.py), which never ran a pool, so torch keeps its 2
    threads as cold has them, and nothing is limited."""
    from jupyter_client import BlockingKernelClient
    server = start_server(modules=["torch", "sklearn.linear_model"], extra_env={"OMP_NUM_THREADS": "2"})
    root = write_files(tmp_path / "suite", TORCH_SUITE)
    env = client_env(server, OMP_NUM_THREADS="2")
    w = warm(server, "-q", "-s", "-p", "no:cacheprovider", cwd=root, env=env)
    assert w.returncode == 0 and "TORCH False False True" in w.stdout, w.stdout + w.stderr
    assert "torch limited" not in w.stderr  # no pool in the kernel yet: torch keeps its threads
    kc = BlockingKernelClient(connection_file=server.status()["connection_file"])
    kc.load_connection_file()
    kc.start_channels()
    try:
        reply = kc.execute_interactive("import torch; a = torch.ones(800, 800); b = a @ a", timeout=60)
        assert reply["content"]["status"] == "ok"
    finally:
        kc.stop_channels()
    r = subprocess.run([ltest_binary(), "-p", str(server.port), "--timeout", "60", "--", "-q", "-s", "-p",
                        "no:cacheprovider"], cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "TORCH False False True" in r.stdout, r.stdout + r.stderr
    assert "torch limited" not in r.stderr and "may hang" not in r.stderr, r.stderr
    c = cold("-q", "-s", "-p", "no:cacheprovider", cwd=root, env=env)
    assert c.returncode == 0 and "TORCH False False True" in c.stdout
