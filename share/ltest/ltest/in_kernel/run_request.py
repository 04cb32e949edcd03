"""One run as the runtime sees it: the client's run request, with its
defaults in one place (docs/protocol.md, `run_request`)."""
import dataclasses
import os

from ..wire_text import from_wire_text


@dataclasses.dataclass
class RunRequest:
    args: list
    cwd: str
    env: dict
    stdout_isatty: bool = False
    stderr_isatty: bool = False
    columns: int = 80
    lines: int = 24
    workers: int = 1  # 0: one per CPU of this host
    umask: int = None  # the client's; None: keep this process's
    stdin_isatty: bool = False  # getpass then asks the client for a line without echo
    rlimits: dict = None  # the client's ulimits, {"nofile": [soft, hard], ...}; None: keep this process's
    nice: int = None  # the client's nice value; None: keep this process's (fidelity_limits.py)
    stdin_direct: bool = False  # stdin is the client's own (set by the server); else lines on demand

    @classmethod
    def from_wire(cls, spec):
        """From a run request's content (already checked by the server)."""
        names = {f.name for f in dataclasses.fields(cls)}
        given = {k: v for k, v in spec.items() if k in names and v is not None}
        if "args" in given:
            given["args"] = [from_wire_text(a) for a in given["args"]]
        if "cwd" in given:
            given["cwd"] = from_wire_text(given["cwd"])
        if "env" in given:
            given["env"] = {from_wire_text(k): from_wire_text(v) for k, v in given["env"].items()}
        given.setdefault("args", [])
        given.setdefault("cwd", os.getcwd())
        given.setdefault("env", dict(os.environ))
        request = cls(**given)
        request.workers = int(request.workers) or os.cpu_count() or 1
        request.columns = int(request.columns) or 80
        request.lines = int(request.lines) or 24
        return request

    def child_spec(self):
        """What the test process needs of it (JSON: it may travel to the spare)."""
        spec = {"args": list(self.args), "cwd": self.cwd, "env": dict(self.env),
                "stdout_isatty": bool(self.stdout_isatty), "stderr_isatty": bool(self.stderr_isatty),
                "workers": self.workers, "stdin_isatty": bool(self.stdin_isatty),
                "stdin_direct": bool(self.stdin_direct)}
        if self.umask is not None:
            spec["umask"] = int(self.umask)
        for name in ("rlimits", "nice"):  # fidelity_limits.py applies them
            if getattr(self, name) is not None:
                spec[name] = getattr(self, name)
        return spec


def child_spec(spec):
    """A run request's content as the test process takes it."""
    return RunRequest.from_wire(spec).child_spec()
