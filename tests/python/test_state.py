"""state.py holds the runtime's state in one object: every attribute a
runtime module reads or sets on STATE is declared there (an undeclared one
would silently become a new global)."""
import re
from pathlib import Path

from ltest.state import STATE, RuntimeState

RUNTIME = Path(__file__).resolve().parents[2] / "share" / "ltest" / "ltest"


def test_every_attribute_the_runtime_uses_is_declared():
    used = {name for path in RUNTIME.rglob("*.py") for name in re.findall(r"\bSTATE\.(\w+)", path.read_text())}
    assert len(used) >= 8, used  # the scan found the runtime's uses
    declared = set(vars(RuntimeState()))
    assert used - declared == set(), f"not declared in state.py: {sorted(used - declared)}"
    assert declared - used == set(), f"declared in state.py but never used: {sorted(declared - used)}"


def test_a_fresh_state_holds_nothing_and_shares_no_container():
    a, b = RuntimeState(), RuntimeState()
    assert all(not value for value in vars(a).values())
    a.module_kind["m"] = (1, True)
    assert b.module_kind == {} and STATE is not a
