"""The private APIs of pytest, pluggy, ipykernel and IPython that ltest's
speed-ups use: one module per library (pytest_api.py, pluggy_api.py,
ipykernel_api.py, ipython_api.py), each
the only place that reaches into that library, each probing once, in the
process that first asks, whether the installed version has what it needs.

A probe that fails turns its speed-up off: the run takes the plain path,
whose results are cold pytest's, and `speedups_off()` says which and why
(the kernel reports it at preload; `ltest --status` shows it).
Standard library only here: the libraries are imported by the probes.
"""


def speedups_off():
    """[{"speedup", "why"}] of every speed-up whose probe failed so far, in
    this process (the kernel asks after its preload: every probe has run)."""
    from . import ipykernel_api, ipython_api, pluggy_api, pytest_api
    out = []
    for module in (pytest_api, pluggy_api, ipykernel_api, ipython_api):
        for name, why in module.probe_all().items():
            if why is not None:
                out.append({"speedup": name, "why": why})
    return out
