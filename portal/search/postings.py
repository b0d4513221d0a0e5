"""Matching and scoring parsed queries from postings cached per searcher.

Whoosh walks a tree of matchers for every segment on every search, posting by posting
in Python, and counts the total with a second pass. Here each term's postings are read
once per searcher into {document number: weight}; And, Or and Not become set and
dictionary operations, scores are computed only for documents that can still match,
and a phrase is checked only in documents holding all its words. The documents are
exactly those `Searcher.docs_for_query` gives (deleted ones never appear) and the
scores are Whoosh's BM25F (same formula, statistics, boosts and floating-point steps).
A query kind not handled here raises `Unsupported`, and callers ask Whoosh instead.

A searcher sees one state of the index and is replaced when the index changes, so a
cache kept on it never goes stale. It is used by one thread at a time.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Iterator
from functools import partial
from itertools import accumulate, chain, compress, repeat
from math import log
from operator import add, and_, rshift
from typing import Any

from whoosh import query as wq
from whoosh.codec.whoosh3 import W3LeafMatcher, W3TermsReader
from whoosh.formats import Format
from whoosh.matching.wrappers import FilterMatcher
from whoosh.reading import TermNotFound
from whoosh.scoring import BM25F
from whoosh.searching import Searcher
from whoosh.util.numeric import byte_to_length, length_to_byte

from portal.search.codec import (
    CompactPerDocReader,
    CompactPositions,
    compact_masks,
    encoded_lengths,
    mask_of,
)

#: Memory for postings per searcher, in bytes (estimated); least recently used terms go.
MAX_CACHED_BYTES = 64 * 2**20
#: Estimated bytes per posting cached: document and weight or score; positions (phrases).
POSTING_BYTES = 100
POSITIONS_BYTES = 160
#: Memory for phrase results per searcher, in bytes (estimated); least recently used go.
MAX_PHRASE_BYTES = 16 * 2**20
Scores = dict[int, float]
#: Documents to restrict an evaluation to (a set or dict), or None for all.
Within = Collection[int] | None
#: Raw posting values -> each one's positions as the bits of an integer.
MaskAll = Callable[[list[bytes]], list[int]]
#: A phrase (field, words, slop) and the id of the set its result is restricted to, or None.
KeptKey = tuple[tuple[str, tuple[str, ...], int], int | None]
#: A phrase's scores, and the documents they were restricted to (a weak reference to the
#: set, or None: all documents).
KeptPhrase = tuple[weakref.ReferenceType[Any] | None, Scores]


class Unsupported(Exception):
    """A query this module does not evaluate: use Whoosh for it."""


class Postings:
    """One term's postings over the whole index, by global document number."""

    def __init__(
        self,
        weights: dict[int, float],
        values: dict[int, bytes] | None = None,
        bm25f: tuple[float, float, list[float], bytes] | None = None,
    ) -> None:
        #: The documents holding the term, as a dictionary's keys: weights (term
        #: frequencies) until every score is computed, then the scores.
        self.docs = weights
        self._weights: dict[int, float] | None = weights
        self._scores: Scores | None = None
        #: (idf, K1, length norm per length byte, length byte per document), or None to
        #: score by weight as Whoosh does for fields without lengths.
        self._bm25f = bm25f
        #: Document -> raw posting value (encoded positions), when read for a phrase.
        self.values = values
        #: Roughly what the term takes in memory, in bytes.
        self.size = len(weights) * (POSTING_BYTES + (POSITIONS_BYTES if values is not None else 0))

    def _scored(self, docs: Iterable[int], weights: Iterable[float]) -> list[float]:
        """Whoosh's BM25FScorer score of each document (holding the term) and its weight."""
        if self._bm25f is None:
            return list(weights)
        idf, k1, norms, lengths = self._bm25f
        return [
            idf * ((weight * (k1 + 1)) / (weight + norms[lengths[doc]]))
            for doc, weight in zip(docs, weights, strict=True)
        ]

    def scores(self, within: Within = None) -> Scores:
        """Scores of the documents holding the term (only those in `within`, if given)."""
        docs = self.docs
        if within is not None and self._scores is None and 2 * len(within) < len(docs):
            held = [doc for doc in within if doc in docs]  # a few of many: score those only
            return dict(zip(held, self._scored(held, map(docs.__getitem__, held)), strict=True))
        if self._scores is None:
            weights = self._weights
            assert weights is not None
            self._scores = dict(zip(weights, self._scored(weights, weights.values()), strict=True))
            # The weights are no longer needed: keep one dictionary, not two.
            self.docs, self._weights = self._scores, None
        return self._scores if within is None else _restricted(self._scores, within)

    def scores_of(self, docs: list[int]) -> list[float]:
        """The scores of `docs`, in order (each must hold the term)."""
        if self._scores is not None:
            return list(map(self._scores.__getitem__, docs))
        return self._scored(docs, map(self.docs.__getitem__, docs))

    def masks(self, docs: list[int], mask_all: MaskAll) -> list[int]:
        """The positions of each of `docs` (which must hold the term) as the bits of an
        integer, in order. Not kept: a phrase's result is (`PostingsCache._phrase`)."""
        values = self.values
        assert values is not None
        return mask_all(list(map(values.__getitem__, docs)))


_EMPTY = Postings({}, {})


class PostingsCache:
    """What one searcher has read: term postings (bounded), field lengths, live documents."""

    def __init__(self, searcher: Searcher) -> None:
        self.searcher = searcher
        self.schema = searcher.schema
        self.segments = [(sub.reader(), offset) for sub, offset in searcher.leaf_searchers()]
        self.weighting = searcher.weighting
        self.memo: dict[str, Any] = {}
        self._postings: OrderedDict[tuple[str, bytes], Postings] = OrderedDict()
        self._held = 0
        self._phrases: OrderedDict[KeptKey, KeptPhrase] = OrderedDict()
        self._phrases_held = 0
        self._lengths: dict[str, bytes] = {}
        self._holding: dict[str, list[int]] = {}
        self._norms: dict[str, list[float]] = {}
        self._deleted: list[frozenset[int]] | None = None
        self._live: frozenset[int] | None = None

    # -- documents ---------------------------------------------------------------------------

    def deleted(self) -> list[frozenset[int]]:
        """Deleted documents of each segment, by segment document number."""
        if self._deleted is None:
            self._deleted = [
                frozenset(set(range(reader.doc_count_all())) - set(reader.all_doc_ids()))
                if reader.has_deletions()
                else frozenset()
                for reader, _ in self.segments
            ]
        return self._deleted

    def live(self) -> frozenset[int]:
        """Every document that is not deleted, by global number."""
        if self._live is None:
            live: set[int] = set()
            for (reader, offset), deleted in zip(self.segments, self.deleted(), strict=True):
                live.update(offset + d for d in range(reader.doc_count_all()) if d not in deleted)
            self._live = frozenset(live)
        return self._live

    # -- postings ----------------------------------------------------------------------------

    def postings(self, fieldname: str, text: Any, positions: bool = False) -> Postings:
        """The postings of `fieldname:text` (empty if the field or term does not exist)."""
        if fieldname not in self.schema:
            return _EMPTY
        schema_field = self.schema[fieldname]
        try:
            term = schema_field.to_bytes(text)
        except ValueError:
            return _EMPTY
        key = (fieldname, term)
        found = self._postings.get(key)
        if found is not None and (found.values is not None or not positions):
            self._postings.move_to_end(key)
            return found
        if positions and not (schema_field.format and schema_field.format.supports("positions")):
            raise Unsupported(f"{fieldname} has no positions")
        postings = self._read(fieldname, term, positions)
        if found is not None:
            self._held -= found.size
        self._postings[key] = postings
        self._held += postings.size
        while self._held > MAX_CACHED_BYTES and len(self._postings) > 1:
            _, dropped = self._postings.popitem(last=False)
            self._held -= dropped.size
        return postings

    def _read(self, fieldname: str, term: bytes, positions: bool) -> Postings:
        # One term lookup per segment: its term info gives the postings and, summed,
        # the document frequency for the idf (Whoosh would look the term up three times).
        found = []
        for index in self._segments_holding(fieldname):
            reader = self.segments[index][0]
            try:
                found.append((index, reader.term_info(fieldname, term)))
            except TermNotFound:
                continue
        if not found:
            return Postings({}, {} if positions else None)
        fmt = self.schema[fieldname].format
        weights: dict[int, float] = {}
        values: dict[int, bytes] | None = {} if positions else None
        deleted = self.deleted()
        for index, info in found:
            reader, offset = self.segments[index]
            terms = getattr(reader, "_terms", None)
            if type(terms) is W3TermsReader:
                matcher = terms._codec.postings_reader(
                    terms._postfile, info, fmt, term=(fieldname, term)
                )
            else:
                matcher = reader.postings(fieldname, term)
            ids, segment_weights, raw = _read_postings(matcher, positions)
            gone = deleted[index]
            dropped = gone.intersection(ids) if gone else ()
            if offset:
                ids = list(map(offset.__add__, ids))
            weights.update(zip(ids, segment_weights, strict=True))
            if values is not None and raw is not None:
                values.update(zip(ids, raw, strict=True))
            for doc in dropped:  # deleted documents are few: dropped after the fact
                del weights[offset + doc]
                if values is not None:
                    del values[offset + doc]
        bm25f = None
        if self.schema[fieldname].scorable and type(self.weighting) is BM25F:
            # WeightingModel.idf, from the same counts (deleted documents included).
            frequency = sum(info.doc_frequency() for _, info in found)
            idf = log(self.searcher.doc_count_all() / (frequency + 1)) + 1
            bm25f = (
                idf,
                self.weighting.K1,
                self._norm_table(fieldname),
                self._field_lengths(fieldname),
            )
        return Postings(weights, values, bm25f)

    def _segments_holding(self, fieldname: str) -> list[int]:
        """Segments (by position) that may hold terms of `fieldname`: a text field with no
        tokens in a segment has no terms there (attachments and most languages' fields), so
        its terms are not looked up (a lookup is a hash probe of the segment's term file)."""
        holding = self._holding.get(fieldname)
        if holding is None:
            scorable = self.schema[fieldname].scorable
            holding = self._holding[fieldname] = [
                index
                for index, (reader, _) in enumerate(self.segments)
                if not scorable or reader.field_length(fieldname)
            ]
        return holding

    def _norm_table(self, fieldname: str) -> list[float]:
        """K1 * ((1 - B) + B * length / average) for each length byte, as BM25F computes it."""
        table = self._norms.get(fieldname)
        if table is None:
            weighting = self.weighting
            k1 = weighting.K1
            b = weighting._field_B.get(fieldname, weighting.B)
            avgfl = self.searcher.avg_field_length(fieldname) or 1
            table = [k1 * ((1 - b) + b * byte_to_length(byte) / avgfl) for byte in range(256)]
            self._norms[fieldname] = table
        return table

    def _field_lengths(self, fieldname: str) -> bytes:
        """The encoded length of `fieldname` for every document, by global number."""
        lengths = self._lengths.get(fieldname)
        if lengths is None:
            parts = []
            for reader, _ in self.segments:
                perdoc = getattr(reader, "_perdoc", None)
                if perdoc is None:
                    raise Unsupported(f"no per-document columns in {type(reader).__name__}")
                if isinstance(perdoc, CompactPerDocReader):
                    part = perdoc.field_lengths(fieldname)
                else:  # an index written by Whoosh's own codec
                    part = encoded_lengths(perdoc, fieldname)
                # Whoosh takes every length as 1 where a segment has none.
                if part is None:
                    part = bytes([length_to_byte(1)]) * reader.doc_count_all()
                parts.append(part)
            lengths = self._lengths[fieldname] = b"".join(parts)
        return lengths

    # -- evaluating ----------------------------------------------------------------------------

    def scores(self, query: wq.Query, within: Within = None) -> Scores:
        """Documents matching `query` (only those in `within`, if given) with their scores.

        Do not modify the result: it may be a cached dictionary.
        """
        kind = type(query)
        if kind is wq.Term:
            found = self.postings(query.fieldname, query.text).scores(within)
            return _boosted(found, query.boost)
        if kind is wq.Or:
            _check_or(query)
            if len(query.subqueries) == 1:  # Whoosh uses the one matcher as it is: no boost
                return self.scores(query.subqueries[0], within)
            parts = [self.scores(q, within) for q in query.subqueries]
            return _boosted(_union(parts), query.boost)
        if kind is wq.And:
            return self._and(query, within)
        if kind is wq.AndNot:
            return self.scores(
                query.a, _without(self._docs_in(query.a, within), self.docs(query.b))
            )
        if kind is wq.Require:
            return self.scores(
                query.a, _intersection([self._docs_in(query.a, within), self.docs(query.b)])
            )
        if kind is wq.AndMaybe:
            required = self.scores(query.a, within)
            optional = self.scores(query.b, required)
            return {d: (s + optional[d] if d in optional else s) for d, s in required.items()}
        if kind is wq.Phrase:
            return self._phrase(query, within)
        if kind is wq.Not:
            return dict.fromkeys(_without(self._all(within), self.docs(query.query)), 1.0)
        if kind is wq.Every and query.fieldname in (None, "", "*"):
            return dict.fromkeys(self._all(within), float(query.boost))
        if query is wq.NullQuery:
            return {}
        raise Unsupported(kind.__name__)

    def docs(self, query: wq.Query) -> Collection[int]:
        """Documents matching `query` (a set or dict's keys). Do not modify the result."""
        kind = type(query)
        if kind is wq.Term:
            return self.postings(query.fieldname, query.text).docs
        if kind is wq.Or:
            _check_or(query)
            parts = [self.docs(q) for q in query.subqueries]
            return parts[0] if len(parts) == 1 else _AnyOf(parts)
        if kind is wq.And:
            positive, negative = _split_not(query)
            if not positive:
                raise Unsupported("And of only Not")
            found: Collection[int] = _intersection([self.docs(q) for q in positive])
            for q in negative:
                found = _without(found, self.docs(q))
            return found
        if kind is wq.AndNot:
            return _without(self.docs(query.a), self.docs(query.b))
        if kind is wq.Require:
            return _intersection([self.docs(query.a), self.docs(query.b)])
        if kind is wq.AndMaybe:
            return self.docs(query.a)
        if kind is wq.Not:
            return _without(self.live(), self.docs(query.query))
        if kind is wq.Every and query.fieldname in (None, "", "*"):
            return self.live()
        return self.scores(query)

    def _docs_in(self, query: wq.Query, within: Within) -> Collection[int]:
        found = self.docs(query)
        return found if within is None else _intersection([found, within])

    def _all(self, within: Within) -> Collection[int]:
        return self.live() if within is None else _intersection([self.live(), within])

    def _and(self, query: wq.And, within: Within) -> Scores:
        if len(query.subqueries) == 1:  # Whoosh uses the one matcher as it is: no boost
            return self.scores(query.subqueries[0], within)
        positive, negative = _split_not(query)
        if not positive:
            raise Unsupported("And of only Not")
        # Which documents match first, then scores for those only.
        candidates = _intersection(
            [self.docs(q) for q in positive] + ([] if within is None else [within])
        )
        for q in negative:
            candidates = _without(candidates, self.docs(q))
        parts = [self.scores(q, candidates) for q in positive]
        first, rest = parts[0], parts[1:]
        found: Scores = {}
        for doc in candidates:
            score = first[doc]
            for part in rest:
                score += part[doc]
            for _ in negative:  # a Not inside And matches with a constant score of 1.0
                score += 1.0
            found[doc] = score
        return _boosted(found, query.boost)

    def _phrase(self, query: wq.Phrase, within: Within) -> Scores:
        """Documents with the words at consecutive positions (or within `slop`), in order.

        Scored as Whoosh's SpanNear2 does: the sum of the words' own scores, then boost.
        Results are kept (see `_keep_phrase`): paging through one, or searching the phrase
        again with the same set of readable documents (a role's, kept per searcher), costs
        no second pass; a set made for one request (a reader's own drafts added, facets
        narrowing it) is matched afresh.
        """
        if not query.words:
            raise Unsupported("empty phrase")
        if query.fieldname not in self.schema:
            return {}
        phrase = (query.fieldname, tuple(query.words), query.slop)
        everywhere = self._kept_phrase((phrase, None))
        if everywhere is not None:
            found = everywhere[1] if within is None else _restricted(everywhere[1], within)
            return _boosted(found, query.boost)
        key = (phrase, None if within is None else id(within))
        kept = None if within is None else self._kept_phrase(key)
        if kept is not None and kept[0] is not None and kept[0]() is within:
            return _boosted(kept[1], query.boost)
        found = self._match_phrase(query, within)
        self._keep_phrase(key, within, found)
        return _boosted(found, query.boost)

    def _kept_phrase(self, key: KeptKey) -> KeptPhrase | None:
        kept = self._phrases.get(key)
        if kept is not None:
            self._phrases.move_to_end(key)
        return kept

    def _keep_phrase(self, key: KeptKey, within: Within, found: Scores) -> None:
        """Keep `found` for all documents or for the set `within` (by identity, through a
        weak reference: a request's own set dies with the request, and its entry goes with
        it; the role-wide readable sets live as long as the searcher). A dictionary cannot
        be referred to weakly, and is not kept."""
        try:
            among = (
                None
                if within is None
                else weakref.ref(within, partial(self._forget_phrase, key))  # type: ignore[arg-type]
            )
        except TypeError:
            return
        replaced = self._phrases.pop(key, None)
        if replaced is not None:
            self._phrases_held -= len(replaced[1])
        self._phrases[key] = (among, found)
        self._phrases_held += len(found)
        while self._phrases_held * POSTING_BYTES > MAX_PHRASE_BYTES and len(self._phrases) > 1:
            _, (_, dropped) = self._phrases.popitem(last=False)
            self._phrases_held -= len(dropped)

    def _forget_phrase(self, key: KeptKey, _: object) -> None:
        """The set `key`'s result was kept for has died: its result goes too."""
        dropped = self._phrases.pop(key, None)
        if dropped is not None:
            self._phrases_held -= len(dropped[1])

    def _match_phrase(self, query: wq.Phrase, within: Within) -> Scores:
        """`query`'s documents (only those in `within`, if given) and scores, before boost."""
        words = query.words
        postings = [self.postings(query.fieldname, word, positions=True) for word in words]
        if any(not p.docs for p in postings):
            return {}
        fmt = self.schema[query.fieldname].format
        candidates = _intersection(
            [p.docs for p in postings] + ([] if within is None else [within])
        )
        if query.slop == 1:
            # Word k of the phrase at position s + k: with each word's positions as the
            # bits of an integer, shift and intersect, word by word over the survivors.
            # (Bits and documents are lists kept in step by map and compress.)
            mask_all = position_masks(fmt)
            docs = list(candidates)
            bits = postings[0].masks(docs, mask_all)
            for offset, p in enumerate(postings[1:], 1):
                if not docs:
                    break
                shifted = map(rshift, p.masks(docs, mask_all), repeat(offset))
                bits = list(map(and_, bits, shifted))
                docs, bits = list(compress(docs, bits)), list(compress(bits, bits))
        else:
            docs = [
                doc
                for doc in candidates
                if _in_sequence(
                    [fmt.decode_positions(p.values[doc]) for p in postings],  # type: ignore[index]
                    query.slop,
                )
            ]
        scores = [p.scores_of(docs) for p in postings]
        # Summed in the order of Whoosh's binary tree of IntersectionMatchers.
        if len(scores) == 1:
            sums: Iterable[float] = scores[0]
        elif len(scores) == 2:
            sums = map(add, *scores)
        elif len(scores) == 3:
            a, b, c = scores
            sums = map(add, a, map(add, b, c))
        else:
            sums = map(_tree_sum, map(list, zip(*scores, strict=True)))
        return dict(zip(docs, sums, strict=True))


class _AnyOf(Collection[int]):
    """The union of document collections, without building it: for `in` tests.

    Its length is an upper bound (a document may be in several parts); iterating may
    repeat documents.
    """

    def __init__(self, parts: list[Collection[int]]) -> None:
        self.parts = parts

    def __contains__(self, doc: object) -> bool:
        return any(doc in part for part in self.parts)

    def __iter__(self) -> Iterator[int]:
        return chain.from_iterable(self.parts)

    def __len__(self) -> int:
        return sum(len(part) for part in self.parts)


def _check_or(query: wq.Or) -> None:
    if query.scale or query.minmatch:
        raise Unsupported("Or with scale or minmatch")


def _split_not(query: wq.And) -> tuple[list[wq.Query], list[wq.Query]]:
    positive = [q for q in query.subqueries if type(q) is not wq.Not]
    negative = [q.query for q in query.subqueries if type(q) is wq.Not]
    return positive, negative


def _read_postings(matcher: Any, values: bool) -> tuple[list[int], list[float], list[bytes] | None]:
    """Segment document numbers, weights and (if asked) raw values of a term's postings.

    Reads Whoosh's on-disk blocks whole (with codec.py's blocks, values cost little to
    load); deletions are left to the caller.
    """
    if type(matcher) is FilterMatcher:
        matcher = matcher.child
    ids: list[int] = []
    weights: list[float] = []
    raw: list[bytes] | None = [] if values else None
    if type(matcher) is W3LeafMatcher:
        while not matcher._atend and matcher.is_active():
            matcher._read_weights()
            ids.extend(matcher._data[0] if matcher._byteids else accumulate(matcher._data[0]))
            weights.extend(matcher._weights)
            if raw is not None:
                matcher._read_values()
                raw.extend(matcher._values)
            matcher._next_block()
        return ids, weights, raw
    while matcher.is_active():
        ids.append(matcher.id())
        weights.append(matcher.weight())
        if raw is not None:
            raw.append(matcher.value())
        matcher.next()
    return ids, weights, raw


def position_masks(fmt: Format) -> MaskAll:
    """How to turn a field's raw posting values into masks (bit p set for position p)."""
    if type(fmt) is CompactPositions:
        return compact_masks
    return lambda values: list(map(mask_of, map(fmt.decode_positions, values)))


def _in_sequence(lists: list[list[int]], slop: int) -> bool:
    """Whether positions exist, one from each list in order, each 1..slop after the last.

    What Whoosh's ordered SpanNear2 (mindist 1) accepts; slop 1 means adjacent words.
    """
    spans = {(p, p) for p in lists[0]}
    for positions in lists[1:]:
        spans = {(s, p) for s, e in spans for p in positions if e < p <= e + slop}
        if not spans:
            return False
    return True


def _tree_sum(values: list[float]) -> float:
    """Sum in the order of Whoosh's make_binary_tree of IntersectionMatchers."""
    if len(values) == 2:
        return values[0] + values[1]
    if len(values) == 1:
        return values[0]
    half = len(values) // 2
    return _tree_sum(values[:half]) + _tree_sum(values[half:])


def _restricted(found: Scores, within: Collection[int]) -> Scores:
    """The part of `found` in `within`, going through the smaller of the two."""
    if len(within) < len(found):
        return {doc: found[doc] for doc in within if doc in found}
    return {doc: score for doc, score in found.items() if doc in within}


def _boosted(scores: Scores, boost: float) -> Scores:
    return scores if boost == 1.0 else {d: s * boost for d, s in scores.items()}


def _union(parts: Iterable[Scores]) -> Scores:
    """Documents in any part; scores summed where several match (Whoosh's UnionMatcher)."""
    ordered = sorted(parts, key=len, reverse=True)
    found = dict(ordered[0])
    get = found.get
    for part in ordered[1:]:
        for doc, score in part.items():
            previous = get(doc)
            found[doc] = score if previous is None else previous + score
    return found


def _intersection(parts: list[Collection[int]]) -> set[int]:
    """Documents in every part (sets or dictionaries), smallest part first."""
    parts = sorted(parts, key=len)
    found = set(parts[0])
    for other in parts[1:]:
        if not found:
            break
        if isinstance(other, set | frozenset) or len(other) < 3 * len(found):
            found.intersection_update(other)
        else:
            found = {d for d in found if d in other}
    return found


def _without(found: Collection[int], excluded: Collection[int]) -> set[int]:
    return {d for d in found if d not in excluded}


def cache_for(searcher: Searcher) -> PostingsCache:
    """The searcher's cache, made on first use (the searcher is replaced on any change)."""
    cache = searcher.__dict__.get("_portal_postings")
    if cache is None:
        cache = searcher.__dict__["_portal_postings"] = PostingsCache(searcher)
    return cache


def doc_set(searcher: Searcher, query: wq.Query) -> set[int]:
    """Documents matching `query`, exactly as `searcher.docs_for_query` gives them."""
    try:
        return set(cache_for(searcher).docs(query))
    except Unsupported:
        return set(searcher.docs_for_query(query))


def scored(searcher: Searcher, query: wq.Query, allowed: Collection[int]) -> Scores | None:
    """Documents in `allowed` matching `query` with Whoosh's BM25F scores; None if this
    module cannot evaluate the query (ask Whoosh)."""
    if type(searcher.weighting) is not BM25F:
        return None
    try:
        # Do not modify the result: it may be a kept phrase's.
        return cache_for(searcher).scores(query, allowed)
    except Unsupported:
        return None
