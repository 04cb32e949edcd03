"""Fidelity: output on a pty has the client's terminal's colour and width,
piped output is plain, and the debugger talks to the client's stdin."""
import re

import pytest

from conftest import write_files
from fidelity_helpers import ANSI, both, client_env, normalised, pty_both
from fidelity_helpers import server  # noqa: F401 (the module-scoped fixture)


# --- terminal ----------------------------------------------------------------

TERM_SUITE = {"test_term.py": """
    def test_pass(): pass
    def test_fail(): assert [1, 2] == [1, 3]
"""}


@pytest.mark.parametrize("columns", [97, 52])
def test_pty_output_has_colour_and_the_terminals_width(server, tmp_path, columns):
    root = write_files(tmp_path, TERM_SUITE)
    (wcode, wout), (ccode, cout) = pty_both(server, root, columns, client_env(server), "-p", "no:cacheprovider")
    assert wcode == ccode == 1, wout
    assert "\x1b[" in wout and "\x1b[" in cout
    seps = [l for l in ANSI.sub("", wout).splitlines() if re.fullmatch(r"[=_]+ .* [=_]+", l)]
    assert seps and all(len(l) == columns for l in seps), seps
    # Byte for byte what plain pytest writes, colours and all (but the timing).
    assert normalised(wout) == normalised(cout)


@pytest.mark.parametrize("var,value", [("NO_COLOR", "1"), ("PY_COLORS", "0"), ("TERM", "dumb")])
def test_no_colour_on_a_pty_when_the_client_says_so(server, tmp_path, var, value):
    root = write_files(tmp_path, TERM_SUITE)
    # pytest-sugar paints whatever the terminal says (cold too): pytest's own colour is the subject.
    (wcode, wout), (ccode, cout) = pty_both(server, root, 80, client_env(server, **{var: value}), "-p",
                                            "no:cacheprovider", "-p", "no:sugar")
    assert wcode == ccode == 1
    assert "\x1b[" not in wout and "\x1b[" not in cout, wout
    assert normalised(wout) == normalised(cout)


@pytest.mark.parametrize("var,value,coloured", [(None, None, False), ("PY_COLORS", "1", True),
                                                ("FORCE_COLOR", "1", True)])
def test_piped_output_is_plain_unless_colour_is_forced(server, tmp_path, var, value, coloured):
    root = write_files(tmp_path, TERM_SUITE)
    env = client_env(server, **({var: value} if var else {}))
    w, c = both(server, root, "-p", "no:cacheprovider", env=env)
    assert w.returncode == c.returncode == 1
    assert ("\x1b[" in w.stdout) == ("\x1b[" in c.stdout) == coloured, w.stdout
    assert normalised(w.stdout) == normalised(c.stdout)


# --- the debugger --------------------------------------------------------------

PDB_SUITE = {
    "test_pdb.py": "def test_fails():\n    x = 41\n    assert x == 42\n",
    "test_bp.py": "def test_bp():\n    y = 5\n    breakpoint()\n    assert y == 5\n",
}


@pytest.mark.parametrize("args,stdin,shows", [
    (("--pdb", "test_pdb.py"), "p 1+1\nc\n", "(Pdb) 2"),
    (("--pdb", "test_pdb.py"), "p x\nq\n", "(Pdb) 41"),
    (("test_bp.py",), "p y*2\nc\n", "(Pdb) 10"),
    (("test_bp.py",), "", "(Pdb)"),  # EOF at the prompt
], ids=["pdb-continue", "pdb-quit", "breakpoint", "breakpoint-eof"])
def test_debugger_talks_to_the_clients_stdin(server, tmp_path, args, stdin, shows):
    root = write_files(tmp_path, PDB_SUITE)
    w, c = both(server, root, "-q", "-p", "no:cacheprovider", *args, input=stdin)
    assert w.returncode == c.returncode, w.stdout + w.stderr
    assert shows in w.stdout and shows in c.stdout, w.stdout
    assert "ipdb>" not in w.stdout
    assert normalised(w.stdout) == normalised(c.stdout)
