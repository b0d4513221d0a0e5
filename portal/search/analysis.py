"""Word positions of a text, as Whoosh's standard analyzers give them, without a token stream.

Indexing a document runs every text field through its analyzer: a regular-expression
tokenizer, lower case, stop words, a stemmer. Whoosh does it with one generator per step and
a `Token` object per word, and its stemming cache keeps use counts; that was over a third of
a full rebuild. `positions_by_term` gives the same terms and positions for the chains the
schema uses (`StemmingAnalyzer`, `LanguageAnalyzer`: tokenizer, `LowercaseFilter`, optional
`StopFilter`, optional `StemFilter`, exactly those classes) in a few list operations per
text; for any other analyzer it returns None and the caller uses Whoosh's own path.
"""

from __future__ import annotations

import re
import weakref
from collections import defaultdict
from collections.abc import Callable
from itertools import compress

from whoosh.analysis import (
    CompositeAnalyzer,
    LowercaseFilter,
    RegexTokenizer,
    StemFilter,
    StopFilter,
)
from whoosh.analysis.tokenizers import default_pattern
from whoosh.lang import stemmer_for_language

#: Stemmed forms kept per analyzer before the cache starts again (Whoosh keeps 50,000).
STEM_CACHE_SIZE = 100_000

# Whoosh's default tokenizer pattern with its group not capturing: the same matches, and
# findall returns them whole (twice as fast as taking group 0 of each match).
_WHOOSH_DEFAULT = default_pattern.pattern
_DEFAULT_WORDS = re.compile(_WHOOSH_DEFAULT.replace("(", "(?:"), default_pattern.flags)
if _DEFAULT_WORDS.groups:
    raise ImportError(f"unexpected default tokenizer pattern {_WHOOSH_DEFAULT!r}")

Terms = Callable[[str], dict[str, list[int]]]


class _Chain:
    """One recognised analyzer chain, as plain steps."""

    def __init__(
        self, tokenizer: RegexTokenizer, stop: StopFilter | None, stem: StemFilter | None
    ) -> None:
        self._words = _word_finder(tokenizer.expression)
        self._stops = stop.stops if stop else frozenset()
        self._min = stop.min if stop else 0
        self._max = stop.max if stop else None
        self._renumber = stop.renumber if stop else False
        self._stemfn = _stem_function(stem) if stem else None
        self._ignore = stem.ignore if stem else frozenset()
        self._stemmed: dict[str, str] = {}

    def __call__(self, text: str) -> dict[str, list[int]]:
        words = list(map(str.lower, self._words(text)))
        stops, low, high = self._stops, self._min, self._max
        if high is None:
            kept = [len(word) >= low and word not in stops for word in words]
        else:
            kept = [low <= len(word) <= high and word not in stops for word in words]
        if self._renumber:
            # StopFilter's renumbering: the first kept word keeps its place, the next
            # ones follow it without gaps.
            first = kept.index(True) if True in kept else 0
            words = list(compress(words, kept))
            positions: range | list[int] = range(first, first + len(words))
        else:
            positions = list(compress(range(len(words)), kept))
            words = list(compress(words, kept))
        if self._stemfn is not None:
            words = self._stem(words)
        terms: defaultdict[str, list[int]] = defaultdict(list)
        for word, position in zip(words, positions, strict=True):
            terms[word].append(position)
        return dict(terms)

    def _stem(self, words: list[str]) -> list[str]:
        stemmed = self._stemmed
        new = set(words).difference(stemmed)
        if new:
            if len(stemmed) + len(new) > STEM_CACHE_SIZE:
                # A new dictionary, not the old one cleared: a thread that is reading the
                # old one still finds every word it added there.
                stemmed = self._stemmed = {}
                new = set(words)
            stem, ignore = self._stemfn, self._ignore
            stemmed.update((word, word if word in ignore else stem(word)) for word in new)
        return list(map(stemmed.__getitem__, words))


def _word_finder(expression: re.Pattern[str]) -> Callable[[str], list[str]]:
    """Every match of a tokenizer's expression, whole, in order."""
    if (expression.pattern, expression.flags) == (_WHOOSH_DEFAULT, default_pattern.flags):
        return _DEFAULT_WORDS.findall
    if expression.groups:  # findall would return the groups, not the whole matches
        return lambda text: [match.group(0) for match in expression.finditer(text)]
    return expression.findall


def _stem_function(stem: StemFilter) -> Callable[[str], str]:
    """The filter's stemmer without Whoosh's cache in front of it (StemFilter.clear)."""
    return stemmer_for_language(stem.lang) if stem.lang else stem.stemfn


def _recognise(analyzer: CompositeAnalyzer) -> Terms | None:
    items = list(analyzer.items)
    if not items or type(items[0]) is not RegexTokenizer or items[0].gaps:
        return None
    tokenizer = items.pop(0)
    if not items or type(items.pop(0)) is not LowercaseFilter:
        return None
    stop = items.pop(0) if items and type(items[0]) is StopFilter else None
    stem = items.pop(0) if items and type(items[0]) is StemFilter else None
    if items:
        return None
    return _Chain(tokenizer, stop, stem)


# By the analyzer's identity (analyzers compare by value and cannot be hashed); an entry
# goes with its analyzer.
_CHAINS: dict[int, tuple[weakref.ref, Terms | None]] = {}


def positions_by_term(analyzer: object) -> Terms | None:
    """A function giving each term of a text and its positions, in the order the terms
    first occur, exactly as indexing with `analyzer` would; None if `analyzer` is not one
    of the chains recognised here."""
    if type(analyzer) is not CompositeAnalyzer:
        return None
    key = id(analyzer)
    held = _CHAINS.get(key)
    if held is None or held[0]() is not analyzer:
        reference = weakref.ref(analyzer, lambda _, key=key: _CHAINS.pop(key, None))
        held = _CHAINS[key] = (reference, _recognise(analyzer))
    return held[1]
