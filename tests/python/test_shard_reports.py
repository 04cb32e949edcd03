"""shard: worker reports and warnings as the serial run has them."""
import warnings

from ltest.in_test_process import shard


def test_a_warning_survives_the_trip_from_a_worker():
    original = warnings.WarningMessage(DeprecationWarning("old"), DeprecationWarning, "/x/t.py", 7)
    back = shard.warning_from_json(shard.warning_to_json(original))
    assert (back.category, str(back.message), back.filename, back.lineno) == (DeprecationWarning, "old", "/x/t.py", 7)


def test_an_unknown_category_becomes_a_user_warning():
    msg = {"category": ["no.such.module", "Gone"], "message": "m", "filename": "f", "lineno": 1}
    assert shard.warning_from_json(msg).category is UserWarning
