""" "Did you mean": corrections drawn only from documents the reader may read.

The index keeps, per visibility, the words (unstemmed, three letters or more) of published
documents in a few `kind:vocabulary` entries: one written by a full rebuild, and one per
applied batch of changes holding only words not seen before. Words are never taken out
when a document is withdrawn, deleted or made less visible, so the vocabulary only
proposes candidates: a candidate is offered only after it is found, as written, in the
stored text of a published document the reader may read.

Per-document spelling postings did the same job at twice the cost of a full rebuild.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from whoosh.automata.fsa import find_all_matches
from whoosh.automata.lev import levenshtein_automaton
from whoosh.searching import Searcher
from whoosh.support.levenshtein import damerau_levenshtein

from portal.models import DocumentStatus, Visibility
from portal.search.postings import cache_for
from portal.search.schema import DEFAULT_LANGUAGE, attachments_field, body_field, body_text

VOCABULARY_KIND = "vocabulary"
_VOCABULARY_ID = "__vocabulary__"
_SPELLING_WORD = re.compile(r"[^\W\d_]{3,}")
#: A word in a query: letters only, not part of `field:value`.
_QUERY_WORD = re.compile(r"(?<![:\w])([^\W\d_]{3,})(?![:\w])")
_OPERATORS = {"and", "or", "not", "andnot", "andmaybe", "to"}
#: Stored texts read to confirm that a candidate is written as such.
_TEXTS_READ = 200


def _entry_text(fields: Mapping[str, Any]) -> str:
    lang = fields.get("lang", DEFAULT_LANGUAGE)
    return "\n".join(
        str(fields.get(name, "")) for name in ("heading", body_field(lang), attachments_field(lang))
    )


class Vocabulary:
    """Collects the words that index entries add to the vocabulary beyond what is `known`."""

    def __init__(self, known: Mapping[str, Collection[str]] | None = None) -> None:
        self.known = known or {}
        self.new: dict[str, set[str]] = {}

    def add(self, fields: Mapping[str, Any]) -> None:
        """Take the words of an index entry made by `schema.index_fields`, if published."""
        if fields.get("status") != DocumentStatus.PUBLISHED.value:
            return
        visibility = fields["visibility"]
        known = self.known.get(visibility, ())
        words = set(_SPELLING_WORD.findall(_entry_text(fields).lower()))
        fresh = {word for word in words if word not in known}
        if fresh:
            self.new.setdefault(visibility, set()).update(fresh)

    def entry(self, last_change: int) -> dict[str, Any] | None:
        """The index entry holding the new words (None if there are none)."""
        if not self.new:
            return None
        return {
            "id": f"{_VOCABULARY_ID}:{last_change}",
            "kind": VOCABULARY_KIND,
            "words": {visibility: sorted(words) for visibility, words in self.new.items()},
        }


def read_vocabulary(searcher: Searcher) -> dict[str, frozenset[str]]:
    """Every visibility's words in the index (cached per searcher)."""
    memo = cache_for(searcher).memo
    if "vocabulary" not in memo:
        words: dict[str, set[str]] = {}
        for entry in searcher.documents(kind=VOCABULARY_KIND):
            for visibility, part in entry.get("words", {}).items():
                words.setdefault(visibility, set()).update(part)
        memo["vocabulary"] = {visibility: frozenset(part) for visibility, part in words.items()}
    return memo["vocabulary"]


class _Words:
    """A sorted word list searched with Levenshtein automata (as Whoosh's own lexicons are)."""

    def __init__(self, words: Iterable[str]) -> None:
        self.words = sorted(words)

    def _at_or_after(self, word: str) -> str | None:
        at = bisect_left(self.words, word)
        return self.words[at] if at < len(self.words) else None

    def within(self, text: str, distance: int, prefix: int = 1) -> list[str]:
        """Words at most `distance` edits from `text` that start with its first `prefix` letters."""
        automaton = levenshtein_automaton(text, distance, prefix).to_dfa()
        return [word for word in find_all_matches(automaton, self._at_or_after) if word != text]


def _words(searcher: Searcher, visibilities: Iterable[Visibility]) -> _Words:
    """The words of the given visibilities (cached per searcher)."""
    key = ("words", frozenset(v.value for v in visibilities))
    memo = cache_for(searcher).memo
    if key not in memo:
        vocabulary = read_vocabulary(searcher)
        memo[key] = _Words(set().union(*(vocabulary.get(value, ()) for value in key[1])))
    return memo[key]


def _postings(searcher: Searcher, word: str, fields: list[str]) -> Iterable[list[int]]:
    """The documents of each text field's term for `word` (stemmed as that field stems)."""
    postings = cache_for(searcher)
    for name in fields:
        for term in searcher.schema[name].process_text(word, mode="query"):
            yield postings.postings(name, term).docs


def _holding(searcher: Searcher, word: str, fields: list[str], within: set[int]) -> set[int]:
    """Documents in `within` holding a word with the same stem as `word` in a text field."""
    return {d for docs in _postings(searcher, word, fields) for d in docs if d in within}


def _held(searcher: Searcher, word: str, fields: list[str], within: set[int]) -> bool:
    """Does a document in `within` hold `word` (or a word with its stem)?"""
    return any(d in within for docs in _postings(searcher, word, fields) for d in docs)


def _written_in(searcher: Searcher, word: str, documents: set[int]) -> bool:
    """Is `word` written as such in one of (the first few of) `documents`?"""
    pattern = re.compile(rf"(?<![^\W\d_]){re.escape(word)}(?![^\W\d_])")
    for docnum in sorted(documents)[:_TEXTS_READ]:
        stored = searcher.stored_fields(docnum)
        texts = [
            stored.get("heading", ""),
            body_text(searcher, docnum),
            *(text for _, text in stored.get("files") or ()),
        ]
        if any(pattern.search(text.lower()) for text in texts):
            return True
    return False


def suggest(
    searcher: Searcher,
    text: str,
    visibilities: Iterable[Visibility],
    readable: set[int],
    published: set[int],
    fields: list[str],
) -> str | None:
    """A corrected search from the words of published documents in `readable`, or None.

    `visibilities` are those the reader may read (the vocabulary to draw from), `fields`
    the text fields searched. A typed word is left alone if a readable published document
    holds it (or a word with its stem).
    """
    within = readable & published
    if not within:
        return None
    words = _words(searcher, visibilities)
    corrected, changed = text, False
    for match in _QUERY_WORD.finditer(text):
        word = match.group(1).lower()
        if word in _OPERATORS or _held(searcher, word, fields, within):
            continue
        if candidate := _correction(searcher, words, word, fields, within):
            pattern = rf"(?<![\w:]){re.escape(match.group(1))}(?![\w:])"
            corrected = re.sub(pattern, candidate, corrected, count=1)
            changed = True
    return corrected if changed else None


def _correction(
    searcher: Searcher, words: _Words, word: str, fields: list[str], within: set[int]
) -> str | None:
    """The nearest word to `word` written in a document of `within`; the most common first.

    Every vocabulary word within two edits is first checked against `within`, and only
    those that pass are ranked and counted: words of documents the reader may not read
    (kept in the vocabulary until a rebuild) must not crowd out, or reorder, the ones they
    may. Nearness counts a swap of two letters as one edit (Damerau-Levenshtein), so "ietm"
    becomes "item" rather than the commoner "its".
    """
    # prefix=1: most misspellings keep the first letter, and it spares a full list scan.
    # No cap on how many are ranked: a word skipped below (its stem is readable, the word
    # itself is not) then changes nothing about which readable word comes first.
    near = [
        (damerau_levenshtein(word, candidate), -len(holding), candidate, holding)
        for candidate in words.within(word, 2)
        if (holding := _holding(searcher, candidate, fields, within))
    ]
    for *_, candidate, holding in sorted(near, key=lambda item: item[:3]):
        if _written_in(searcher, candidate, holding):
            return candidate
    return None
