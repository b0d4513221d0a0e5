"""Indexing's own analysis (portal/search/analysis.py): exactly the terms and positions
Whoosh's analyzers give, for every text field of the schema."""

from __future__ import annotations

import gc
from collections import defaultdict
from html.parser import HTMLParser
from pathlib import Path

import pytest
from whoosh import index as whoosh_index
from whoosh.analysis import (
    CharsetFilter,
    LanguageAnalyzer,
    LowercaseFilter,
    NgramAnalyzer,
    RegexTokenizer,
    StemmingAnalyzer,
    StopFilter,
)
from whoosh.codec.whoosh3 import W3PerDocReader
from whoosh.formats import Positions, tokens
from whoosh.support.charset import accent_map
from whoosh.writing import NO_MERGE

from portal.markdown import render_markdown
from portal.search import analysis
from portal.search.analysis import positions_by_term
from portal.search.codec import CompactPerDocReader, CompactPositions
from portal.search.index import WRITER_ARGS
from portal.search.schema import build_schema, html_to_text

TEXTS = [
    "",
    "the of and",  # stop words only
    "The export of dual-use items: a licence is REQUIRED for brokering.",
    "It is the 3.141 rule, v2.0.1 and e.g. U.S.A. under_score *wild* card**s",
    "Ünïcödé ΑΒΓ δέλτα İstanbul ǅemal straße ﬁnance",
    "Les contrôles à l'exportation des biens à double usage sont renforcés. Les États",
    "Die Ausfuhrkontrolle der Güter mit doppeltem Verwendungszweck und der Menschenrechte",
    "Экспортный контроль товаров двойного назначения и права человека",
    "الرقابة على الصادرات وحقوق الإنسان في البلدان",
    "a b c d e export a b export export x y z export",
    "licence " * 700 + "end",  # positions past 255, one term many times
]


def whoosh_terms(analyzer: object, text: str) -> dict[str, list[int]]:
    """Terms and positions as Whoosh's `Positions.word_values` collects them."""
    found: dict[str, list[int]] = defaultdict(list)
    for token in tokens(text, analyzer, {"positions": True, "boosts": True, "mode": "index"}):
        found[token.text].append(token.pos)
    return dict(found)


def text_fields() -> list[str]:
    schema = build_schema()
    return [name for name in schema.names() if type(schema[name].format) is CompactPositions]


@pytest.mark.parametrize("fieldname", text_fields())
def test_every_text_field_is_analysed_as_whoosh_would(fieldname: str) -> None:
    analyzer = build_schema()[fieldname].analyzer
    terms = positions_by_term(analyzer)
    assert terms is not None, f"{fieldname}: Whoosh's slow path would be used"
    for text in TEXTS:
        assert terms(text) == whoosh_terms(analyzer, text), (fieldname, text[:40])
        assert list(terms(text)) == list(whoosh_terms(analyzer, text))  # first occurrence order


@pytest.mark.parametrize(
    "analyzer",
    [
        RegexTokenizer() | LowercaseFilter(),  # no stop words, no stemmer
        RegexTokenizer(r"\w+") | LowercaseFilter() | StopFilter(renumber=False),
        RegexTokenizer(r"(\w)(\w*)") | LowercaseFilter() | StopFilter(minsize=3, maxsize=6),
        StemmingAnalyzer(ignore={"exporting", "items"}),
        StemmingAnalyzer(stoplist=None),
        LanguageAnalyzer("fr"),
    ],
)
def test_other_recognised_chains(analyzer: object) -> None:
    terms = positions_by_term(analyzer)
    assert terms is not None
    for text in [*TEXTS, "Exporting items and exported items, exporting again"]:
        assert terms(text) == whoosh_terms(analyzer, text)


@pytest.mark.parametrize(
    "analyzer",
    [
        NgramAnalyzer(3),
        RegexTokenizer() | LowercaseFilter() | CharsetFilter(accent_map),
        RegexTokenizer(gaps=True, expression=r"\s+") | LowercaseFilter(),
        RegexTokenizer() | StopFilter(),  # no lower case first
        StemmingAnalyzer() | CharsetFilter(accent_map),
        None,
    ],
)
def test_other_analyzers_take_whooshs_own_path(analyzer: object) -> None:
    assert positions_by_term(analyzer) is None
    if analyzer is not None:
        text = "Éxport contrôles of dual-use items"
        ours = list(CompactPositions().word_values(text, analyzer, mode="index"))
        theirs = list(Positions().word_values(text, analyzer, mode="index"))
        assert [(t, f, w) for t, f, w, _ in ours] == [(t, f, w) for t, f, w, _ in theirs]
        fmt = CompactPositions()
        assert [fmt.decode_positions(v) for *_, v in ours] == [
            Positions().decode_positions(v) for *_, v in theirs
        ]


def test_word_values_match_whooshs_positions_format() -> None:
    analyzer = StemmingAnalyzer()
    fmt = CompactPositions(field_boost=1.5)
    for text in [*TEXTS, "x " * 70_000 + "export"]:  # positions past two bytes
        ours = list(fmt.word_values(text, analyzer, mode="index"))
        theirs = list(Positions(field_boost=1.5).word_values(text, analyzer, mode="index"))
        assert [(t, f, w) for t, f, w, _ in ours] == [(t, f, w) for t, f, w, _ in theirs]
        assert [fmt.decode_positions(v) for *_, v in ours] == [
            Positions().decode_positions(v) for *_, v in theirs
        ]
        assert [v for *_, v in ours] == [fmt.encode(fmt.decode_positions(v)) for *_, v in ours]


def test_the_stem_cache_starts_again_when_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(analysis, "STEM_CACHE_SIZE", 5)
    analyzer = StemmingAnalyzer()
    terms = positions_by_term(analyzer)
    assert terms is not None
    for text in TEXTS:
        assert terms(text) == whoosh_terms(analyzer, text)
        assert len(terms._stemmed) <= max(5, len(set(text.lower().split())))  # type: ignore[attr-defined]


def test_a_recognised_chain_goes_with_its_analyzer() -> None:
    analyzer = StemmingAnalyzer()
    assert positions_by_term(analyzer) is positions_by_term(analyzer)
    key = id(analyzer)
    assert key in analysis._CHAINS
    del analyzer
    gc.collect()
    assert key not in analysis._CHAINS


class _Reference(HTMLParser):
    """What an HTML parser sees of the portal's markup: the text, a line for each
    paragraph-like element, permalinks left out (as html_to_text once was written)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a" and ("class", "headerlink") in attrs:
            self.skip += 1
        elif tag in {"p", "li", "br", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "td"}:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self.skip:
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)

    @classmethod
    def text(cls, markup: str) -> str:
        parser = cls()
        parser.feed(markup)
        parser.close()
        lines = "".join(parser.parts).splitlines()
        return "\n".join(line.strip() for line in lines if line.strip())


SOURCES = [
    "# Scope\n\nSome *emphasis*, `code <b>` & more: a < b > c &amp; d &amp;lt; e.",
    '[link](https://x.org/?a=1&copy=2 "t > u") and [t](https://x.org "a class=\'headerlink\'")',
    "## Heading with `code`\n\n- one\n- two  \n  three\n\n1. first\n2. second",
    "|a|b|\n|:-|-:|\n|1|2|\n\nFootnote[^1]\n\n[^1]: the note",
    "```\n<pre> & x\n```\n\n<script>alert(1)</script> <!-- a comment --> <b>raw</b>",
    '<div title="a>b" class="x">x</div> <a class="headerlink" href="#x">\N{PILCROW SIGN}</a>',
    "Ünïcödé ΑΒΓ &#169; &eacute; ![alt text](https://x.org/i.png)",
]


@pytest.mark.parametrize("source", SOURCES)
def test_html_to_text_sees_what_an_html_parser_sees(source: str) -> None:
    markup = render_markdown(source)
    assert html_to_text(markup) == _Reference.text(markup)


def test_html_to_text_of_the_shipped_content() -> None:
    sources = sorted(Path(__file__).parents[1].glob("content/**/*.md"))
    assert sources
    for path in sources:
        markup = render_markdown(path.read_text(encoding="utf-8"))
        assert html_to_text(markup) == _Reference.text(markup), path


def test_html_to_text() -> None:
    markup = (
        '<h2 id="doc-scope">Scope <a class="headerlink" href="#doc-scope" '
        'title="Link to this section">\N{PILCROW SIGN}</a></h2>\n'
        '<p>Exports &amp; brokering &lt;b&gt; &amp;lt; <a href="https://x.org" '
        'rel="nofollow noopener" title="a &gt; b > c">link</a></p>\n'
        "<ul>\n<li>one</li>\n<li>two<br>three</li>\n</ul><!-- a comment -->"
        '<table><tr><td align="left">cell</td><td>next</td></tr></table>'
        "<pre><code>x &lt; y</code></pre>"
    )
    assert html_to_text(markup) == (
        "Scope\nExports & brokering <b> &lt; link\none\ntwo\nthree\ncell\nnext\nx < y"
    )
    # Entities are decoded once: "&amp;lt;" is the text "&lt;" (it was once decoded twice).
    assert html_to_text("<p>&amp;lt; &amp;copy=1</p>") == "&lt; &copy=1"
    # A link whose title mentions the permalink class is not a permalink.
    markup = '<p><a href="#x" title="a class=\'headerlink\'">kept</a></p>'
    assert html_to_text(markup) == "kept"
    assert html_to_text("") == ""
    assert html_to_text("plain words") == "plain words"


def test_lengths_are_read_as_whoosh_reads_them(tmp_path: Path) -> None:
    ix = whoosh_index.create_in(tmp_path, build_schema())
    writer = ix.writer(**WRITER_ARGS)
    entries = [
        {"id": "1", "title": "Export control", "body": "brokering " * 40},
        {"id": "2", "title": "Only a title"},
        {"id": "3", "body": "one two three four five", "body_fr": "contrôles à l'exportation"},
    ]
    for entry in entries:
        writer.add_document(**entry)
    writer.commit(mergetype=NO_MERGE)
    with ix.searcher() as searcher:
        (segment,) = ix._segments()
        ours = CompactPerDocReader(ix.storage, segment)
        theirs = W3PerDocReader(ix.storage, segment)
        assert type(searcher.reader()._perdoc) is CompactPerDocReader
        for field in ("title", "body", "body_fr", "attachments", "id"):
            for docnum in range(4):
                assert ours.doc_field_length(docnum, field, 7) == theirs.doc_field_length(
                    docnum, field, 7
                ), (field, docnum)
        assert ours.doc_field_length(0, "body") == 40
        with pytest.raises(IndexError):
            ours.doc_field_length(4, "body")
        ours.close()
        theirs.close()


def _build(directory: Path) -> dict:
    directory.mkdir()
    ix = whoosh_index.create_in(directory, build_schema())
    writer = ix.writer(**WRITER_ARGS)
    for number, text in enumerate(TEXTS * 3):
        lang = ["", "_fr", "_de", "_ru", "_ar"][number % 5]
        writer.add_document(id=str(number), **{f"title{lang}": text[:60], f"body{lang}": text})
    writer.commit()
    with ix.searcher() as searcher:
        reader = searcher.reader()
        return {
            (field, term): (list(m.all_ids()), [m.value() for m in _each(m)])
            for field, term in reader.all_terms()
            if type(reader.schema[field].format) is CompactPositions
            for m in [reader.postings(field, term)]
        }


def _each(matcher):  # type: ignore[no-untyped-def]
    matcher.reset()
    while matcher.is_active():
        yield matcher
        matcher.next()


def test_an_index_is_the_same_as_whooshs_own_analysis_makes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours = _build(tmp_path / "ours")
    monkeypatch.setattr("portal.search.codec.positions_by_term", lambda analyzer: None)
    theirs = _build(tmp_path / "theirs")
    assert ours and ours == theirs
