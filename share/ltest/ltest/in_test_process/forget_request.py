"""A test process holds no run request: cold pytest's frames and heap hold
none, and a request carries its client's whole environment (and the kernel's
memory, copied at the fork, holds the last run's request: maybe another
client's). Once the test process is set up, everything the request was is
emptied in place, so the frames above pytest.main (spare_loop, process_main,
runner, handover: their locals `spec`, `msg`, ...) and gc.get_objects() show
empty containers where the request was. Only this process's copy is emptied:
the fork's memory is its own."""
import sys

from ..state import STATE


def forget(*requests):
    """Empties requests (run specs as dicts: the wire's, the test process's,
    a prepared spare's prediction) and the kernel's own records of requests."""
    for request in requests:
        _empty(request)
    prediction, STATE.prediction = STATE.prediction, None
    _empty(prediction)
    spare = sys.modules.get("ltest.in_kernel.spare")  # the kernel's pool, as copied at the fork
    for held in list(getattr(spare, "_spares", ())):
        key, held.prediction = held.prediction, None
        _empty(key)


def _empty(value):
    if isinstance(value, dict):
        for item in value.values():
            _empty(item)
        value.clear()
    elif isinstance(value, list):
        for item in value:
            _empty(item)
        value.clear()
