"""Has anything a prepared spare read changed? inotify, through ctypes.

The spare (the test process of the next run, prepared ahead) adds a watch on
every directory it read files from and passes the inotify fd to the kernel
(SCM_RIGHTS). The kernel reads the events: at the hand-over (the event of a
save is queued by the write itself, so a file saved before `ltest` ran is
always seen) and from its event loop, to prepare a fresh spare after an edit.

Each watch has a kind, saying which names in its directory matter:
  "code"  -- Python sources and extensions, .pth files, pytest's ini files, conftest.py
  "ini"   -- pytest's ini files and conftest.py (the cwd's ancestors: rootdir and inifile search)
  "any"   -- every entry (site-packages: a package installed since)
Editors' temporary files (vim's .swp and 4913, backups ending in ~) are
none of these, so saving with them leaves the spare prepared.
"""
import ctypes
import errno
import functools
import os
import struct

_IN_MODIFY = 0x002
_IN_ATTRIB = 0x004
_IN_CLOSE_WRITE = 0x008
_IN_MOVED_FROM = 0x040
_IN_MOVED_TO = 0x080
_IN_CREATE = 0x100
_IN_DELETE = 0x200
_IN_DELETE_SELF = 0x400
_IN_MOVE_SELF = 0x800
_IN_Q_OVERFLOW = 0x4000
_IN_IGNORED = 0x8000
_IN_ONLYDIR = 0x01000000
_IN_NONBLOCK = 0o4000
_IN_CLOEXEC = 0o2000000
_MASK = (_IN_MODIFY | _IN_ATTRIB | _IN_CLOSE_WRITE | _IN_MOVED_FROM | _IN_MOVED_TO | _IN_CREATE | _IN_DELETE
         | _IN_DELETE_SELF | _IN_MOVE_SELF | _IN_ONLYDIR)
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len; then len bytes of name

INI_NAMES = ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg", "conftest.py")
_CODE_SUFFIXES = (".py", ".pyc", ".so", ".pth")


@functools.lru_cache(maxsize=None)
def _lib():
    return ctypes.CDLL(None, use_errno=True)


class WatchError(OSError):
    pass


def open_watch():
    """A new non-blocking inotify fd."""
    fd = _lib().inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
    if fd < 0:
        raise WatchError(ctypes.get_errno(), "inotify_init1: " + os.strerror(ctypes.get_errno()))
    return fd


def add(fd, directory):
    """Watches directory; returns its watch descriptor (the same one again for
    a directory already watched)."""
    wd = _lib().inotify_add_watch(fd, os.fsencode(directory), _MASK)
    if wd < 0:
        err = ctypes.get_errno()
        raise WatchError(err, f"inotify_add_watch {directory}: {os.strerror(err)}")
    return wd


def matters(kind, name):
    """Does an event on name, in a directory watched as kind, change what a
    prepared spare read? An event on the directory itself (no name) always does."""
    if not name:
        return True
    if kind == "any":
        return True
    if name in INI_NAMES:
        return True
    return kind == "code" and name.endswith(_CODE_SUFFIXES)


def changed(fd, kinds):
    """True if an event that matters is queued on fd (kinds: wd -> kind, as
    the spare sent them). Reads what is queued; never blocks. An overflowed
    queue, or a watch the kernel removed, counts as a change."""
    while True:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return False
        except OSError as e:
            if e.errno == errno.EINTR:
                continue
            return True
        if not data:
            return True
        for wd, mask, name in _events(data):
            if mask & (_IN_Q_OVERFLOW | _IN_IGNORED | _IN_DELETE_SELF | _IN_MOVE_SELF):
                return True
            if matters(kinds.get(wd, "any"), name):
                return True


def _events(data):
    offset = 0
    while offset + _EVENT.size <= len(data):
        wd, mask, _cookie, length = _EVENT.unpack_from(data, offset)
        raw = data[offset + _EVENT.size:offset + _EVENT.size + length]
        offset += _EVENT.size + length
        yield wd, mask, os.fsdecode(raw.rstrip(b"\0"))
