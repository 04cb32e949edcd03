"""result.py: what the server reads back through user_expressions."""
import json

from ltest.in_kernel import result


def test_reply_is_json_for_user_expressions():
    r = result.Reply(exit_code=3, duration=0.5)
    assert r._repr_json_() == {"exit_code": 3, "duration": 0.5}
    assert json.loads(repr(r)) == {"exit_code": 3, "duration": 0.5}
