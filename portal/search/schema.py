"""The Whoosh schema and how a document becomes an index entry."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

from whoosh.analysis import IDAnalyzer, LanguageAnalyzer, StemmingAnalyzer
from whoosh.columns import ColumnReader, MultiColumnReader, VarBytesColumn
from whoosh.fields import COLUMN, DATETIME, ID, KEYWORD, STORED, TEXT, Schema
from whoosh.searching import Searcher

from portal.models import Document
from portal.models.documents import STATE_TYPES
from portal.search.codec import CompactPositions

DEFAULT_LANGUAGE = "en"
# Whoosh's languages with a stemmer; a document in any other language is indexed as English.
LANGUAGES = (
    "en",
    "ar",
    "da",
    "de",
    "es",
    "fi",
    "fr",
    "hu",
    "it",
    "nl",
    "no",
    "pt",
    "ro",
    "ru",
    "sv",
)
META_ID = "__meta__"


def title_field(lang: str) -> str:
    """The title field analysed for `lang`."""
    return "title" if lang == DEFAULT_LANGUAGE else f"title_{lang}"


def body_field(lang: str) -> str:
    """The body field analysed for `lang` (its text is in the `text` column)."""
    return "body" if lang == DEFAULT_LANGUAGE else f"body_{lang}"


def attachments_field(lang: str) -> str:
    """The text of the current revision's attached files, analysed for `lang`."""
    return "attachments" if lang == DEFAULT_LANGUAGE else f"attachments_{lang}"


def build_schema() -> Schema:
    """Filterable, facetable and sortable fields plus per-language text fields."""
    lower_id = IDAnalyzer(lowercase=True)
    schema = Schema(
        id=ID(unique=True, stored=True),
        kind=ID,
        slug=ID(stored=True),
        heading=STORED,
        lang=ID(stored=True),
        type=ID(stored=True, sortable=True),
        state=ID(stored=True, sortable=True, analyzer=lower_id),
        owner_state=ID(analyzer=lower_id),
        author=ID,
        author_role=ID(stored=True),
        commitments=KEYWORD(stored=True),
        visibility=ID(stored=True),
        status=ID(stored=True),
        published=DATETIME(stored=True, sortable=True),
        year=ID(stored=True, sortable=True),
        last_change=STORED,
        # [(file name, text)] of the current revision's files, for "Match in attached file".
        files=STORED,
        # {visibility: [word]} of a `kind:vocabulary` entry, for "did you mean" (spelling.py).
        words=STORED,
        # The body as plain UTF-8, for snippets: a column (uncompressed, read one document
        # at a time), so that listing hits does not load and decompress every body.
        text=COLUMN(VarBytesColumn()),
    )
    for lang in LANGUAGES:
        analyzer = StemmingAnalyzer() if lang == DEFAULT_LANGUAGE else LanguageAnalyzer(lang)
        schema.add(title_field(lang), compact_text(analyzer))
        schema.add(body_field(lang), compact_text(analyzer))
        schema.add(attachments_field(lang), compact_text(analyzer))
    return schema


def compact_text(analyzer: Any) -> TEXT:
    """A text field whose postings keep positions in the compact encoding (codec.py)."""
    field = TEXT(analyzer=analyzer)
    field.format = CompactPositions(field_boost=field.format.field_boost)
    return field


def schema_signature(schema: Schema) -> list[tuple[Any, ...]]:
    """What must match for an existing index to be usable with this code's schema."""
    return [
        (name, type(field).__name__, field.scorable, field.stored, field.unique,
         field.column_type is not None, type(field.format).__name__)
        for name, field in sorted(schema.items())
    ]  # fmt: skip


# A tag of the portal's sanitised HTML (markdown.py: bleach quotes every attribute value
# and escapes "<" in text), or a comment; and one attribute of a tag.
_TAG = re.compile(r"""<(/?)([A-Za-z][A-Za-z0-9]*)((?:[^>"']|"[^"]*"|'[^']*')*)>|<!--.*?-->""", re.S)
_ATTRIBUTE = re.compile(r"""([^\s=/>]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?""")
_LINE_TAGS = frozenset({"p", "li", "br", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "td"})


def _is_permalink(attributes: str) -> bool:
    """Whether a link's attributes are those of a heading's permalink (class headerlink)."""
    for found in _ATTRIBUTE.finditer(attributes):
        if found[1].lower() == "class":
            return html.unescape(found[2] or found[3] or found[4] or "") == "headerlink"
    return False


def html_to_text(markup: str) -> str:
    """Plain text for indexing: Markdown syntax is gone, words and punctuation stay; each
    paragraph, heading, list item and table row on a line of its own; no permalink pilcrows.

    One regular-expression pass: html.parser took a fifth of a full rebuild.
    """
    parts: list[str] = []
    skip = end = 0  # inside a permalink; where the last tag ended
    for tag in _TAG.finditer(markup):
        if not skip:
            parts.append(markup[end : tag.start()])
        end = tag.end()
        closing, name, attributes = tag.groups()
        if name is None:  # a comment
            continue
        name = name.lower()
        if closing:
            if name == "a" and skip:
                skip -= 1
        elif name == "a" and _is_permalink(attributes):
            skip += 1
        elif name in _LINE_TAGS:
            parts.append("\n")
    if not skip:
        parts.append(markup[end:])
    text = html.unescape("".join(parts))
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def index_fields(document: Document) -> dict[str, Any]:
    """The index entry for a document's current revision."""
    lang = document.lang if document.lang in LANGUAGES else DEFAULT_LANGUAGE
    revision = document.current_revision
    body = html_to_text(revision.html) if revision else ""
    files = [(a.filename, a.text) for a in revision.attachments if a.text] if revision else []
    attachments = "\n\n".join(text for _, text in files)
    published = document.published_on
    fields: dict[str, Any] = {
        "id": str(document.id),
        "kind": "document",
        "slug": document.slug,
        "heading": document.title,
        "lang": lang,
        "type": document.type.value,
        "state": document.state.code.lower() if document.state else "",
        "owner_state": (
            document.state.code.lower() if document.state and document.type in STATE_TYPES else ""
        ),
        "author": str(document.author_id or ""),
        "author_role": document.author.role.value if document.author else "secretariat",
        "commitments": " ".join(str(c.number) for c in document.commitments),
        "visibility": document.visibility.value,
        "status": document.status.value,
        "published": dt.datetime.combine(published or dt.date(1970, 1, 1), dt.time()),
        "year": str(published.year) if published else "",
        title_field(lang): document.title,
        body_field(lang): body,
        "text": body.encode(),
        attachments_field(lang): attachments,
        "files": files or "",
    }
    # Whoosh would index an empty string as a term of its own.
    return {name: value for name, value in fields.items() if value not in ("", b"")}


def body_text(searcher: Searcher, docnum: int) -> str:
    """The plain-text body of an index entry (the `text` column; "" if it has none)."""
    return column(searcher, "text")[docnum].decode()


def column(searcher: Searcher, fieldname: str) -> ColumnReader:
    """A column's values by global document number (cached on the searcher, which sees
    one state of the index).

    Whoosh's multi-segment column reader leaves out segments without the column (none of
    their entries has a value) and then reads their documents' values from another
    segment; here every segment has its reader, a missing column giving the default.
    """
    cached = searcher.__dict__.setdefault("_portal_columns", {})
    reader = cached.get(fieldname)
    if reader is None:
        leaves = searcher.leaf_searchers()
        reader = cached[fieldname] = MultiColumnReader(
            [leaf.reader().column_reader(fieldname) for leaf, _ in leaves],
            [offset for _, offset in leaves],
        )
    return reader


def meta_fields(last_change: int) -> dict[str, Any]:
    """The index's own record of the last change-log id it applied."""
    return {"id": META_ID, "kind": "meta", "last_change": last_change}
