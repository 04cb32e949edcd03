"""Shared by the Jupyter-shadow fidelity tests: one server per
test module with pandas, tqdm.auto and matplotlib.pyplot preloaded
(libraries that decide at import whether they run in a notebook), a
third-party module that warns at import, a third-party package that the
project's checkout shadows (both in a user site directory of the tests' own,
PYTHONUSERBASE), and a package of the user's own (PYTHONPATH); and helpers
to compare a run through ltest with a cold `python3 -m pytest`.
"""
import sys

import pytest

from conftest import Server, installed, stack_has_user_site, write_files
from fidelity_helpers import assert_same, both, client_env

USER_SITE = f"lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages"

SITE_FILES = {
    "legacy_fid.py": """
        import warnings
        warnings.warn("legacy_fid is deprecated", DeprecationWarning, stacklevel=2)
        VALUE = 1
    """,
    "shadowpkg_fid/__init__.py": "ORIGIN = 'site-packages'\n",
}
OWN_FILES = {
    "mypkg_fid/__init__.py": """
        from .models import Model
        REGISTRY = []
    """,
    "mypkg_fid/models.py": """
        class Model:
            pass

        def register(x):
            from . import REGISTRY
            REGISTRY.append(x)
            return len(REGISTRY)

        def check(x):
            assert x == 2
    """,
}


def start_shadow_server(tmp_path_factory):
    base = tmp_path_factory.mktemp("shadow")
    write_files(base / "own", OWN_FILES)
    if stack_has_user_site():
        write_files(base / "userbase" / USER_SITE, SITE_FILES)
        env = {"PYTHONUSERBASE": str(base / "userbase"), "PYTHONPATH": str(base / "own")}
    else:  # the third-party code installed in a PYTHONPATH directory instead
        write_files(base / "installed", installed(SITE_FILES))
        env = {"PYTHONPATH": f"{base / 'own'}:{base / 'installed'}"}
    preload = ("pandas", "tqdm.auto", "matplotlib.pyplot", "legacy_fid", "shadowpkg_fid", "mypkg_fid")
    s = Server(base, modules=preload, extra_env=env)
    try:
        s.start(timeout=300)
        assert s.proc.poll() is None, s.log.read_text()
    except BaseException:
        s.stop()
        raise
    s.userbase = base / "userbase" if "PYTHONUSERBASE" in env else None
    return s


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The shadow server of one test module (import this name to use it)."""
    s = start_shadow_server(tmp_path_factory)
    yield s
    s.stop()


def env_of(server, **changes):
    """The client's environment: the server's (its PYTHONUSERBASE and
    PYTHONPATH too) without the harness's noise."""
    changes.setdefault("PYTHONPATH", server.env["PYTHONPATH"])
    return client_env(server, **changes)


def lines(result, mark):
    return [l for l in result.stdout.splitlines() if l.startswith(mark)]


def same_marked(server, root, mark, *args, env=None):
    w, c = both(server, root, "-q", "-s", "-p", "no:cacheprovider", *args, env=env or env_of(server))
    assert_same(w, c)
    assert lines(w, mark) == lines(c, mark) and lines(c, mark), f"ltest:\n{w.stdout}{w.stderr}\ncold:\n{c.stdout}"
    return w, c


def junit_outcomes(path):
    import xml.etree.ElementTree as ET
    return sorted((case.get("classname"), case.get("name"), tuple(sorted(child.tag for child in case)))
                  for case in ET.parse(path).getroot().iter("testcase"))
