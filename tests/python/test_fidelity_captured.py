"""fidelity_captured.py: what libraries fixed at import, re-derived for the
run's cwd and environment (on stand-in modules with the libraries' names;
the real libraries: tests/integration/test_fidelity_captured.py)."""
import pathlib
import threading
import types

from ltest.in_test_process import fidelity_captured as fc


def module(name, **values):
    m = types.ModuleType(name)
    m.__dict__.update(values)
    return m


def test_hypothesis_home_is_the_runs_cwd_and_fixed_again_on_first_use():
    configuration = module("hypothesis.configuration", __hypothesis_home_directory_default="/server/.hypothesis",
                           __hypothesis_home_directory="/server/.hypothesis")
    modules = {"hypothesis": module("hypothesis"), "hypothesis.configuration": configuration}
    fc.rederive({}, "/client/tests", {}, "/server", modules)
    assert configuration.__dict__["__hypothesis_home_directory_default"] == "/client/tests/.hypothesis"
    assert configuration.__dict__["__hypothesis_home_directory"] is None
    configuration.__dict__["__hypothesis_home_directory_default"] = pathlib.Path("/server/.hypothesis")
    fc.rederive({}, "/c", {}, "/server", modules)
    assert configuration.__dict__["__hypothesis_home_directory_default"] == pathlib.Path("/c/.hypothesis")


def test_a_hypothesis_without_those_names_is_evicted():
    modules = {"hypothesis": module("hypothesis"), "hypothesis.configuration": module("hypothesis.configuration"),
               "hypothesis.core": module("hypothesis.core"), "hypothesis_extra": module("hypothesis_extra")}
    fc.rederive({}, "/c", {}, "/server", modules)
    assert list(modules) == ["hypothesis_extra"]


def hypothesis_with_ci_detection():
    configuration = module("hypothesis.configuration", __hypothesis_home_directory_default="/server/.hypothesis",
                           __hypothesis_home_directory=None)
    settings = module("hypothesis._settings", _CI_VARS={"CI": None, "GITHUB_ACTIONS": "true"})
    return {"hypothesis": module("hypothesis"), "hypothesis.configuration": configuration,
            "hypothesis._settings": settings}


def test_a_hypothesis_imported_on_the_other_side_of_ci_detection_is_evicted():
    """hypothesis 6.131+ loads its "ci" profile at import when the environment
    names a CI service: the run's environment must decide, as for cold."""
    for run_env, kernel_env in (({"CI": "1"}, {}), ({}, {"CI": ""}), ({"GITHUB_ACTIONS": "true"}, {})):
        modules = hypothesis_with_ci_detection()
        fc.rederive(run_env, "/c", kernel_env, "/server", modules)
        assert modules == {}, (run_env, kernel_env)


def test_a_hypothesis_on_the_same_side_of_ci_detection_is_kept():
    for run_env, kernel_env in (({"CI": "1"}, {"CI": "true"}), ({}, {}), ({"GITHUB_ACTIONS": "false"}, {})):
        modules = hypothesis_with_ci_detection()
        fc.rederive(run_env, "/c", kernel_env, "/server", modules)
        assert modules["hypothesis.configuration"].__dict__["__hypothesis_home_directory_default"] == "/c/.hypothesis"


def test_multiprocessing_and_sklearn_take_the_runs_cwd_and_variables():
    local = threading.local()
    local.global_config = {"assume_finite": False}
    config = module("sklearn._config", _global_config={"assume_finite": False, "working_memory": 1024},
                    _threadlocal=local)
    process = module("multiprocessing.process", ORIGINAL_DIR="/server")
    modules = {"sklearn._config": config, "multiprocessing.process": process}
    fc.rederive({"SKLEARN_ASSUME_FINITE": "1", "SKLEARN_WORKING_MEMORY": "64"}, "/client", {}, "/server", modules)
    assert config._global_config == {"assume_finite": True, "working_memory": 64}
    assert not hasattr(local, "global_config")
    assert process.ORIGINAL_DIR == "/client"


def test_matplotlib_imported_with_another_home_is_named(tmp_path):
    modules = {"matplotlib": module("matplotlib")}
    same = {"HOME": "/h"}
    assert fc.rederive(same, str(tmp_path), same, str(tmp_path), modules) == []
    notes = fc.rederive({"HOME": "/other"}, str(tmp_path), same, str(tmp_path), modules)
    assert len(notes) == 1 and "matplotlib" in notes[0] and "HOME" in notes[0]
    (tmp_path / "here").mkdir()
    (tmp_path / "here" / "matplotlibrc").write_text("backend: agg\n")
    notes = fc.rederive(same, str(tmp_path / "here"), same, str(tmp_path), modules)
    assert len(notes) == 1 and "matplotlibrc" in notes[0]
