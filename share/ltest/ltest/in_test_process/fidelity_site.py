"""Packages installed after the kernel started, as a new interpreter sees them.

site.py reads the site directories and their .pth files once, at start: a
package installed since (editable ones are a .pth file; a first `pip
install --user` creates the user site directory) is missing from the
kernel's sys.path. The kernel notes what each site directory held when the
runtime loaded; the test process runs site processing again for the
directories whose .pth files changed, or that appeared, and clears the
import system's directory caches when one did.
"""
import importlib
import os
import site
import sys


def site_directories():
    dirs = []
    try:
        dirs += site.getsitepackages()
        if site.ENABLE_USER_SITE:
            dirs.append(site.getusersitepackages())
    except AttributeError:  # an old virtualenv's site.py
        pass
    return dirs


def pth_state(directory):
    """(name, mtime) of the directory's .pth files; None if it does not exist."""
    try:
        with os.scandir(directory) as entries:
            return frozenset((e.name, e.stat().st_mtime_ns) for e in entries if e.name.endswith(".pth"))
    except OSError:
        return None


def _mtime(directory):
    try:
        return os.stat(directory).st_mtime_ns
    except OSError:
        return None


def snapshot(dirs=None):
    return {d: pth_state(d) for d in (site_directories() if dirs is None else dirs)}



_AT_START = snapshot()
# Installing creates (or, as pip does, replaces) files, which changes the
# directory's mtime: a run reads the .pth lists of changed directories only
# (dist-packages holds thousands of entries).
_MTIMES_AT_START = {d: _mtime(d) for d in _AT_START}


def changed_pth_files(before, now):
    """{site directory: .pth names new or changed since `before`}, for the
    directories that exist now and differ (a new directory: all its files)."""
    out = {}
    for directory, state in now.items():
        if state is None or state == before.get(directory):
            continue
        old = before.get(directory) or frozenset()
        out[directory] = sorted(name for name, mtime in state if (name, mtime) not in old)
    return out


def see_new_installs(before=None):
    """Puts the site directories that appeared on sys.path and processes the
    .pth files that are new or changed, as site.py does at start (paths
    appended, `import` lines run); .pth files already processed are not run
    twice. Returns {directory: .pth names}."""
    if before is None:
        before, dirs = _AT_START, [d for d in _AT_START if _mtime(d) != _MTIMES_AT_START.get(d)]
    else:
        dirs = list(before)
    if not dirs:
        return {}
    changed = changed_pth_files(before, snapshot(dirs))
    if changed:
        importlib.invalidate_caches()
        known = {os.path.normcase(os.path.abspath(p)) for p in sys.path if isinstance(p, str)}
        for directory, names in changed.items():
            if os.path.normcase(os.path.abspath(directory)) not in known:
                sys.path.append(directory)
                known.add(os.path.normcase(os.path.abspath(directory)))
            for name in names:
                site.addpackage(directory, name, known)
    return changed
