"""The index on disk: postings (portal/search/codec.py) and columns read back."""

from __future__ import annotations

import datetime as dt
import pickle
from pathlib import Path

import pytest
from whoosh import index as whoosh_index
from whoosh import query as wq
from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.fields import ID, Schema
from whoosh.writing import NO_MERGE

from portal.search.codec import CompactPositions
from portal.search.index import WRITER_ARGS
from portal.search.postings import _read_postings, position_masks
from portal.search.schema import body_text, build_schema, column, compact_text


@pytest.mark.parametrize(
    "positions", [[0], [3, 7, 8, 1200], [65535], [5, 65536, 10**6], list(range(0, 5000, 3))]
)
def test_positions_round_trip(positions: list[int]) -> None:
    fmt = CompactPositions(field_boost=2.0)
    value = fmt.encode(positions)
    assert fmt.decode_positions(value) == positions
    assert fmt.decode_frequency(value) == len(positions)
    assert fmt.decode_weight(value) == 2.0 * len(positions)
    assert fmt.decode_position_boosts(value) == [(p, 1) for p in positions]
    mask = sum(1 << p for p in positions)
    assert list(position_masks(fmt)([value, value])) == [mask, mask]
    # Two bytes a position while they fit, four beyond.
    width = 2 if max(positions) < 65536 else 4
    assert len(value) == 1 + width * len(positions)


def test_masks_of_values_of_every_shape() -> None:
    fmt = CompactPositions()
    lists = [[4], [0, 1], [9, 700, 1100], list(range(0, 400, 4)), [65535]]
    values = [fmt.encode(positions) for positions in lists]
    masks = [sum(1 << p for p in positions) for positions in lists]
    assert position_masks(fmt)(values) == masks
    # A four-byte value among them: every value is read the general way, same masks.
    wide = [*lists, [3, 70000]]
    assert position_masks(fmt)([fmt.encode(p) for p in wide]) == [
        sum(1 << p for p in positions) for positions in wide
    ]
    assert position_masks(fmt)([]) == []
    # Bits are or-ed: a position written twice is still one bit.
    assert position_masks(fmt)([fmt.encode([3, 3, 3]), fmt.encode([2, 5, 5])]) == [8, 36]


def test_other_values_are_refused() -> None:
    with pytest.raises(ValueError, match="not a CompactPositions value"):
        CompactPositions().decode_positions(b"\x80\x02]q\x00.")
    masks = position_masks(CompactPositions())
    for values in ([b"\x80\x02]q\x00."], [b"H\x01\x00", b"H\x01\x00\x02"]):
        with pytest.raises(ValueError):
            masks(values)


def test_text_fields_use_the_compact_encoding() -> None:
    schema = build_schema()
    text_fields = [name for name in schema.names() if name.startswith(("title", "body", "att"))]
    assert text_fields
    assert all(type(schema[name].format) is CompactPositions for name in text_fields)
    assert schema["body"].format.field_boost == 1.0


def test_blocks_are_pickled_with_the_highest_protocol(tmp_path: Path) -> None:
    schema = Schema(id=ID(stored=True), body=compact_text(None))
    ix = whoosh_index.create_in(tmp_path, schema)
    writer = ix.writer(**WRITER_ARGS)
    count = 2 * WRITER_ARGS["codec"]._blocklimit + 50  # three blocks of postings
    for number in range(count):
        writer.add_document(id=str(number), body=f"export control n{number} export licence")
    writer.commit()
    with ix.searcher() as searcher:
        reader = searcher.reader()
        matcher = reader.postings("body", "export")
        assert type(matcher) is W3LeafMatcher
        blocks = 0
        while matcher.is_active():
            raw = matcher._postfile.get(
                matcher._dataoffset, matcher._nextoffset - matcher._dataoffset
            )
            assert raw[:2] == bytes([0x80, pickle.HIGHEST_PROTOCOL])
            blocks += 1
            matcher._next_block()
        assert blocks == 3
        # Read whole, block after block, as postings.py reads them.
        ids, weights, values = _read_postings(reader.postings("body", "export"), True)
        assert ids == list(range(count)) and weights == [2.0] * count
        assert values is not None and position_masks(schema["body"].format)(values) == [9] * count
        # Whoosh's own phrase matching reads the compact positions.
        phrase = wq.Phrase("body", ["export", "control"])
        assert len(searcher.search(phrase, limit=None)) == count
        assert searcher.search(wq.Phrase("body", ["control", "export"])).is_empty()
        assert len(searcher.search(wq.Phrase("body", ["export", "licence"]), limit=None)) == count


def test_columns_are_read_from_the_right_segment(tmp_path: Path) -> None:
    """A segment none of whose entries has a body has no `text` column: Whoosh's own
    multi-segment reader would then read its documents' text from another segment."""
    ix = whoosh_index.create_in(tmp_path, build_schema())
    entries = [
        {"id": "1", "kind": "document", "heading": "Only a title", "title": "Only a title",
         "published": dt.datetime(2020, 1, 1)},
        {"id": "2", "kind": "document", "heading": "Restricted", "body": "secret words",
         "text": b"secret words", "published": dt.datetime(2024, 1, 1)},
        {"id": "3", "kind": "document", "heading": "Public", "body": "open words",
         "text": b"open words", "published": dt.datetime(2022, 1, 1)},
    ]  # fmt: skip
    for entry in entries:  # one segment each
        writer = ix.writer(**WRITER_ARGS)
        writer.add_document(**entry)
        writer.commit(mergetype=NO_MERGE)
    with ix.searcher() as searcher:
        assert len(searcher.leaf_searchers()) == 3
        number = {searcher.stored_fields(d)["id"]: d for d in range(3)}
        assert body_text(searcher, number["1"]) == ""
        assert body_text(searcher, number["2"]) == "secret words"
        assert body_text(searcher, number["3"]) == "open words"
        published = column(searcher, "published")
        assert [published[number[i]].year for i in "123"] == [2020, 2024, 2022]
