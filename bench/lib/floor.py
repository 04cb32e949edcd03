"""The fork floor: the least a warm, forking pytest run can cost.

Run as `/usr/bin/python3 floor.py MODULE... -- PYTEST_ARGS...` in the suite's
directory. It imports MODULE..., pytest and pytest's plugins (as ltest's
preload does), prints one JSON line {"ready": true, ...}, then serves one
command per line on stdin:

  run [PATH]   fork(); the child sends stdout/stderr to PATH (default
               /dev/null) and runs pytest.main(PYTEST_ARGS), then os._exit;
               the parent waits and prints {"ms": wall time, "code": exit code}
  run-frozen [PATH]
               the same, but the child calls gc.freeze() first, so that its
               garbage collections skip (and do not copy-on-write) the
               objects inherited from this process: what a forking runner
               can reach with one line
  run-runtime  ltest's own kernel-side runtime (`ltest.run`, loaded from
               $LTEST_BENCH_RUNTIME, a share/ltest directory) in this plain
               process, no kernel: its fork, child set-up and output relay;
               output is discarded. Prints {"ms", "code"} or {"error"}
  rss          prints {"rss_kb": this process's VmRSS}
  quit         exits

The time is taken in the parent around fork() ... waitpid(): no IPC, no
output relay, no client. ltest can only add to it.
"""
import gc
import importlib
import json
import os
import sys
import time


def plugin_modules():
    """pytest's built-in plugins and the installed ones (entry points pytest11)."""
    from _pytest.config import default_plugins
    names = ["_pytest." + p for p in default_plugins if p != "python_path"]
    try:
        from importlib.metadata import entry_points
        eps = entry_points()
        group = eps.select(group="pytest11") if hasattr(eps, "select") else eps.get("pytest11", [])
        names += [ep.value.split(":")[0] for ep in group]
    except Exception:
        pass
    return names


def forget_rewritable_plugins():
    """As ltest's preload does (share/ltest/ltest/installed_plugins.py, loaded
    by its path: the runtime's package stays out of this process)."""
    import importlib.util
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "share", "ltest", "ltest",
                        "installed_plugins.py")
    spec = importlib.util.spec_from_file_location("ltest_installed_plugins", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.forget(module.rewritable_plugin_roots())


def vm_rss_kb(pid="self"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def run_once(args, out_path, freeze=False):
    sys.stdout.flush()
    sys.stderr.flush()
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the test process
        code = 3
        try:
            if freeze:
                gc.freeze()
            fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.close(fd)
            import pytest
            code = pytest.main(list(args))
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:
            try:
                import traceback
                traceback.print_exc()
                sys.stderr.flush()
            except BaseException:
                pass
        finally:
            os._exit(int(code))
    _, status = os.waitpid(pid, 0)
    ms = (time.perf_counter() - t0) * 1000.0
    code = os.waitstatus_to_exitcode(status)
    return {"ms": ms, "code": code if code >= 0 else 128 - code}


class _Sink:
    """A text stream that drops what it is given (the relay's destination)."""

    def write(self, text):
        return len(text)

    def flush(self):
        pass


def load_runtime():
    """ltest's runtime package from $LTEST_BENCH_RUNTIME, or None."""
    where = os.environ.get("LTEST_BENCH_RUNTIME")
    if not where:
        return None
    try:
        sys.path.insert(1, where)
        import ltest
        return ltest
    except Exception as e:
        return "cannot load ltest's runtime from %s: %s" % (where, e)


def run_runtime(runtime, args):
    if runtime is None or isinstance(runtime, str):
        return {"error": runtime or "LTEST_BENCH_RUNTIME is not set"}
    sink = _Sink()
    t0 = time.perf_counter()
    try:
        code = runtime.run(list(args), cwd=os.getcwd(), env=dict(os.environ), stdout=sink, stderr=sink)
    except Exception as e:
        return {"error": "ltest.run failed: %r" % (e,)}
    return {"ms": (time.perf_counter() - t0) * 1000.0, "code": code}


def main(argv):
    split = argv.index("--")
    modules, args = argv[:split], argv[split + 1:]
    # As `python -m pytest` has it: the current directory first on sys.path.
    sys.path[0] = os.getcwd()
    t0 = time.perf_counter()
    for name in modules:
        importlib.import_module(name)
    import pytest  # noqa: F401
    for name in plugin_modules():
        try:
            importlib.import_module(name)
        except Exception:
            pass
    forget_rewritable_plugins()
    import_s = time.perf_counter() - t0
    runtime = load_runtime()  # before the collection below, so the heap is the same for every kind of run
    # Settle the heap once, as a long-running process would have: without it,
    # whether a child's pytest run sets off a full collection of the inherited
    # heap (tens of ms) depends on where this process's GC counters happen to
    # stand, and the floor jumps between two modes from one start to the next.
    gc.collect()
    reply({"ready": True, "pid": os.getpid(), "import_s": import_s, "gc_objects": len(gc.get_objects())})
    for line in sys.stdin:
        words = line.split(maxsplit=1)
        if not words:
            continue
        if words[0] in ("run", "run-frozen"):
            reply(run_once(args, words[1].strip() if len(words) > 1 else os.devnull, words[0] == "run-frozen"))
        elif words[0] == "run-runtime":
            reply(run_runtime(runtime, args))
        elif words[0] == "rss":
            reply({"rss_kb": vm_rss_kb()})
        elif words[0] == "quit":
            break
        else:
            reply({"error": "unknown command " + words[0]})


if __name__ == "__main__":
    main(sys.argv[1:])
