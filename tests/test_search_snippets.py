"""Snippets: the matched words marked, everything else escaped."""

from __future__ import annotations

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
