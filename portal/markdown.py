"""Markdown -> safe HTML. The only place the portal turns user text into markup.

Python-Markdown renders; bleach then keeps only an allowlist of tags, attributes
and URL schemes, so nothing an author types can run script. Neither object is
shared between threads: Python-Markdown instances keep per-document state and
bleach's Cleaner holds a stateful parser.
"""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Iterator
from functools import partial

import bleach
import markdown as python_markdown
from bleach.html5lib_shim import Filter
from bleach.linkifier import LinkifyFilter
from markdown.extensions.toc import slugify as toc_slugify

ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em",
        "h1", "h2", "h3", "h4", "h5", "h6", "hr", "img", "ins", "li", "ol", "p", "pre",
        "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
    }
)  # fmt: skip
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto"})

# Classes Python-Markdown itself emits; anything else an author types is dropped.
_CLASSES = {
    "a": {"headerlink", "footnote-ref", "footnote-backref"},
    "div": {"footnote"},
}


# Ids a document may carry: its headings' (always prefixed, so they never collide with the
# page's own ids such as form fields) and its footnotes' (fn:1, fnref:1, fnref2:1).
HEADING_ID_PREFIX = "doc-"
_FOOTNOTE_ID = re.compile(r"^fn(ref\d*)?:\d+$")


def _heading_slug(value: str, separator: str) -> str:
    """Python-Markdown's slug under the document prefix: '## Scope' -> id 'doc-scope'."""
    return HEADING_ID_PREFIX + toc_slugify(value, separator)


def _allowed_class(tag: str, value: str) -> bool:
    if tag == "code":
        return all(name.startswith("language-") for name in value.split())
    return all(name in _CLASSES.get(tag, set()) for name in value.split())


def _allow_attribute(tag: str, name: str, value: str) -> bool:
    if name == "class":
        return _allowed_class(tag, value)
    allowed = {
        "a": {"href", "title", "rel"},
        "abbr": {"title"},
        "img": {"src", "alt", "title", "width", "height"},
        "ol": {"start"},
        "td": {"align"},
        "th": {"align"},
        "li": {"id"},
        "sup": {"id"},
    }
    if name == "id":
        if tag in {"h1", "h2", "h3", "h4", "h5", "h6"}:
            return value.startswith(HEADING_ID_PREFIX)
        return tag in {"li", "sup"} and bool(_FOOTNOTE_ID.match(value))
    return name in allowed.get(tag, set())


def _outward_rel(attrs: dict, new: bool = False) -> dict:
    """Links leaving the document say nofollow noopener; in-page anchors stay plain."""
    href = attrs.get((None, "href"), "")
    if not href.startswith("#"):
        attrs[(None, "rel")] = "nofollow noopener"
    return attrs


class _ImageAltFilter(Filter):
    """An image written as raw HTML without alt text gets an empty one (decorative), so a
    screen reader skips it instead of reading its address."""

    def __iter__(self) -> Iterator[dict]:
        for token in super().__iter__():
            if token["type"] in ("StartTag", "EmptyTag") and token["name"] == "img":
                token["data"].setdefault((None, "alt"), "")
            yield token


_MARKDOWN_EXTENSIONS = ["tables", "footnotes", "fenced_code", "toc", "sane_lists"]
_MARKDOWN_CONFIG = {
    "toc": {
        "permalink": "\N{PILCROW SIGN}",
        "permalink_title": "Link to this section",
        "slugify": _heading_slug,
    },
    "tables": {"use_align_attribute": True},
}

_local = threading.local()


def _cleaner() -> bleach.Cleaner:
    cleaner = getattr(_local, "cleaner", None)
    if cleaner is None:
        cleaner = bleach.Cleaner(
            tags=ALLOWED_TAGS,
            attributes=_allow_attribute,
            protocols=ALLOWED_PROTOCOLS,
            strip=True,
            strip_comments=True,
            filters=[
                partial(LinkifyFilter, callbacks=[_outward_rel], skip_tags={"pre", "code"}),
                _ImageAltFilter,
            ],
        )
        _local.cleaner = cleaner
    return cleaner


#: Python-Markdown looks for each "[" 's closing bracket to the end of its paragraph: time
#: grows with the square of their number (4,000 take seconds). No real paragraph has this many.
MAX_BRACKETS_PER_PARAGRAPH = 1000
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def _too_costly(source: str) -> bool:
    """Text that Python-Markdown would take minutes over (see MAX_BRACKETS_PER_PARAGRAPH)."""
    return source.count("[") > MAX_BRACKETS_PER_PARAGRAPH and any(
        paragraph.count("[") > MAX_BRACKETS_PER_PARAGRAPH
        for paragraph in _PARAGRAPH_BREAK.split(source)
    )


def _as_plain_text(source: str) -> str:
    """The source shown as it was typed, when it cannot be formatted."""
    return f'<pre class="unformatted">{html.escape(source)}</pre>'


def render_markdown(source: str) -> str:
    """Render Markdown source to sanitised HTML, safe to insert into a page.

    Text nested too deeply for the parser, or that would take it minutes, is shown as plain
    text instead: saved and readable, never an error page or a stuck worker.
    """
    if _too_costly(source):
        return _as_plain_text(source)
    renderer = python_markdown.Markdown(
        extensions=_MARKDOWN_EXTENSIONS,
        extension_configs=_MARKDOWN_CONFIG,
        output_format="html",
    )
    try:
        return _cleaner().clean(renderer.convert(source))
    except RecursionError:
        return _as_plain_text(source)
