"""ipykernel's internals, as ltest uses them; the place for every reach into
ipykernel (in_kernel/runner.py's early result goes through it; child.py's
`_sys_raw_input`, `_save_getpass` and `Kernel.clear_instance` are to move
here). Probed once per process; what fails is reported as a speed-up off
(see __init__.py)."""
import functools
import sys


@functools.lru_cache(maxsize=None)
def _probe_publish():
    module = sys.modules.get("ipykernel.kernelbase")
    if module is None:
        return None  # not in a kernel: nothing to probe, nothing used
    cls = getattr(module, "Kernel", None)
    missing = [name for name in ("get_parent", "_topic") if not callable(getattr(cls, name, None))]
    if missing:
        version = getattr(sys.modules.get("ipykernel"), "__version__", "?")
        return f"ipykernel {version}'s Kernel has no {', '.join(missing)}"
    return None


def publish(kernel, msg_type, content):
    """Sends content as msg_type on the kernel's iopub socket, as the reply to
    the shell request being handled; False where the probe failed (the
    execute reply still carries the result, later)."""
    if _probe_publish() is not None:
        return False
    kernel.session.send(kernel.iopub_socket, msg_type, content, parent=kernel.get_parent("shell"),
                        ident=kernel._topic(msg_type))
    return True


def probe_all():
    return {"results announced on iopub before the execute reply": _probe_publish()}
