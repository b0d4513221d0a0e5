"""Highlighted snippets from a hit's stored text.

Whoosh's highlighter re-runs the full analyzer over the whole stored text of every
hit, which was three quarters of a search page's time. Here the words are found with
one regular expression and stemmed through a cache, which marks the same words.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import cache, lru_cache

from markupsafe import Markup, escape
from whoosh.lang import stemmer_for_language
from whoosh.lang.porter import stem as porter_stem

from portal.search.schema import DEFAULT_LANGUAGE

_WORD = re.compile(r"\w+")
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
    if not stems:
        return False
    stem = _stemmer(lang)
    return any(stem(m.group().lower()) in stems for m in _WORD.finditer(text))


def snippet(text: str, stems: set[str], lang: str = DEFAULT_LANGUAGE) -> Markup:
    """Up to SNIPPET_CHARS of `text` around its first matches, matched words in <mark>.

    `stems` are the query's terms as the index holds them (stemmed, lowercase). Without
    a match the snippet is the beginning of the text. Everything is HTML-escaped.
    """
    stem = _stemmer(lang)
    matches: list[tuple[int, int]] = []
    if stems:
        for m in _WORD.finditer(text):
            if matches and m.start() >= matches[0][0] + SNIPPET_CHARS:
                break  # past any window that starts before the first match
            if stem(m.group().lower()) in stems:
                matches.append(m.span())
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
