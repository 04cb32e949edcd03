"""What the server reads back from the kernel through user_expressions."""
import json

from ..state import STATE



class Reply(dict):
    """A JSON object; `_repr_json_` makes IPython's formatter hand it over as
    application/json in an execute reply's user_expressions, unmangled."""

    def _repr_json_(self):
        return dict(self)

    def __repr__(self):
        return json.dumps(self)


def remember(reply):
    STATE.last_result = reply
    return reply


def last_result():
    """The Reply of the latest preload or run in this kernel (None before any)."""
    return STATE.last_result
