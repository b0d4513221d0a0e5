"""The on-disk encoding of postings (portal/search/codec.py)."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from whoosh import index as whoosh_index
from whoosh import query as wq
from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.fields import ID, Schema

from portal.search.codec import CompactPositions
from portal.search.index import WRITER_ARGS
from portal.search.postings import position_masks
from portal.search.schema import _text, build_schema


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


def test_text_fields_use_the_compact_encoding() -> None:
    schema = build_schema()
    text_fields = [name for name in schema.names() if name.startswith(("title", "body", "att"))]
    assert text_fields
    assert all(type(schema[name].format) is CompactPositions for name in text_fields)
    assert schema["body"].format.field_boost == 1.0


def test_blocks_are_pickled_with_the_highest_protocol(tmp_path: Path) -> None:
    schema = Schema(id=ID(stored=True), body=_text(None))
    ix = whoosh_index.create_in(tmp_path, schema)
    writer = ix.writer(**WRITER_ARGS)
    for number in range(300):  # more than one block of 128 postings
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
        # Whoosh's own phrase matching reads the compact positions.
        phrase = wq.Phrase("body", ["export", "control"])
        assert len(searcher.search(phrase, limit=None)) == 300
        assert searcher.search(wq.Phrase("body", ["control", "export"])).is_empty()
        assert len(searcher.search(wq.Phrase("body", ["export", "licence"]), limit=None)) == 300
