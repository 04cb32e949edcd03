"""State that libraries fixed at import from the process's context (cwd,
HOME, TMPDIR, environment variables), re-derived for the run's context.

A preloaded or learned module was imported in the kernel, in the server's
directory and environment; a cold `python -m pytest` imports it in the
client's. Measured (a scan of each library's module globals for the cwd,
HOME, TMPDIR and an environment value they were imported with; Debian's
stack): hypothesis's example database directory (`.hypothesis` of the cwd),
multiprocessing's ORIGINAL_DIR (the cwd: spawn's path to the main module),
the user base (HOME: sysconfig, site, distutils), scikit-learn's global
config (SKLEARN_* variables); matplotlib's configuration and cache
directories and matplotlibrc (HOME, MPLCONFIGDIR, XDG_*, the cwd's
matplotlibrc), which are cached in functions and read into rcParams and the
font manager at import: not re-derived, named in a warning line when the
run's context gives another file (README: Known limits). numpy, scipy,
pandas, sympy and astropy hold none. Each recipe touches one library's
private names; a version without them has that library evicted (imported
afresh by the run), never a wrong result.
"""
import os
import sys


def rederive(env, cwd, kernel_env, kernel_cwd, modules=None):
    """Applies every recipe for the modules present; returns warnings.
    kernel_env, kernel_cwd: the context the kernel imported them in (None:
    the run's own)."""
    modules = sys.modules if modules is None else modules
    kernel_env = env if kernel_env is None else kernel_env
    kernel_cwd = cwd if kernel_cwd is None else kernel_cwd
    notes = []
    _hypothesis(modules, cwd, env, kernel_env)
    _multiprocessing(modules, cwd)
    _user_base(modules, env, kernel_env)
    _sklearn(modules, env)
    notes.append(_matplotlib(modules, env, cwd, kernel_env, kernel_cwd))
    return [n for n in notes if n]


def _evict(modules, root):
    for name in [n for n in modules if n == root or n.startswith(root + ".")]:
        modules.pop(name, None)


def _hypothesis(modules, cwd, env, kernel_env):
    """hypothesis.configuration: the default home `.hypothesis` is the cwd's
    at import, the home itself fixed at the first use (from
    HYPOTHESIS_STORAGE_DIRECTORY, else that default). hypothesis._settings:
    from 6.131 its "ci" profile (no example database, derandomized) is loaded
    at import when the environment names a CI service (`CI`, `GITHUB_ACTIONS`,
    ...): a kernel and a run that disagree on that get hypothesis imported
    afresh by the run, as cold would import it."""
    configuration = modules.get("hypothesis.configuration")
    if configuration is None:
        return
    settings = modules.get("hypothesis._settings")
    ci_variables = getattr(settings, "_CI_VARS", None)
    if isinstance(ci_variables, dict) and _names_ci(ci_variables, env) != _names_ci(ci_variables, kernel_env):
        _evict(modules, "hypothesis")
        return
    names = configuration.__dict__
    default, home = "__hypothesis_home_directory_default", "__hypothesis_home_directory"
    if default not in names or home not in names:
        _evict(modules, "hypothesis")  # another hypothesis: imported afresh in the run
        return
    kind = type(names[default])  # str in 6.x before 6.79, a pathlib.Path after
    names[default] = kind(os.path.join(cwd, ".hypothesis"))
    names[home] = None


def _names_ci(ci_variables, env):
    """hypothesis's is_in_ci(), for an environment other than os.environ."""
    return any(key in env and (value is None or env[key] == value) for key, value in ci_variables.items())


def _multiprocessing(modules, cwd):
    process = modules.get("multiprocessing.process")
    if process is not None and hasattr(process, "ORIGINAL_DIR"):
        process.ORIGINAL_DIR = os.path.abspath(cwd)


def _user_base(modules, env, kernel_env):
    """~/.local as HOME and PYTHONUSERBASE say (site computes it at start,
    sysconfig and distutils when first asked)."""
    if all(env.get(k) == kernel_env.get(k) for k in ("HOME", "PYTHONUSERBASE")):
        return
    import site
    site.USER_BASE = site.USER_SITE = None
    base, user_site = site.getuserbase(), site.getusersitepackages()
    sysconfig = modules.get("sysconfig")
    config_vars = getattr(sysconfig, "_CONFIG_VARS", None)
    if isinstance(config_vars, dict) and "userbase" in config_vars:
        config_vars["userbase"] = base
    install = modules.get("distutils.command.install")
    if install is not None and hasattr(install, "USER_BASE"):
        install.USER_BASE, install.USER_SITE = base, user_site


def _sklearn(modules, env):
    config = modules.get("sklearn._config")
    holder = getattr(config, "_global_config", None)
    if not isinstance(holder, dict):
        return
    wanted = {"assume_finite": lambda: bool(env.get("SKLEARN_ASSUME_FINITE", False)),
              "working_memory": lambda: int(env.get("SKLEARN_WORKING_MEMORY", 1024)),
              "pairwise_dist_chunk_size": lambda: int(env.get("SKLEARN_PAIRWISE_DIST_CHUNK_SIZE", 256))}
    for key, value in wanted.items():
        if key in holder:
            try:
                holder[key] = value()
            except ValueError:  # as a fresh import would, the test's import fails: keep the kernel's
                pass
    local = getattr(config, "_threadlocal", None)
    if local is not None and hasattr(local, "global_config"):
        del local.global_config  # copied again from _global_config on first use


_MPL_VARIABLES = ("HOME", "MPLCONFIGDIR", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "MATPLOTLIBRC")


def _matplotlib(modules, env, cwd, kernel_env, kernel_cwd):
    """matplotlib read its matplotlibrc (the cwd's first), configuration and
    cache directories when the kernel imported it."""
    mpl = modules.get("matplotlib")
    if mpl is None:
        return None
    changed = [k for k in _MPL_VARIABLES if env.get(k) != kernel_env.get(k)]
    rc_differs = os.path.realpath(cwd) != os.path.realpath(kernel_cwd) and any(
        os.path.exists(os.path.join(d, "matplotlibrc")) for d in (cwd, kernel_cwd))
    if not changed and not rc_differs:
        return None
    what = ", ".join(changed) if changed else "directory (its matplotlibrc)"
    return (f"matplotlib was imported by the kernel with the server's {what}: its rcParams, configuration and "
            f"font cache directories are the server's; start the server from here with this environment, "
            f"or do not preload matplotlib")
