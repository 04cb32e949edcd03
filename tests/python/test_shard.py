"""shard.py: how items are dealt to workers, and worker reports and warnings as the serial run has them."""
import warnings

from ltest.in_test_process import shard


def test_a_warning_survives_the_trip_from_a_worker():
    original = warnings.WarningMessage(DeprecationWarning("old"), DeprecationWarning, "/x/t.py", 7)
    back = shard.warning_from_json(shard.warning_to_json(original))
    assert (back.category, str(back.message), back.filename, back.lineno) == (DeprecationWarning, "old", "/x/t.py", 7)


def test_an_unknown_category_becomes_a_user_warning():
    msg = {"category": ["no.such.module", "Gone"], "message": "m", "filename": "f", "lineno": 1}
    assert shard.warning_from_json(msg).category is UserWarning


def test_shards_deal_contiguous_blocks_in_turn_and_cover_every_item_once():
    from ltest.in_test_process.shard import split
    items = list(range(20))
    shards = split(items, 2)
    assert shards == [[0, 1, 2, 6, 7, 8, 12, 13, 16, 17], [3, 4, 5, 9, 10, 11, 14, 15, 18, 19]]
    for n in (1, 2, 3, 7, 30):
        shards = split(items, n)
        assert sorted(i for shard in shards for i in shard) == items
        assert all(shards) and len(shards) == min(n, len(items))
        assert max(map(len, shards)) - min(map(len, shards)) <= 1
