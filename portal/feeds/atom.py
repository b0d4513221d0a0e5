"""Atom documents (RFC 4287) made with feedgen: one entry per document, links on BASE_URL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from feedgen.ext.base import BaseEntryExtension
from feedgen.feed import FeedGenerator
from flask_babel import get_locale
from flask_babel import gettext as _
from lxml import etree
from markupsafe import Markup

from portal.access import author_label
from portal.clock import as_utc
from portal.documents.listing import DocumentFilters
from portal.kept_pages import body_etag
from portal.mail import external_url
from portal.models import Document, State

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
EXCERPT_CHARACTERS = 400
#: The `updated` of a feed with no entries: the day the Code of Conduct was launched, so an
#: empty feed is the same document (and ETag) on every request.
EMPTY_FEED_UPDATED = dt.datetime(2023, 3, 30, tzinfo=dt.UTC)


@dataclass(frozen=True)
class AtomDocument:
    """A rendered feed, the moment its newest entry changed (its Last-Modified) and its
    entity tag (computed from the body unless given: a kept feed's was computed once)."""

    body: bytes
    last_modified: dt.datetime | None
    etag: str = ""

    def __post_init__(self) -> None:
        if not self.etag:
            object.__setattr__(self, "etag", body_etag(self.body))


class DocumentDetails(BaseEntryExtension):  # type: ignore[misc]
    """What feedgen 1.0 leaves out of an entry: the document's own language (xml:lang) on its
    title and summary (the interface may be French, a document English), and the alternate
    link's type and hreflang (feedgen drops a link's attributes other than href)."""

    def __init__(self) -> None:
        self.lang: str | None = None
        self.href: str | None = None

    def extend_atom(self, entry: etree._Element) -> etree._Element:
        """Set xml:lang on title and summary, and rel, type and hreflang on the link."""
        for element in entry:
            name = etree.QName(element).localname
            if self.lang and name in ("title", "summary"):
                element.set(XML_LANG, self.lang)
            if name == "link" and element.get("href") == self.href:
                element.set("rel", "alternate")
                element.set("type", "text/html")
                if self.lang:
                    element.set("hreflang", self.lang)
        return entry


def excerpt(html: str, limit: int = EXCERPT_CHARACTERS) -> str:
    """Plain text from sanitised HTML, cut at a word before `limit` characters."""
    text = Markup(html).striptags()
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(" ,.;:") + "…"


def describe_filters(filters: DocumentFilters, state: State | None) -> str:
    """The filters in words for a feed's title: "Implementation note · France · Commitment 1"."""
    parts = []
    if filters.type:
        parts.append(filters.type.label)
    if state is not None:
        parts.append(state.name)
    if filters.commitment:
        parts.append(_("Commitment %(number)d", number=filters.commitment))
    return " · ".join(parts)


def _entry(feed: FeedGenerator, reader: Any, document: Document) -> None:
    entry = feed.add_entry(order="append")
    entry.register_extension("document_details", DocumentDetails)
    entry.id(f"{external_url('documents.index')}#document-{document.id}")
    entry.title(document.title)
    link = external_url("documents.show", slug=document.slug)
    entry.link(href=link, rel="alternate", type="text/html", hreflang=document.lang)
    entry.document_details.lang, entry.document_details.href = document.lang, link
    entry.updated(as_utc(document.updated_at))
    if document.published_on:
        entry.published(dt.datetime.combine(document.published_on, dt.time(), tzinfo=dt.UTC))
    entry.author({"name": author_label(reader, document.author, document.signed_as)})
    revision = document.current_revision
    if revision is not None and revision.html:
        entry.summary(excerpt(revision.html))
    scheme = external_url("documents.index")
    entry.category(term=document.type.value, label=document.type.label, scheme=f"{scheme}#type")
    entry.category(
        term=document.visibility.value,
        label=document.visibility.label,
        scheme=f"{scheme}#visibility",
    )
    if document.state is not None:
        entry.category(
            term=document.state.code, label=document.state.name, scheme=f"{scheme}#state"
        )
    for commitment in document.commitments:
        entry.category(
            term=str(commitment.number),
            label=_(
                "Commitment %(number)d: %(title)s", number=commitment.number, title=commitment.title
            ),
            scheme=f"{scheme}#commitment",
        )


def atom_document(
    reader: Any,
    documents: Sequence[Document],
    *,
    title: str,
    self_url: str,
    alternate_url: str,
) -> AtomDocument:
    """The Atom feed of `documents` (newest change first) as `reader` sees them: authors are
    named by `author_label` for the reader, never otherwise."""
    feed = FeedGenerator()
    feed.id(self_url)
    feed.title(title)
    feed.link(href=self_url, rel="self", type="application/atom+xml")
    feed.link(href=alternate_url, rel="alternate", type="text/html")
    feed.author({"name": _("ECHRI Practice Portal")})
    feed.language(str(get_locale() or "en"))
    feed.generator("ECHRI Practice Portal")
    for document in documents:
        _entry(feed, reader, document)
    newest = max((as_utc(d.updated_at) for d in documents), default=None)
    feed.updated(newest or EMPTY_FEED_UPDATED)
    return AtomDocument(feed.atom_str(pretty=False), newest)
