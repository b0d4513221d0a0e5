"""Highlighted snippets from a hit's stored text.

Whoosh's highlighter re-runs the full analyzer over the whole stored text of every
hit, which was three quarters of a search page's time. Here the words are found with
one regular expression and stemmed through a cache, which marks the same words.

In English only the words that can stem to one of the query's terms are looked at:
Porter's steps change at most a word's last two letters, so a word with stem `s` begins
with `s[:-2]` (at least its first letter), found with `str.find` in the lower-cased text.
Stemming every word up to the first match was half of a search's time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from functools import cache, lru_cache
from heapq import merge

from markupsafe import Markup, escape
from whoosh.lang import stemmer_for_language
from whoosh.lang.porter import stem as porter_stem

from portal.search.schema import DEFAULT_LANGUAGE

_WORD = re.compile(r"\w+")
_WORD_CHAR = re.compile(r"\w")
SNIPPET_CHARS = 240
CONTEXT_CHARS = 60


@cache
def _stemmer(lang: str) -> Callable[[str], str]:
    base = porter_stem if lang == DEFAULT_LANGUAGE else stemmer_for_language(lang)
    return lru_cache(maxsize=50_000)(base)


def _marked(text: str, spans: Iterable[tuple[int, int]]) -> Markup:
    parts, position = [], 0
    for start, end in spans:
        parts.append(escape(text[position:start]))
        parts.append(Markup("<mark>%s</mark>") % text[start:end])
        position = end
    parts.append(escape(text[position:]))
    return Markup("").join(parts)


def has_match(text: str, stems: set[str], lang: str = DEFAULT_LANGUAGE) -> bool:
    """Does `text` hold a word whose stem is one of `stems`?"""
    return next(_matches(text, stems, lang), None) is not None


def _matches(text: str, stems: set[str], lang: str) -> Iterator[tuple[int, int]]:
    """The spans of the words of `text` whose stem is one of `stems`, in order."""
    if not stems:
        return
    stem = _stemmer(lang)
    lowered = text.lower() if lang == DEFAULT_LANGUAGE else ""
    prefixes = {s[: max(1, len(s) - 2)] for s in stems}
    if (
        lang != DEFAULT_LANGUAGE
        or len(lowered) != len(text)  # lower-casing moved the letters: "İ" becomes two
        or not all(map(str.isascii, stems))
        or min(map(len, prefixes)) < 2  # one letter: nearly every word is a candidate
    ):
        for m in _WORD.finditer(text):
            if stem(m.group().lower()) in stems:
                yield m.span()
        return
    # Without the prefixes that begin with another one, no two occur at the same place.
    prefixes = {p for p in prefixes if not any(p != q and p.startswith(q) for q in prefixes)}
    for start in merge(*(_occurrences(lowered, prefix) for prefix in prefixes)):
        if start and _WORD_CHAR.match(text, start - 1):
            continue  # inside a word
        m = _WORD.match(text, start)
        if m is not None and stem(m.group().lower()) in stems:
            yield m.span()


def _occurrences(text: str, part: str) -> Iterator[int]:
    at = text.find(part)
    while at >= 0:
        yield at
        at = text.find(part, at + 1)


def snippet(text: str, stems: set[str], lang: str = DEFAULT_LANGUAGE) -> Markup:
    """Up to SNIPPET_CHARS of `text` around its first matches, matched words in <mark>.

    `stems` are the query's terms as the index holds them (stemmed, lowercase). Without
    a match the snippet is the beginning of the text. Everything is HTML-escaped.
    """
    matches: list[tuple[int, int]] = []
    for span in _matches(text, stems, lang):
        if matches and span[0] >= matches[0][0] + SNIPPET_CHARS:
            break  # past any window that starts before the first match
        matches.append(span)
    start = max(0, matches[0][0] - CONTEXT_CHARS) if matches else 0
    if start:
        # Begin at a word boundary.
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < matches[0][0] else start
    end = min(len(text), start + SNIPPET_CHARS)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start else end
    inside = [(s - start, e - start) for s, e in matches if s >= start and e <= end]
    body = _marked(text[start:end].replace("\n", " "), inside)
    prefix = Markup("… ") if start else Markup("")
    suffix = Markup(" …") if end < len(text) else Markup("")
    return prefix + body + suffix
