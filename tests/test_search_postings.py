"""Matching from cached postings: exactly Whoosh's documents, scores and order."""

from __future__ import annotations

import datetime as dt
import gc
import random
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest
from whoosh import index as whoosh_index
from whoosh import query as wq
from whoosh.searching import Searcher
from whoosh.writing import NO_MERGE

from portal.search import postings
from portal.search.codec import CompactCodec
from portal.search.index import WRITER_ARGS
from portal.search.postings import cache_for, doc_set, scored
from portal.search.query import (
    FACETS,
    _parse_plain_words,
    _parser,
    _text_fields,
    facet_counts,
    find,
    parse,
)
from portal.search.schema import build_schema

WORDS = [
    "export",
    "licence",
    "control",
    "broker",
    "dual",
    "use",
    "item",
    "cyber",
    "surveillance",
    "risk",
]
RARE = ["zebra", "quokka", "axolotl"]
STATES = ("fr", "de", "it")


def _document(number: int, rng: random.Random) -> dict:
    words = [rng.choice(WORDS) for _ in range(rng.randint(3, 40))]
    if number % 17 == 0:
        words.insert(rng.randrange(len(words) + 1), RARE[number % len(RARE)])
    if number % 5 == 0:
        words[rng.randrange(len(words)) :] = ["risk", "assessment", "of", "brokering"]
    if number % 11 == 0:
        words += ["dual", "use", "export", "licence", "control"]
    fields = {
        "id": str(number),
        "kind": "document",
        "slug": f"doc-{number}",
        "heading": f"Document {number}",
        "type": ("review", "implementation_note")[number % 2],
        "state": STATES[number % 3],
        "commitments": " ".join(str(c) for c in range(1, 1 + number % 4)),
        "visibility": ("public", "participants", "government")[number % 3],
        "status": "published" if number % 4 else "draft",
        "published": dt.datetime(2000 + number % 20, 1, 1),
        "year": str(2000 + number % 20),
    }
    if number % 7 == 0:
        fields.update(lang="fr", title_fr=f"contrôle {words[0]}", body_fr=" ".join(words))
    else:
        fields.update(lang="en", title=" ".join(words[:3]), body=" ".join(words))
    return fields


@pytest.fixture(scope="module")
def searcher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Searcher]:
    """An index of several segments (several blocks of postings, and inlined ones), with
    deletions, written as the portal writes (codec.py) but with blocks of 64 postings, so
    that a common word's postings span several blocks as they do in a large index."""
    directory: Path = tmp_path_factory.mktemp("postings-index")
    ix = whoosh_index.create_in(directory, build_schema())
    rng = random.Random(3)
    number = 0
    small_blocks = {**WRITER_ARGS, "codec": CompactCodec(blocklimit=64, compression=0)}
    for size in (300, 120, 3, 1):
        writer = ix.writer(**small_blocks)
        for _ in range(size):
            writer.add_document(**_document(number, rng))
            number += 1
        writer.commit(mergetype=NO_MERGE)
    writer = ix.writer(**WRITER_ARGS)
    for deleted in ("4", "10", "17", "305", "421", "423"):
        writer.delete_by_term("id", deleted)
    writer.commit(mergetype=NO_MERGE)
    with ix.searcher() as opened:
        assert len(opened.leaf_searchers()) == 4
        assert any(sub.reader().has_deletions() for sub, _ in opened.leaf_searchers())
        yield opened


QUERIES = [
    "export",
    "zebra",
    "quokka",
    "export licence",
    "export OR zebra",
    "export -broker",
    "export NOT broker",
    "NOT export",
    "export ANDMAYBE zebra",
    "export REQUIRE broker",
    "state:fr export",
    "commitment:2 cyber",
    "year:2005",
    "title:export^2 licence",
    "(export licence)^2",
    '"risk assessment"',
    '"risk assessment brokering"',
    '"assessment risk"',
    '"export export"',
    '"risk brokering"~3',
    '"risk assessment of brokering"',
    '"use item"~2',
    '"cyber use risk"~4',
    '"broker assessment"~3',
    '"dual use export licence control"',
    '"use export licence control"',
    '"contrôle export"',
    '"risk assessment"^2',
    '"risk assessment" export',
    '"risk assessment" OR "dual use"',
    "contrôle",
    "absentword",
    "export absentword",
]


def expected_docs(searcher: Searcher, query: wq.Query) -> set[int]:
    """Whoosh's documents for `query`, exclusions applied as set differences.

    Whoosh's AndNot matcher sometimes keeps a document that the excluded part matches
    (one whose excluded word is in another language's field of a later segment), so
    exclusions are checked against its documents for each part.
    """
    if isinstance(query, wq.AndNot):
        return expected_docs(searcher, query.a) - expected_docs(searcher, query.b)
    if isinstance(query, wq.Not):
        live = set(searcher.docs_for_query(wq.Every()))
        return live - expected_docs(searcher, query.query)
    if isinstance(query, wq.And) and any(isinstance(q, wq.Not) for q in query.subqueries):
        found = set(searcher.docs_for_query(wq.Every()))
        for q in query.subqueries:
            found &= expected_docs(searcher, q)
        return found
    return set(searcher.docs_for_query(query))


@pytest.mark.parametrize("text", QUERIES)
def test_documents_are_exactly_whooshs(searcher: Searcher, text: str) -> None:
    query = parse(searcher, text)
    expected = expected_docs(searcher, query)
    assert doc_set(searcher, query) == expected
    everything = set(range(searcher.doc_count_all()))
    found = scored(searcher, query, everything)
    assert found is not None and set(found) == expected


def test_long_phrases_match_where_they_were_written(searcher: Searcher) -> None:
    # Every 11th document ends with the five words (deleted ones aside): the sums of four
    # and five scores take the general branch.
    found = doc_set(searcher, parse(searcher, '"dual use export licence control"'))
    assert len(found) > 30 and found <= doc_set(searcher, parse(searcher, "dual use"))
    assert doc_set(searcher, parse(searcher, '"use export licence control"')) >= found


def test_an_excluded_word_excludes_in_every_language(searcher: Searcher) -> None:
    # Document 301 is French and holds "broker": Whoosh's own AndNot keeps it.
    query = parse(searcher, "export -broker")
    assert 301 in set(searcher.docs_for_query(parse(searcher, "broker")))
    assert 301 not in doc_set(searcher, query)


@pytest.mark.parametrize("text", QUERIES)
def test_scores_are_whooshs_bm25f(searcher: Searcher, text: str) -> None:
    query = parse(searcher, text)
    # No limit: Whoosh then scores every match, without skipping blocks.
    expected = {hit.docnum: hit.score for hit in searcher.search(query, limit=None)}
    found = scored(searcher, query, set(range(searcher.doc_count_all())))
    assert found is not None and found.keys() == expected_docs(searcher, query)
    for doc, score in found.items():
        assert score == expected[doc]  # the same floating-point steps, so the same floats


def test_deleted_documents_never_match(searcher: Searcher) -> None:
    deleted = {
        offset + doc
        for sub, offset in searcher.leaf_searchers()
        for doc in range(sub.reader().doc_count_all())
        if sub.reader().is_deleted(doc)
    }
    assert len(deleted) == 6
    everything = set(range(searcher.doc_count_all()))
    for text in QUERIES:
        query = parse(searcher, text)
        assert not doc_set(searcher, query) & deleted
        assert not set(scored(searcher, query, everything) or {}) & deleted
    assert not cache_for(searcher).live() & deleted


def test_only_allowed_documents_are_returned(searcher: Searcher) -> None:
    allowed = doc_set(searcher, wq.Term("visibility", "public"))
    for text in QUERIES:
        query = parse(searcher, text)
        found = scored(searcher, query, allowed)
        assert found is not None
        assert set(found) == set(searcher.docs_for_query(query)) & allowed
    assert scored(searcher, parse(searcher, "export"), set()) == {}


def test_find_orders_as_whoosh_does(searcher: Searcher) -> None:
    allowed = doc_set(searcher, wq.Term("kind", "document"))
    for text in ("export", "export licence", '"risk assessment"', "zebra OR quokka"):
        query = parse(searcher, text)
        matched, top = find(searcher, query, allowed, 10)
        results = searcher.search(query, filter=allowed, limit=None)
        assert set(matched) == set(results.docs())
        assert top == [hit.docnum for hit in results][:10]
        matched, newest = find(searcher, query, allowed, 10, by_date=True)
        by_date = searcher.search(
            query, filter=allowed, limit=10, sortedby="published", reverse=True
        )
        assert newest == [hit.docnum for hit in by_date]


def test_queries_it_does_not_handle_go_to_whoosh(searcher: Searcher) -> None:
    query = parse(searcher, "year:[2003 TO 2006] export")
    allowed = doc_set(searcher, wq.Term("visibility", "participants"))
    assert scored(searcher, query, allowed) is None
    matched, top = find(searcher, query, allowed, 5)
    assert set(matched) == set(searcher.docs_for_query(query)) & allowed
    assert top and set(top) <= set(matched)


def test_a_small_cache_gives_the_same_answers(
    searcher: Searcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(postings, "MAX_CACHED_BYTES", 50 * postings.POSTING_BYTES)
    fresh = postings.PostingsCache(searcher)
    for text in QUERIES * 2:
        query = parse(searcher, text)
        assert set(fresh.docs(query)) == expected_docs(searcher, query)
        assert fresh._held <= 50 * postings.POSTING_BYTES or len(fresh._postings) == 1
    assert len(fresh._postings) < 10


PHRASE = '"risk assessment"'


@pytest.fixture
def decoded(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many posting values each phrase match turned into position masks."""
    counts: list[int] = []
    real = postings.position_masks

    def counting(fmt: object) -> postings.MaskAll:
        mask_all = real(fmt)  # type: ignore[arg-type]

        def counted(values: list[bytes]) -> list[int]:
            counts.append(len(values))
            return mask_all(values)

        return counted

    monkeypatch.setattr(postings, "position_masks", counting)
    return counts


def test_a_phrase_is_matched_once_for_the_same_readers(
    searcher: Searcher, decoded: list[int]
) -> None:
    cache = postings.PostingsCache(searcher)
    query = parse(searcher, PHRASE)
    public = doc_set(searcher, wq.Term("visibility", "public"))
    first = cache.scores(query, public)
    assert decoded and first
    decoded.clear()
    assert cache.scores(query, public) == first  # paging, or the same search again
    assert not decoded
    # Other readers (a set equal to the first, but another one) get a match of their own.
    for readers in (doc_set(searcher, wq.Term("visibility", "participants")), set(public)):
        found = cache.scores(query, readers)
        assert set(found) == set(searcher.docs_for_query(query)) & readers
        assert decoded
        decoded.clear()
    # Scores restricted to a dictionary's keys (ANDMAYBE) are not kept.
    kept = dict(cache._phrases)
    cache.scores(query, dict.fromkeys(public, 1.0))
    assert cache._phrases == kept


def test_a_phrase_kept_for_every_document_serves_any_readers(
    searcher: Searcher, decoded: list[int]
) -> None:
    cache = postings.PostingsCache(searcher)
    query = parse(searcher, PHRASE)
    everything = cache.scores(query)
    assert set(everything) == set(searcher.docs_for_query(query))
    decoded.clear()
    for visibility in ("public", "participants", "government"):
        readers = doc_set(searcher, wq.Term("visibility", visibility))
        expected = {doc: score for doc, score in everything.items() if doc in readers}
        assert cache.scores(query, readers) == expected
    assert cache.scores(query, set()) == {}
    assert not decoded


def test_a_phrase_kept_for_one_requests_readers_does_not_keep_them(searcher: Searcher) -> None:
    cache = postings.PostingsCache(searcher)
    query = parse(searcher, PHRASE)
    few = set(sorted(searcher.docs_for_query(query))[:3])
    assert len(cache.scores(query, few)) == 3
    gone = weakref.ref(few)
    assert cache._phrases
    del few
    gc.collect()
    assert gone() is None
    assert not cache._phrases and cache._phrases_held == 0  # its results went with it
    # Another set, perhaps at the same address, is matched for itself.
    other = set(sorted(searcher.docs_for_query(query))[3:5])
    assert set(cache.scores(query, other)) == other
    assert set(cache.scores(query)) == set(searcher.docs_for_query(query))


def test_kept_phrases_are_bounded(searcher: Searcher, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postings, "MAX_PHRASE_BYTES", 20 * postings.POSTING_BYTES)
    cache = postings.PostingsCache(searcher)
    phrases = [text for text in QUERIES if text.startswith('"')]
    for text in phrases * 2:
        query = parse(searcher, text)
        assert set(cache.docs(query)) == expected_docs(searcher, query)
        assert cache._phrases_held <= 20 or len(cache._phrases) == 1
    assert len(cache._phrases) < len(phrases)


def test_plain_words_parse_as_the_parser_does(searcher: Searcher) -> None:
    fields, boosts = _text_fields(searcher)
    assert "title_fr" in fields
    texts = ["export", "export licence", "Export LICENCE", "contrôle", "export export"]
    for text in texts:
        fast = _parse_plain_words(searcher, text, fields, boosts)
        assert fast is not None
        assert repr(fast) == repr(_parser(searcher).parse(text))
    for text in ("the export", "and", "OR export", "export2", "x", '"export"', "-export"):
        assert _parse_plain_words(searcher, text, fields, boosts) is None


def test_facet_counts_match_a_direct_count(searcher: Searcher) -> None:
    matched = doc_set(searcher, parse(searcher, "export"))
    counts = facet_counts(searcher, matched)
    for name in FACETS:
        expected: dict[str, int] = {}
        for doc in matched:
            values = searcher.stored_fields(doc).get(name, "")
            for value in values.split() if name == "commitments" else [values]:
                if value:
                    expected[value] = expected.get(value, 0) + 1
        assert dict(counts[name]) == expected


def test_blocks_read_whole_hold_the_same_postings(searcher: Searcher) -> None:
    kinds = set()
    for sub, _ in searcher.leaf_searchers():
        reader = sub.reader()
        terms = [("body", b"export"), ("body", b"zebra"), ("kind", b"document"), ("id", b"420")]
        for fieldname, term in terms:
            if (fieldname, term) not in reader:
                continue
            matcher = reader.postings(fieldname, term)
            kinds.add(type(getattr(matcher, "child", matcher)).__name__)
            walked = []
            while matcher.is_active():
                walked.append((matcher.id(), matcher.weight(), matcher.value()))
                matcher.next()
            gone = reader.deleted_docs_set
            for with_values in (False, True):
                ids, weights, values = postings._read_postings(
                    reader.postings(fieldname, term), with_values
                )
                kept = [i for i, d in enumerate(ids) if d not in gone]
                assert [(ids[i], weights[i]) for i in kept] == [(d, w) for d, w, _ in walked]
            assert values is not None
            assert [values[i] for i in kept] == [v for *_, v in walked]
            if fieldname == "body":
                fmt = reader.schema[fieldname].format
                masks = list(postings.position_masks(fmt)(values))
                assert masks == [sum(1 << p for p in fmt.decode_positions(v)) for v in values]
                assert all(masks)
    assert "W3LeafMatcher" in kinds
    # "export" spans several blocks of 64 postings in the first segment, which has deletions.
    first = searcher.leaf_searchers()[0][0].reader()
    assert first.doc_frequency("body", "export") > 2 * 64 and first.has_deletions()


def test_other_matchers_are_read_posting_by_posting() -> None:
    from whoosh.matching import ListMatcher

    matcher = ListMatcher([1, 5, 9], [1.0, 2.0, 1.0], [b"a", b"b", b"c"])
    assert postings._read_postings(matcher, True) == (
        [1, 5, 9],
        [1.0, 2.0, 1.0],
        [b"a", b"b", b"c"],
    )
