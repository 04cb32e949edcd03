"""ipykernel's internals, as ltest uses them; the place for every reach into
ipykernel: in_kernel/runner.py's early result (the kernel's iopub, its
parent header and topic), and, for child.py, the input() and getpass a
cell's `_forward_input` replaced (`_sys_raw_input`, `_save_getpass`) and the
kernel singleton forgotten (`Kernel.clear_instance`). Probed once per
process; what fails is reported as a speed-up off (see __init__.py)."""
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


@functools.lru_cache(maxsize=None)
def _probe_input():
    module = sys.modules.get("ipykernel.ipkernel")
    if module is None:
        return None  # not in a kernel: nothing replaced, nothing to restore
    forward = getattr(getattr(module, "IPythonKernel", None), "_forward_input", None)
    names = getattr(getattr(forward, "__code__", None), "co_names", ())
    if not {"_sys_raw_input", "_save_getpass"} <= set(names):
        version = getattr(sys.modules.get("ipykernel"), "__version__", "?")
        return (f"ipykernel {version}'s IPythonKernel._forward_input keeps no _sys_raw_input/_save_getpass: "
                "a test's input() and getpass may be the kernel's")
    return None


def input_before_the_cell(kernel):
    """(input, getpass.getpass) as they were before the kernel's cell
    replaced them with ones that ask the kernel's frontend; either None
    where unknown (not replaced, or the probe failed)."""
    if kernel is None or _probe_input() is not None:
        return None, None
    return getattr(kernel, "_sys_raw_input", None), getattr(kernel, "_save_getpass", None)


def forget_kernel_instance():
    """The Kernel singleton is forgotten (a test process has no kernel)."""
    cls = getattr(sys.modules.get("ipykernel.kernelbase"), "Kernel", None)
    if cls is not None:
        try:
            cls.clear_instance()
        except Exception:
            pass


def probe_all():
    return {"results announced on iopub before the execute reply": _probe_publish(),
            "input() and getpass as a plain python's in a test process": _probe_input()}
