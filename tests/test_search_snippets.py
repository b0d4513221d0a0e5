"""Snippets: the matched words marked, everything else escaped."""

from __future__ import annotations

import random
import re

from portal.search.snippets import SNIPPET_CHARS, snippet


def test_matches_are_marked_by_stem_and_text_is_escaped() -> None:
    text = "We licensed <b>exporters</b> & licensing bodies."
    html = str(snippet(text, {"licens"}))
    assert html == (
        "We <mark>licensed</mark> &lt;b&gt;exporters&lt;/b&gt; &amp; <mark>licensing</mark> bodies."
    )


def test_snippet_is_a_window_around_the_first_match() -> None:
    text = " ".join(["filler"] * 200) + " the catch-all clause " + " ".join(["tail"] * 200)
    html = str(snippet(text, {"claus"}))
    assert html.startswith("… ") and html.endswith(" …")
    assert "<mark>clause</mark>" in html
    assert len(html) < SNIPPET_CHARS + 40


def test_without_a_match_the_snippet_is_the_beginning() -> None:
    html = str(snippet("Opening words of the note. " * 30, {"absent"}))
    assert html.startswith("Opening words") and "<mark>" not in html


def test_other_languages_use_their_stemmer() -> None:
    assert "<mark>exportations</mark>" in str(snippet("Les exportations.", {"export"}, "fr"))


def test_stopping_after_the_window_changes_nothing() -> None:
    import random

    from portal.search import snippets

    def full_scan(text: str, stems: set[str]) -> str:
        stem = snippets._stemmer("en")
        spans = [
            m.span() for m in snippets._WORD.finditer(text) if stem(m.group().lower()) in stems
        ]
        start = max(0, spans[0][0] - snippets.CONTEXT_CHARS) if spans else 0
        if start:
            space = text.find(" ", start)
            start = space + 1 if 0 <= space < spans[0][0] else start
        end = min(len(text), start + SNIPPET_CHARS)
        if end < len(text):
            space = text.rfind(" ", start, end)
            end = space if space > start else end
        inside = [(s - start, e - start) for s, e in spans if s >= start and e <= end]
        body = snippets._marked(text[start:end].replace("\n", " "), inside)
        return ("… " if start else "") + str(body) + (" …" if end < len(text) else "")

    rng = random.Random(5)
    words = ["export", "licence", "licensed", "the", "control", "brokering", "x" * 30]
    for _ in range(200):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 120)))
        stems = {rng.choice(["licens", "export", "broker", "absent"])}
        assert str(snippet(text, stems)) == full_scan(text, stems)


def test_the_first_match_is_found_among_repeated_and_unicode_words() -> None:
    from whoosh.lang.porter import stem

    rng = random.Random(7)
    words = ["Licensing", "export", "ÉTAT", "straße", "İstanbul", "controls", "licences", "a"]
    for _ in range(300):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(0, 120)))
        stems = {stem(w.lower()) for w in rng.sample(words, 2)}
        html = str(snippet(text, stems))
        expected = [w for w in text.split() if stem(w.lower()) in stems]
        marked = re.findall(r"<mark>(.*?)</mark>", html)
        # Every marked word matches; the first match of the text is marked first.
        assert all(stem(m.lower()) in stems for m in marked)
        assert (marked[:1] == expected[:1]) if expected else not marked


_SUFFIXES = """s es ies sses ed eed ing y ly ily bly bility ability ational tional enci ency
    ancy izer ization ation ator alism iveness fulness ousness ality ivity logy icate ative
    alize icity ically ful ness ance ence er ible ant ement ism ate ous ive ize sion tion e
    ll ently ously ated izing ying"""


def test_english_words_are_found_from_what_porter_keeps_of_them() -> None:
    """English matches are looked for from each term but its last two letters: every word
    Porter stems to a term must begin with that (suffixes that change letters: y/i, -ies,
    -bility, -ational, -ization, doubled consonants, -e added or dropped)."""
    from pathlib import Path

    from whoosh.lang.porter import stem

    from portal.search.snippets import has_match

    suffixes = ["", *_SUFFIXES.split()]
    roots = ["sens", "ab", "st", "hop", "cont", "rel", "y", "gener", "happ", "fil", "ag", "tr"]
    words = {root + a + b for root in roots for a in suffixes for b in suffixes}
    content = Path(__file__).resolve().parent.parent / "content"
    for path in content.rglob("*.md"):
        words.update(re.findall(r"[a-z]+", path.read_text(encoding="utf-8").lower()))
    missed = [w for w in words if not has_match(f"({w.capitalize()})", {stem(w)})]
    assert not missed, missed[:20]


def test_a_term_inside_another_word_is_not_a_match() -> None:
    html = str(snippet("Re-exporting is not reexporting; EXPORTS are.", {"export"}))
    assert html == "Re-<mark>exporting</mark> is not reexporting; <mark>EXPORTS</mark> are."
