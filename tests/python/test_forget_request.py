"""forget_request.py: a test process empties every run request it holds."""
import sys
import types

from ltest.in_test_process import forget_request
from ltest.state import STATE


def test_requests_and_the_kernels_records_of_them_are_emptied_in_place(monkeypatch):
    spec = {"args": ["-q"], "env": {"SECRET": "1"}, "rlimits": {"nofile": [1, 2]}, "cwd": "/p"}
    env, args = spec["env"], spec["args"]
    prediction = {"env": {"OTHER_CLIENT": "2"}, "args": []}
    monkeypatch.setattr(STATE, "prediction", prediction)
    held = types.SimpleNamespace(prediction={"env": {"KEY": "3"}})
    key = held.prediction
    monkeypatch.setitem(sys.modules, "ltest.in_kernel.spare", types.SimpleNamespace(_spares=[held]))
    forget_request.forget(spec, None)
    assert spec == {} and env == {} and args == [] and prediction == {} and key == {}
    assert STATE.prediction is None and held.prediction is None
