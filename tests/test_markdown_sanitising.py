"""XSS corpus and behaviour tests for ``portal.markdown.render_markdown``.

Outputs are checked by parsing them with the stdlib ``HTMLParser`` and applying an
allowlist, not by looking for substrings, so an encoding trick cannot hide a payload.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser

import pytest

from portal.markdown import ALLOWED_TAGS, render_markdown

SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
FORBIDDEN_ATTRIBUTES = frozenset({"style", "srcdoc", "formaction", "target", "xlink:href"})
URL_ATTRIBUTES = frozenset({"href", "src"})
RAW_DANGEROUS_TAG = re.compile(r"<\s*/?\s*(?:script|style|iframe)\b", re.IGNORECASE)
# ASCII whitespace plus C0 controls and DEL: browsers ignore these inside a URL scheme.
_IGNORED_IN_SCHEME = re.compile(r"[\x00-\x20\x7f]")


def url_scheme(value: str) -> str | None:
    """Return the lowercased scheme of a URL as a browser would read it, or None."""
    cleaned = _IGNORED_IN_SCHEME.sub("", value).lower()
    colon = cleaned.find(":")
    if colon == -1:
        return None
    for delimiter in "/?#":
        position = cleaned.find(delimiter)
        if position != -1 and position < colon:
            return None
    return cleaned[:colon]


class _SafetyChecker(HTMLParser):
    """Collects every violation of the sanitising policy found in a document."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"disallowed tag <{tag}>")
        names = [name for name, _ in attrs]
        values = {name: value or "" for name, value in attrs}
        for name in names:
            if name.startswith("on"):
                self.problems.append(f"event handler {name!r} on <{tag}>")
            if name in FORBIDDEN_ATTRIBUTES:
                self.problems.append(f"forbidden attribute {name!r} on <{tag}>")
        for name in URL_ATTRIBUTES & values.keys():
            scheme = url_scheme(values[name])
            if scheme is not None and scheme not in SAFE_SCHEMES:
                self.problems.append(f"unsafe {name}={values[name]!r} on <{tag}>")
        href = values.get("href")
        if tag == "a" and href is not None and not href.startswith("#"):
            rel = values.get("rel", "").split()
            if "nofollow" not in rel or "noopener" not in rel:
                self.problems.append(f"outward link {href!r} lacks rel nofollow noopener")

    def handle_endtag(self, tag: str) -> None:
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"disallowed end tag </{tag}>")


def policy_violations(html: str) -> list[str]:
    """Return every way ``html`` breaks the sanitising policy (empty when safe)."""
    checker = _SafetyChecker()
    checker.feed(html)
    problems = list(checker.problems)
    if "<" in checker.rawdata:
        problems.append(f"unterminated markup at end of output: {checker.rawdata!r}")
    checker.close()
    if RAW_DANGEROUS_TAG.search(html):
        problems.append("raw <script>, <style> or <iframe> tag in output")
    return problems


def assert_safe(html: str) -> None:
    """Fail with the full output when ``html`` breaks the sanitising policy."""
    problems = policy_violations(html)
    assert not problems, f"{problems}\n--- output ---\n{html}"


XSS_VECTORS: list[tuple[str, str]] = [
    # Raw script elements.
    ("script-plain", "<script>alert(1)</script>"),
    ("script-uppercase", "<SCRIPT>alert(1)</SCRIPT>"),
    ("script-nested", "<scr<script>ipt>alert(1)</scr</script>ipt>"),
    ("script-unclosed", "<script>alert(1)"),
    ("script-src-attribute", '<script src="https://evil.example/x.js"></script>'),
    ("script-in-paragraph", "Hello <script>alert(1)</script> world"),
    # Event handlers on otherwise harmless elements.
    ("img-onerror", "<img src=x onerror=alert(1)>"),
    ("img-onerror-quoted", '<img src="x" onerror="alert(1)">'),
    ("img-onerror-backticks", "<img src=`x` onerror=`alert(1)`>"),
    ("img-onerror-slash-separator", "<img/src=x/onerror=alert(1)>"),
    ("a-href-hash-onclick", '<a href="#" onclick="alert(1)">x</a>'),
    ("a-unquoted-onmouseover", "<a href=http://ok.example onmouseover=alert(1)>x</a>"),
    ("body-onload", "<body onload=alert(1)>"),
    ("input-autofocus-onfocus", "<input autofocus onfocus=alert(1)>"),
    ("details-open-ontoggle", "<details open ontoggle=alert(1)>"),
    ("video-source-onerror", "<video><source onerror=alert(1)></video>"),
    ("marquee-onstart", "<marquee onstart=alert(1)>x</marquee>"),
    ("p-onmouseover", '<p onmouseover="alert(1)">hover</p>'),
    # SVG and MathML.
    ("svg-onload", "<svg onload=alert(1)>"),
    ("svg-script", "<svg><script>alert(1)</script></svg>"),
    ("svg-a-xlink-href", '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>'),
    (
        "math-maction-xlink",
        '<math><maction actiontype="statusline" xlink:href="javascript:alert(1)">'
        "CLICK</maction></math>",
    ),
    # Embedding elements.
    ("iframe-javascript-src", '<iframe src="javascript:alert(1)"></iframe>'),
    ("iframe-srcdoc", '<iframe srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;"></iframe>'),
    ("object-data", '<object data="javascript:alert(1)"></object>'),
    ("embed-src", '<embed src="javascript:alert(1)">'),
    (
        "form-action-button-formaction",
        '<form action="javascript:alert(1)"><button formaction="javascript:alert(2)">'
        "go</button></form>",
    ),
    # Style.
    ("style-element", "<style>body{background:url(javascript:alert(1))}</style>"),
    ("style-attr-expression", '<p style="width: expression(alert(1))">x</p>'),
    ("style-attr-url-javascript", '<div style="background:url(javascript:alert(1))">x</div>'),
    ("link-stylesheet", '<link rel="stylesheet" href="https://evil.example/x.css">'),
    # Document-level elements.
    ("meta-refresh", '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">'),
    ("base-href", '<base href="https://evil.example/">'),
    # Dangerous schemes in raw HTML links.
    ("a-javascript", '<a href="javascript:alert(1)">x</a>'),
    ("a-mixed-case-javascript", '<a href="JaVaScRiPt:alert(1)">x</a>'),
    ("a-leading-space-javascript", '<a href=" javascript:alert(1)">x</a>'),
    ("a-tab-entity-in-scheme", '<a href="jav&#x09;ascript:alert(1)">x</a>'),
    ("a-newline-entity-in-scheme", '<a href="jav&#x0A;ascript:alert(1)">x</a>'),
    ("a-literal-tab-in-scheme", '<a href="java\tscript:alert(1)">x</a>'),
    ("a-decimal-entity-scheme", '<a href="&#106;avascript:alert(1)">x</a>'),
    ("a-hex-entity-scheme", '<a href="&#x6A;avascript:alert(1)">x</a>'),
    ("a-padded-entity-scheme", '<a href="&#0000106&#0000097vascript:alert(1)">x</a>'),
    ("a-padded-entity-semicolons", '<a href="&#0000106;&#0000097;vascript:alert(1)">x</a>'),
    ("a-hex-entities-no-semicolon", '<a href="&#x6A&#x61&#x76ascript:alert(1)">x</a>'),
    ("a-leading-control-entity", '<a href="&#x01;javascript:alert(1)">x</a>'),
    ("a-carriage-return-entity", '<a href="java&#x0D;script:alert(1)">x</a>'),
    ("a-null-byte-in-scheme", '<a href="java\x00script:alert(1)">x</a>'),
    ("a-entity-colon", '<a href="javascript&colon;alert(1)">x</a>'),
    (
        "a-data-html-base64",
        '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    ),
    ("a-vbscript", '<a href="vbscript:msgbox(1)">x</a>'),
    ("a-unquoted-javascript", "<a href=javascript:alert(1)>x</a>"),
    ("a-backtick-javascript", "<a href=`javascript:alert(1)`>x</a>"),
    ("img-src-javascript", '<img src="javascript:alert(1)">'),
    # Markdown link syntax.
    ("md-link-javascript", "[x](javascript:alert(1))"),
    ("md-link-javascript-upper", "[x](JAVASCRIPT:alert(1))"),
    ("md-link-entity-javascript", "[x](&#106;avascript:alert(1))"),
    ("md-link-data-html", "[x](data:text/html,<script>alert(1)</script>)"),
    ("md-link-vbscript", "[x](vbscript:msgbox(1))"),
    ("md-link-angle-destination", "[x](<javascript:alert(1)>)"),
    ("md-link-tab-entity", "[x](jav&#x09;ascript:alert(1))"),
    ("md-link-leading-spaces", "[x](   javascript:alert(1))"),
    ("md-image-javascript", "![x](javascript:alert(1))"),
    ("md-image-data-svg", "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)"),
    ("md-reference-javascript", "[x][1]\n\n[1]: javascript:alert(1)"),
    ("md-reference-image-javascript", "![x][1]\n\n[1]: javascript:alert(1)"),
    ("md-autolink-javascript", "<javascript:alert(1)>"),
    ("md-title-onmouseover", '[x](http://a.com "onmouseover=alert(1)")'),
    ("md-title-quote-breakout", '[x](http://a.com" onmouseover="alert(1))'),
    ("md-title-html-breakout", "[x](http://a.com '\"><img src=x onerror=alert(1)>')"),
    ("md-image-alt-breakout", '![x" onerror="alert(1)](https://ok.example/a.png)'),
    # Comments hiding markup.
    ("comment-hiding-img", "<!--<img src=x onerror=alert(1)>-->"),
    ("comment-conditional", "<!--[if IE]><script>alert(1)</script><![endif]-->"),
    ("comment-downlevel-revealed", "<![if !IE]><script>alert(1)</script><![endif]>"),
    ("comment-early-close", "<!--><img src=x onerror=alert(1)>-->"),
    # Broken and unterminated markup.
    ("img-unterminated", "<img src=x onerror=alert(1)//"),
    ("a-unterminated-href", '<a href="javascript:alert(1)'),
    ("img-unterminated-then-text", "<img src=x onerror=alert(1)//\n\nmore text"),
    ("cdata-script", "<![CDATA[<script>alert(1)</script>]]>"),
    # Parser-differential and mXSS.
    ("noscript-title-breakout", '<noscript><p title="</noscript><img src=x onerror=alert(1)>">'),
    ("mxss-svg-style", '<svg></p><style><a id="</style><img src=1 onerror=alert(1)>">'),
    ("mxss-math-mglyph-style", "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>"),
    ("textarea-breakout", "<textarea></textarea><img src=x onerror=alert(1)></textarea>"),
    ("title-breakout", "<title><img src=x onerror=alert(1)></title>"),
    # Markdown constructs that carry HTML.
    ("fenced-code-script", "```\n<script>alert(1)</script>\n```"),
    ("fenced-code-lang-breakout", '```python" onmouseover="alert(1)\nx = 1\n```'),
    ("inline-code-script", "`<script>alert(1)</script>`"),
    ("heading-id-breakout", '# Title "><script>alert(1)</script>'),
    ("heading-img-onerror", "## Heading <img src=x onerror=alert(1)>"),
    ("footnote-html", "Text[^1]\n\n[^1]: <img src=x onerror=alert(1)><script>alert(2)</script>"),
    ("footnote-label-breakout", 'Text[^a"><script>]\n\n[^a"><script>]: note'),
    (
        "table-cell-html",
        "| a | b |\n|---|---|\n| <img src=x onerror=alert(1)> | <script>alert(2)</script> |",
    ),
    ("table-cell-md-link", "| a |\n|---|\n| [x](javascript:alert(1)) |"),
    ("blockquote-html", "> <iframe src=javascript:alert(1)></iframe>"),
    ("list-item-html", "- <svg onload=alert(1)>\n- <a href=javascript:alert(1)>x</a>"),
    # Attributes the allowlist must drop from allowed tags.
    ("a-target-blank", '<a href="http://ok.example" target="_blank">x</a>'),
    ("a-protocol-relative", '<a href="//evil.example">x</a>'),
    ("a-author-rel-override", '<a href="https://ok.example" rel="opener">x</a>'),
    ("img-srcset", '<img src="https://ok.example/a.png" srcset="javascript:alert(1) 1x">'),
    ("a-class-injection", '<a href="#x" class="headerlink evil">x</a>'),
    ("code-class-injection", '<code class="language-x" style="color:red">x</code>'),
]


@pytest.mark.parametrize(
    "source", [source for _, source in XSS_VECTORS], ids=[name for name, _ in XSS_VECTORS]
)
def test_xss_vector_is_neutralised(source: str) -> None:
    """Every vector renders to output that passes the allowlist checker."""
    assert_safe(render_markdown(source))


def test_corpus_is_large_and_ids_are_unique() -> None:
    """The corpus keeps at least 45 vectors, each with a distinct id."""
    names = [name for name, _ in XSS_VECTORS]
    assert len(names) >= 45
    assert len(set(names)) == len(names)


@pytest.mark.parametrize(
    "html",
    [
        '<a href="jav&#x09;ascript:alert(1)" rel="nofollow noopener">x</a>',
        '<a href="&#0000106avascript:alert(1)" rel="nofollow noopener">x</a>',
        '<a href=" JAVASCRIPT:alert(1)" rel="nofollow noopener">x</a>',
        '<img src="data:image/svg+xml;base64,AAAA">',
        '<a href="https://ok.example">missing rel</a>',
        '<a href="https://ok.example" rel="nofollow">half rel</a>',
        '<img src="https://ok.example/a.png" onerror="alert(1)">',
        '<p style="color:red">x</p>',
        '<a href="https://ok.example" rel="nofollow noopener" target="_blank">x</a>',
        "<svg></svg>",
        "<p>ok</p><ScRiPt>alert(1)</ScRiPt>",
        "<p>ok</p><img src=x onerror=alert(1)",
    ],
    ids=[
        "tab-entity",
        "padded-entity",
        "space-uppercase",
        "data-image",
        "no-rel",
        "half-rel",
        "onerror",
        "style",
        "target",
        "svg",
        "script",
        "unterminated",
    ],
)
def test_checker_rejects_unsafe_html(html: str) -> None:
    """The checker itself catches each kind of violation it is meant to find."""
    assert policy_violations(html)


@pytest.mark.parametrize(
    ("url", "scheme"),
    [
        ("https://ok.example", "https"),
        ("//evil.example", None),
        ("/relative:path", None),
        ("page?q=a:b", None),
        ("#fn:1", None),
        ("\x01java\nscript:alert(1)", "javascript"),
        ("MAILTO:a@b.example", "mailto"),
    ],
)
def test_url_scheme(url: str, scheme: str | None) -> None:
    """Scheme detection ignores whitespace/controls and stops at path delimiters."""
    assert url_scheme(url) == scheme


def test_checker_accepts_safe_html() -> None:
    """Representative safe output raises no complaint."""
    html = (
        '<h1 id="t">T<a class="headerlink" href="#t" title="x">¶</a></h1>'
        '<p><a href="//ok.example" rel="nofollow noopener">x</a>'
        '<img src="/a.png" alt="a"></p>'
    )
    assert policy_violations(html) == []


# --- Safe Markdown survives -------------------------------------------------------------


def test_heading_gets_id_and_permalink() -> None:
    """Headings get a slug id under the document prefix and a permalink anchor."""
    html = render_markdown("# Export Controls Overview\n\n## Second part")
    assert '<h1 id="doc-export-controls-overview">' in html
    assert '<a class="headerlink" href="#doc-export-controls-overview"' in html
    assert '<h2 id="doc-second-part">' in html
    assert '<a class="headerlink" href="#doc-second-part"' in html
    assert_safe(html)


def test_heading_ids_are_stable() -> None:
    """The same heading gets the same id on every render."""
    source = "# Stable Heading\n\ntext\n\n# Stable Heading"
    first = render_markdown(source)
    assert '<h1 id="doc-stable-heading">' in first
    assert '<h1 id="doc-stable-heading_1">' in first
    assert render_markdown(source) == first


def test_permalink_has_no_rel() -> None:
    """In-page anchors stay plain: no nofollow rel on headerlinks."""
    html = render_markdown("# Title")
    match = re.search(r"<a [^>]*class=\"headerlink\"[^>]*>", html)
    assert match is not None
    assert "rel=" not in match.group(0)


def test_table_renders() -> None:
    """A pipe table becomes a table with header cells."""
    html = render_markdown("| Name | Value |\n|:-----|------:|\n| a | 1 |")
    assert "<table>" in html
    assert "<th" in html and "Name</th>" in html
    assert "<td" in html and "a</td>" in html
    assert 'align="right"' in html
    assert_safe(html)


def test_footnotes_render() -> None:
    """Footnote references and the footnote block survive sanitising."""
    html = render_markdown("Claim.[^1]\n\n[^1]: Source of the claim.")
    assert 'class="footnote"' in html
    assert 'href="#fn:1"' in html
    assert 'id="fn:1"' in html
    assert 'class="footnote-ref"' in html
    assert 'class="footnote-backref"' in html
    assert "Source of the claim." in html
    assert_safe(html)


def test_fenced_code_keeps_language_and_escapes_script() -> None:
    """Fenced code keeps its language class and shows markup as escaped text."""
    html = render_markdown("```python\nprint('<script>alert(1)</script>')\n```")
    assert '<pre><code class="language-python">' in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert_safe(html)


def test_https_link_keeps_href_and_gets_rel() -> None:
    """An https link keeps its href and is marked nofollow noopener."""
    html = render_markdown("[ECHRI](https://echri.example/practice?a=1&b=2)")
    assert 'href="https://echri.example/practice?a=1&amp;b=2"' in html
    assert 'rel="nofollow noopener"' in html
    assert_safe(html)


def test_mailto_link_keeps_href() -> None:
    """A mailto link keeps its href."""
    html = render_markdown("[Write](mailto:secretariat@echri.example)")
    assert 'href="mailto:secretariat@echri.example"' in html
    assert_safe(html)


def test_relative_and_fragment_links_survive() -> None:
    """Relative links and #fragments are allowed; only outward ones get rel."""
    html = render_markdown("[doc](/practice/12) and [top](#top)")
    assert 'href="/practice/12"' in html
    assert '<a href="#top">top</a>' in html
    assert_safe(html)


def test_protocol_relative_link_allowed_with_rel() -> None:
    """A protocol-relative href is kept but marked nofollow noopener."""
    html = render_markdown('<a href="//evil.example">x</a>')
    assert 'href="//evil.example"' in html
    assert 'rel="nofollow noopener"' in html
    assert_safe(html)


def test_target_attribute_dropped() -> None:
    """target= is removed from links while the href survives."""
    html = render_markdown('<a href="http://ok.example" target="_blank">x</a>')
    assert 'href="http://ok.example"' in html
    assert "target" not in html
    assert_safe(html)


def test_https_image_keeps_src() -> None:
    """An ordinary https image keeps its src and alt."""
    html = render_markdown("![Chart](https://echri.example/chart.png)")
    assert 'src="https://echri.example/chart.png"' in html
    assert 'alt="Chart"' in html
    assert_safe(html)


def test_rendering_is_deterministic() -> None:
    """Rendering the same source twice gives identical output."""
    assert render_markdown(RICH_DOCUMENT) == render_markdown(RICH_DOCUMENT)
    assert_safe(render_markdown(RICH_DOCUMENT))


RICH_DOCUMENT = """\
# Practice Note

Intro with a [link](https://echri.example) and a note.[^n]

## Table

| Col | Val |
|-----|-----|
| a   | 1   |

```python
x = "<b>bold</b>"
```

1. one
2. two

[^n]: The note.
"""


# --- Thread safety ----------------------------------------------------------------------


def _thread_documents() -> list[str]:
    """Ten distinct documents exercising every extension."""
    documents = []
    for index in range(10):
        documents.append(
            f"# Document {index}\n\n"
            f"Paragraph {index} with [a link](https://example.org/{index}) "
            f"and a footnote.[^{index}]\n\n"
            f"## Section {index}\n\n"
            f"| k | v |\n|---|---|\n| key{index} | {index * 7} |\n\n"
            f"```python\nprint({index})  # <script>{index}</script>\n```\n\n"
            f"<img src=x onerror=alert({index})> www.site{index}.example\n\n"
            f"[^{index}]: Footnote {index}.\n"
        )
    return documents


def test_concurrent_rendering_matches_sequential() -> None:
    """Rendering from 8 threads at once gives the same output as one thread."""
    documents = _thread_documents()
    assert len(set(documents)) == len(documents)
    expected = [render_markdown(document) for document in documents]
    assert len(set(expected)) == len(expected)
    jobs = [index % len(documents) for index in range(200)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda index: (index, render_markdown(documents[index])), jobs))
    assert len(results) == len(jobs)
    for index, html in results:
        assert html == expected[index], f"document {index} rendered differently under threads"


@pytest.mark.parametrize(
    "source",
    [
        '<h2 id="csrf_token">x</h2>',
        '<h2 id="main-content">x</h2>',
        '<li id="withdraw-reason">x</li>',
        '<sup id="title">1</sup>',
    ],
)
def test_authors_cannot_give_elements_the_pages_own_ids(source: str) -> None:
    """An id from the author could shadow a form field or the skip-link target."""
    assert "id=" not in render_markdown(source)


def test_an_image_typed_as_html_without_alt_text_gets_an_empty_one():
    html = render_markdown('<p><img src="https://example.org/map.png"></p>')
    assert 'alt=""' in html
    assert 'alt="Map"' in render_markdown('<p><img src="https://example.org/m.png" alt="Map"></p>')


def test_text_too_deeply_nested_to_format_is_shown_as_typed():
    source = "".join("    " * level + "- <b>item</b>\n" for level in range(300))
    html = render_markdown(source)
    assert html.startswith('<pre class="unformatted">')
    assert "&lt;b&gt;item&lt;/b&gt;" in html and "<b>" not in html


def test_thousands_of_open_brackets_in_a_paragraph_are_shown_as_typed_not_parsed_for_minutes():
    """Python-Markdown's link parsing is quadratic in unclosed brackets per paragraph."""
    html = render_markdown("[a" * 50_000)
    assert html.startswith('<pre class="unformatted">')
    normal = render_markdown("See [the guide](https://example.org) and [1].\n\n" * 600)
    assert normal.count("<a ") == 600 and "unformatted" not in normal
