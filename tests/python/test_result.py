"""result.py: what the server reads back through user_expressions."""
import json

from ltest.in_kernel import result
from ltest.state import STATE


def test_reply_is_json_for_user_expressions():
    r = result.Reply(exit_code=3, duration=0.5)
    assert r._repr_json_() == {"exit_code": 3, "duration": 0.5}
    assert json.loads(repr(r)) == {"exit_code": 3, "duration": 0.5}


def test_the_json_form_is_a_plain_dict_and_nested_values_survive():
    r = result.Reply(preloaded=[{"module": "m", "seconds": 0.1}], learned=None)
    shown = r._repr_json_()
    assert type(shown) is dict and shown is not r
    assert json.loads(repr(r)) == {"preloaded": [{"module": "m", "seconds": 0.1}], "learned": None}


def test_the_last_reply_is_remembered(monkeypatch):
    monkeypatch.setattr(STATE, "last_result", None)
    assert result.last_result() is None
    first = result.remember(result.Reply(pid=1))
    assert result.last_result() is first
    result.remember(result.Reply(pid=2))
    assert result.last_result() == {"pid": 2}
