"""Where the interpreter's own modules live, as opposed to the user's code."""
import functools
import os
import site
import sys


@functools.lru_cache(maxsize=None)
def system_dirs():
    """Real paths (with a trailing separator) of the prefixes and site-packages."""
    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    try:
        dirs.update(site.getsitepackages())
        dirs.add(site.getusersitepackages())
    except AttributeError:  # site without these (virtualenv's old site.py)
        pass
    return tuple(os.path.realpath(d) + os.sep for d in dirs if d)
