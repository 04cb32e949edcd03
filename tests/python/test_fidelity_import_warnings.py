"""fidelity_import_warnings: modules whose import warned in the kernel are
held out of sys.modules in the test process and replay their warnings at
the import that would have run them, once."""
import sys
import warnings

import pytest

from ltest.in_kernel import fidelity_preload
from ltest.in_test_process import fidelity_import_warnings as fiw
from forked import in_fork

PACKAGE = {
    "legacy_u/__init__.py": "from . import old\nVALUE = 1\n",
    "legacy_u/old.py": "import warnings\nwarnings.warn('legacy_u.old is deprecated', DeprecationWarning, stacklevel=2)\n",
    "legacy_u/other.py": "OTHER = 2\n",
    "plain_u.py": "import warnings\nwarnings.warn('plain_u warns', UserWarning)\n",
}


@pytest.fixture
def kernel_like(tmp_path, monkeypatch):
    """The package imported 'in the kernel' under preloading's recording."""
    for path, text in PACKAGE.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(fiw, "_recorded", [])
    monkeypatch.setattr(fiw, "_planned", {})
    return tmp_path


def _preload(*names):
    import importlib
    with fidelity_preload.recording():
        for name in names:
            importlib.import_module(name)


def test_warnings_of_the_kernels_own_imports_are_not_replayed():
    assert fiw.kernel_only(("torch", "tqdm.auto", "tqdm.autonotebook"))
    assert fiw.kernel_only(("ipykernel.kernelbase",))
    assert not fiw.kernel_only(("legacy",))


def test_trees_are_split_at_the_nearest_held_root():
    names = ["a", "a.b", "a.b.c", "a.x", "ab", "z"]
    assert fiw.held_trees(["a", "a.b"], names) == {"a": ["a", "a.x"], "a.b": ["a.b", "a.b.c"]}
    assert fiw.under(names, ["a.b", "z"]) == ["a.b", "a.b.c", "z"]


def test_a_held_package_is_out_of_sys_modules_until_imported_then_warns_once_at_the_import(kernel_like):
    _preload("legacy_u", "legacy_u.other")
    assert [(w[1], w[4]) for w in fiw.recorded()] == [("legacy_u.old is deprecated", ("legacy_u", "legacy_u.old"))]

    def test_process():
        kernels = sys.modules["legacy_u"]
        fiw.plan()
        finder = fiw.install_replay()
        state = ["legacy_u" in sys.modules, "legacy_u.old" in sys.modules, finder in sys.meta_path]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            from legacy_u import other  # noqa: F401  (line below: the import statement the warning names)
            import legacy_u
            import legacy_u.old  # noqa: F401
        state += [legacy_u is kernels, "legacy_u.old" in sys.modules, finder in sys.meta_path,
                  type(legacy_u.__spec__).__name__, legacy_u.__spec__.name]
        return state, [(str(w.message), w.filename == __file__, w.category.__name__) for w in caught]

    state, caught = in_fork(test_process)
    assert state == [False, False, True, True, True, False, "ModuleSpec", "legacy_u"]
    assert caught == [["legacy_u.old is deprecated", True, "DeprecationWarning"]]


def test_an_error_filter_makes_the_triggering_import_fail_and_a_module_the_process_dropped_warns_itself(
        kernel_like):
    _preload("plain_u", "legacy_u")

    def test_process():
        del sys.modules["legacy_u"], sys.modules["legacy_u.old"], sys.modules["legacy_u.other"]  # as evicted
        fiw.install_replay()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            try:
                import plain_u  # noqa: F401
                failed = None
            except UserWarning as e:
                failed = str(e)
        return failed, "plain_u" in sys.modules, [w[1] for w in fiw.still_held(fiw.recorded(), sys.modules)]

    assert in_fork(test_process) == ["plain_u warns", False, []]


def test_nothing_recorded_holds_nothing(monkeypatch):
    monkeypatch.setattr(fiw, "_recorded", [])
    assert fiw.install_replay() is None


def test_a_kernel_only_library_is_held_without_warnings_and_served_back(kernel_like, monkeypatch):
    monkeypatch.setattr(fiw, "_unimported", set())
    import legacy_u.other  # noqa: F401  (imported 'by the kernel', without a warning recorded: no chain)
    fiw.hold_unimported(["plain_missing_fid", "legacy_u"])

    def test_process():
        finder = fiw.install_replay()
        state = ["legacy_u" in sys.modules, "legacy_u.other" in sys.modules]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import legacy_u.other  # noqa: F811
        return state + ["legacy_u.other" in sys.modules, finder in sys.meta_path, len(caught)]

    assert in_fork(test_process) == [False, False, True, False, 0]


@pytest.mark.skipif(sys.version_info < (3, 11), reason="positions in code objects: Python 3.11 on")
@pytest.mark.parametrize("positions", [(3, 3, 0, 52), (5, 5, 4, 30), (2, 4, 0, 1), (1, 1, 0, 6)])
def test_a_replayed_warning_raises_at_its_calls_own_positions(positions):
    """Under -W error a traceback shows the module's frame at the warning
    call's line and columns (pytest 9 underlines a call that does not cover
    its whole line): the replay's frame has the cold call's positions."""
    code, globals_ = fiw._raised_at(("legacy.py", positions[0], positions), "legacy")

    def warn():
        raise DeprecationWarning("as an error")
    globals_["warn"] = warn
    with pytest.raises(DeprecationWarning) as raised:
        exec(code, globals_)
    module_frame = raised.tb.tb_next  # exec's frame: the replayed module's
    assert module_frame.tb_frame.f_code.co_filename == "legacy.py" and module_frame.tb_lineno == positions[0]
    assert list(module_frame.tb_frame.f_code.co_positions())[module_frame.tb_lasti // 2] == positions
