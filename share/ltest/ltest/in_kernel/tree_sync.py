"""The kernel's side of "the same code everywhere": a kernel on another host
(a gateway's) compares its copy of the project tree with the client's
manifest (relative path -> sha256 of the content) and takes the files that
differ, so that its runs test the client's code.

compare(request) says which files differ (missing, other content, or files
the client's tree no longer has); write(request) writes the files sent,
each only if its content has the hash the manifest named (content-addressed),
atomically (a temporary file in the same directory, then rename), and
deletes the files the client no longer has. A path that is absolute, holds
`..`, or would be reached through a symlink leading out of the project root
is refused with one line, and nothing is written.

Where the tree is on this host: the client's absolute path (the shared
checkout case), unless the kernel's environment names another root in
LTEST_TREE_ROOT. Which files make the tree: a git checkout's tracked files
plus the untracked ones git does not ignore (`git ls-files --cached
--others --exclude-standard`); elsewhere every file under the root but in
pytest's default norecursedirs (hidden directories, build, dist, venv,
node_modules, *.egg, CVS, _darcs, {arch}), __pycache__, *.egg-info,
virtualenvs (a pyvenv.cfg) and *.pyc/*.pyo. The server's side
(cli/server/tree_manifest.cpp) lists the client's tree by the same rules.
"""
import base64
import hashlib
import os
import socket
import subprocess
import sys
import tempfile

from .result import Reply, remember

ROOT_VARIABLE = "LTEST_TREE_ROOT"
SKIP_DIRS = {"__pycache__", "build", "dist", "node_modules", "venv", "CVS", "_darcs", "{arch}"}
TEMP_PREFIX = ".ltest-sync-"
# Written in a root ltest wrote files into: a copy that is ltest's, whose
# files the client does not have may be deleted (see compare).
MARKER = ".ltest-tree-copy"

# abs path -> (mtime_ns, size, inode, sha256): a warm kernel hashes a file
# again only when its stat changed.
_hashes = {}


def kernel_root(client_root):
    return os.environ.get(ROOT_VARIABLE) or client_root


def _skip_dir(path, name):
    return (name.startswith(".") or name in SKIP_DIRS or name.endswith((".egg", ".egg-info"))
            or os.path.exists(os.path.join(path, name, "pyvenv.cfg")))


def _skip_file(name):
    return name.endswith((".pyc", ".pyo")) or name.startswith(TEMP_PREFIX) or name == MARKER


def _git_files(root):
    """The checkout's files under root, or None when root is not in a git
    checkout (or git is not installed)."""
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             capture_output=True, timeout=120)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return sorted({p for p in out.stdout.decode("utf-8", "surrogateescape").split("\0") if p})


def _walked_files(root):
    found = []
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not _skip_dir(directory, d))
        rel = os.path.relpath(directory, root)
        for name in files:
            if not _skip_file(name):
                found.append(name if rel == "." else os.path.join(rel, name))
    return sorted(found)


def list_tree(root):
    """The tree's files (relative paths) that are regular files (a symlink
    counts as its target's content)."""
    if not os.path.isdir(root):
        return []
    names = _git_files(root)
    if names is None:
        names = _walked_files(root)
    return [n for n in names if not _skip_file(os.path.basename(n)) and os.path.isfile(os.path.join(root, n))]


def file_hash(path):
    """sha256 of the file's content, from the cache while its stat is the same;
    None when it is not a regular file."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not os.path.isfile(path):
        return None
    key = (st.st_mtime_ns, st.st_size, st.st_ino)
    cached = _hashes.get(path)
    if cached and cached[0] == key:
        return cached[1]
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    _hashes[path] = (key, digest.hexdigest())
    return digest.hexdigest()


def manifest(root):
    """{relative path: sha256} of the tree at root."""
    out = {}
    for rel in list_tree(root):
        h = file_hash(os.path.join(root, rel))
        if h is not None:
            out[rel] = h
    return out


def unsafe_reason(root, rel):
    """Why writing or deleting `rel` under `root` is refused, or None."""
    if not isinstance(rel, str) or not rel or "\0" in rel:
        return "not a file name"
    if os.path.isabs(rel):
        return "an absolute path"
    parts = rel.split("/")
    if ".." in parts:
        return "'..' in the path"
    if any(p in ("", ".") for p in parts):
        return "not a normal relative path"
    real_root = os.path.realpath(root)
    # Every directory on the way, and the file itself, must stay inside the
    # root once symlinks are followed.
    path = real_root
    for part in parts:
        path = os.path.join(path, part)
        if os.path.islink(path):
            target = os.path.realpath(path)
            if target != real_root and not target.startswith(real_root + os.sep):
                return f"a symlink on the way leads out of the project root ({path} -> {target})"
    return None


def _refusal(host, root, rel, why):
    return f"{host}: refusing to write {rel!r} under {root}: {why}"


def compare(request):
    """request: {"root": the client's project root, "files": {rel: sha256},
    "listing": "git" or "walk", how the client listed it}, the whole tree; or, with "removed": [rel], only what changed since the
    tree this kernel was last brought to (the server remembers it): then
    only those files are looked at. Remembers and returns {"root": this
    kernel's root, "host", "differ": the paths to send (sorted), "extra":
    this tree's files the client lacks, "unsafe": one line or None}."""
    host = socket.gethostname()
    root = kernel_root(request["root"])
    files = request["files"]
    differ, extra, unsafe = [], [], None
    for rel in sorted(files):
        why = unsafe_reason(root, rel)
        if why:
            unsafe = unsafe or _refusal(host, root, rel, why)
            continue
        if file_hash(os.path.join(root, rel)) != files[rel]:
            differ.append(rel)
    removed = request.get("removed")
    if removed is None:
        # Files the client lacks are deleted only where both sides list the
        # same way, or in a copy ltest wrote: a shared checkout listed by git
        # on the client and walked on a host without git must not lose the
        # files git ignores.
        listed = "git" if _git_files(root) is not None else "walk"
        if listed == request.get("listing", listed) or os.path.exists(os.path.join(root, MARKER)):
            extra = [rel for rel in list_tree(root) if rel not in files and not unsafe_reason(root, rel)]
    else:
        extra = sorted(rel for rel in removed if not unsafe_reason(root, rel) and os.path.isfile(os.path.join(root, rel)))
    return remember(Reply(root=root, host=host, differ=differ, extra=extra, unsafe=unsafe))


def _write_one(path, data, mode):
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(temp, mode)
        os.replace(temp, path)  # atomic: a reader sees the old file or the new one
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise


def write(request):
    """request: {"root": the client's root, "files": {rel: {"sha256", "data":
    base64, "exec": bool}}, "delete": [rel]}; with "if_differs": true a file
    this tree already has with that content is left alone (the server sends
    what changed on the client since the last sync in one request: in a
    shared checkout the host has it already). Checks every path and hash
    before it writes anything. Remembers and returns {"root", "host",
    "written", "deleted",
    "stale_modules": modules this kernel imported from a file that changed
    (the kernel must be started again to run the new code), "error": one
    line or None}."""
    host = socket.gethostname()
    root = kernel_root(request["root"])
    files, delete = request.get("files", {}), request.get("delete", [])
    contents = {}
    for rel in sorted(files) + sorted(delete):
        why = unsafe_reason(root, rel)
        if why:
            return remember(Reply(written=[], deleted=[], stale_modules=[], error=_refusal(host, root, rel, why)))
    for rel, entry in files.items():
        data = base64.b64decode(entry["data"])
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            return remember(Reply(written=[], deleted=[], stale_modules=[],
                                  error=f"{host}: the content sent for {rel!r} does not have its sha256"))
        if request.get("if_differs") and file_hash(os.path.join(root, rel)) == entry["sha256"]:
            continue
        contents[rel] = (data, 0o755 if entry.get("exec") else 0o644)
    changed = set()
    if contents:
        os.makedirs(root, exist_ok=True)
        with open(os.path.join(root, MARKER), "w") as marker:
            marker.write("A copy of a project tree that ltest keeps (tree_sync.py): its files may be replaced or deleted.\n")
    for rel in sorted(contents):
        path = os.path.join(root, rel)
        _write_one(path, *contents[rel])
        changed.add(os.path.realpath(path))
    deleted = []
    for rel in sorted(delete):
        path = os.path.join(root, rel)
        changed.add(os.path.realpath(path))
        try:
            os.unlink(path)
            deleted.append(rel)
        except FileNotFoundError:
            pass
    stale = stale_modules(changed)
    if changed:
        _discard_spares()
    return remember(Reply(root=root, host=host, written=sorted(contents), deleted=deleted, stale_modules=stale,
                          error=None))


def stale_modules(changed_files):
    """Modules this kernel imported from one of these files, which its test
    processes would inherit: all but the user's own preloaded packages, which
    each test process imports afresh (preload.py)."""
    from . import preload
    own = preload._own_roots
    return sorted(name for name, module in list(sys.modules.items())
                  if name.split(".")[0] not in own and isinstance(getattr(module, "__file__", None), str)
                  and os.path.realpath(module.__file__) in changed_files)


def _discard_spares():
    """Test processes forked ahead of time may have imported the old files."""
    try:
        from . import spare
    except ImportError:
        return
    spare.discard()
