"""Running a search for a user: parsing, the access filter, facets, snippets, suggestions."""

from __future__ import annotations

import heapq
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from itertools import chain, repeat
from operator import neg
from typing import Any

from flask_babel import gettext as _
from markupsafe import Markup
from whoosh import qparser
from whoosh import query as wq
from whoosh.searching import Searcher

from portal.access import readable_visibilities, search_scope
from portal.models import DocumentStatus
from portal.search.postings import cache_for, doc_set, scored
from portal.search.schema import (
    DEFAULT_LANGUAGE,
    attachments_field,
    body_field,
    body_text,
    column,
    title_field,
)
from portal.search.snippets import has_match, snippet
from portal.search.spelling import suggest

MAX_QUERY_LENGTH = 500
PAGE_SIZE = 10
MAX_PAGE = 1000
#: Facets shown beside the results, in order; `commitments` may hold several values.
FACETS = ("type", "state", "commitments", "year")
#: What people may type before a colon; `commitment` is an alias of `commitments`.
USER_FIELDS = frozenset({"title", "body", "type", "state", "commitments", "year"})
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_PARSER_WORDS = {"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE", "REQUIRE", "TO"}
_LETTERS = re.compile(r"[^\W\d_]+")


class QueryProblem(ValueError):
    """A query that cannot be run as typed; the message says what to change."""


@dataclass
class SearchRequest:
    """A search as asked for in the URL."""

    text: str = ""
    page: int = 1
    sort: str = "relevance"
    narrow: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> SearchRequest:
        """Read q, page, sort and facet narrowing from request arguments, tidying as needed."""
        request = cls()
        raw = args.get("q", "")
        text = _CONTROL.sub(" ", raw)
        if text != raw:
            request.notes.append(_("Control characters in your search were ignored."))
        if len(text) > MAX_QUERY_LENGTH:
            text = text[:MAX_QUERY_LENGTH]
            request.notes.append(
                _(
                    "Your search was longer than %(length)s characters; only the beginning was "
                    "used.",
                    length=MAX_QUERY_LENGTH,
                )
            )
        request.text = unicodedata.normalize("NFC", text).strip()
        page = args.get("page", "1")
        request.page = min(max(int(page), 1), MAX_PAGE) if page.isascii() and page.isdigit() else 1
        request.sort = "date" if args.get("sort") == "date" else "relevance"
        for name in FACETS:
            value = args.get(name, "").strip()
            if value and len(value) <= 40 and not _CONTROL.search(value):
                request.narrow[name] = value.lower()
        return request

    @property
    def sort_argument(self) -> str | None:
        """`sort` as links carry it: relevance, the default, is left out."""
        return None if self.sort == "relevance" else self.sort

    @property
    def is_empty(self) -> bool:
        """Nothing to search for yet."""
        return not self.text and not self.narrow


@dataclass
class SearchHit:
    """One result as the page shows it."""

    slug: str
    title: str
    type: str
    state: str | None
    published: Any
    snippet: Markup
    visibility: str
    status: str
    #: The attached file the snippet comes from, when the text itself does not match.
    attachment: str | None = None
    #: The document's own language (its title and snippet are shown with this tag).
    lang: str = "en"


@dataclass
class SearchOutcome:
    """Everything the search page shows."""

    total: int = 0
    hits: list[SearchHit] = field(default_factory=list)
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    pages: int = 0
    suggestion: str | None = None
    problem: str | None = None


def _text_fields(searcher: Searcher) -> tuple[list[str], dict[str, float]]:
    """Title, body and attached-file fields of the languages in the index, titles boosted."""
    memo = cache_for(searcher).memo
    if "text_fields" not in memo:
        langs = {term.decode() for term in searcher.lexicon("lang")} | {DEFAULT_LANGUAGE}
        fields, boosts = [], {}
        for lang in sorted(langs):
            fields += [title_field(lang), body_field(lang), attachments_field(lang)]
            boosts[title_field(lang)] = 3.0
        memo["text_fields"] = fields, boosts
    fields, boosts = memo["text_fields"]
    return list(fields), dict(boosts)


def _parser(searcher: Searcher) -> qparser.QueryParser:
    """The query parser for the searcher's fields (made once per searcher)."""
    memo = cache_for(searcher).memo
    if "parser" not in memo:
        fields, boosts = _text_fields(searcher)
        parser = qparser.MultifieldParser(fields, searcher.schema, fieldboosts=boosts)
        parser.remove_plugin_class(qparser.WildcardPlugin)
        # + and - count only at the start of a word: "catch-all" is one term, "-draft" excludes.
        parser.add_plugin(qparser.PlusMinusPlugin(r"(?<![^\s(])\+", r"(?<![^\s(])-"))
        parser.add_plugin(qparser.FieldAliasPlugin({"commitments": ["commitment"]}))
        memo["parser"] = parser
    return memo["parser"]


def _parse_plain_words(
    searcher: Searcher, text: str, fields: list[str], boosts: dict[str, float]
) -> wq.Query | None:
    """What the parser makes of plain words, built directly (None for anything else).

    Only words of letters that are not operators and that each field's analyzer keeps as
    exactly one term: each becomes Or(its term in every text field, titles boosted), all
    of them And-ed, normalised as the parser does. The parser takes ~10x longer.
    """
    words = text.split()
    if not words or not all(
        _LETTERS.fullmatch(w) and w.upper() not in _PARSER_WORDS for w in words
    ):
        return None
    groups = []
    for word in words:
        terms = []
        for name in fields:
            tokens = list(searcher.schema[name].process_text(word, mode="query"))
            if len(tokens) != 1:
                return None
            terms.append(wq.Term(name, tokens[0], boost=boosts.get(name, 1.0)))
        groups.append(wq.Or(terms))
    return (groups[0] if len(groups) == 1 else wq.And(groups)).normalize()


def parse(searcher: Searcher, text: str) -> wq.Query:
    """Parse words, "phrases", OR, NOT/-, field:value; QueryProblem if nothing usable."""
    fields, boosts = _text_fields(searcher)
    parser = _parser(searcher)
    try:
        parsed = _parse_plain_words(searcher, text, fields, boosts) or parser.parse(text)
    except Exception as error:  # Whoosh raises several kinds on odd input
        raise QueryProblem(
            _(
                "That search could not be understood. Check quotes and brackets, or search for "
                "plain words.",
            )
        ) from error
    allowed = USER_FIELDS | set(fields)
    for leaf in parsed.leaves():
        name = getattr(leaf, "fieldname", None)
        if name is not None and name not in allowed:
            raise QueryProblem(
                _(
                    "“%(name)s:” is not a field you can search. Use type:, state:, commitment:, "
                    "year: or title:.",
                    name=name,
                )
            )
    if parsed is wq.NullQuery or not list(parsed.leaves()):
        raise QueryProblem(_("Your search has no words to look for. Type one or more words."))
    return parsed


def _field_conditions(query: wq.Query | None) -> tuple[wq.Query | None, list[wq.Term]]:
    """Split off top-level `field:value` terms on facet fields (type:, state:, ...).

    They become cached document sets intersected with the access filter instead of
    matchers run for every search: Whoosh is far slower at the latter.
    """
    if isinstance(query, wq.Term) and query.fieldname in FACETS:
        return None, [query]
    if isinstance(query, wq.And):
        terms = [q for q in query.subqueries if isinstance(q, wq.Term) and q.fieldname in FACETS]
        rest = [q for q in query.subqueries if not any(q is term for term in terms)]
        if not rest:
            return None, terms
        return (rest[0] if len(rest) == 1 else wq.And(rest)), terms
    return query, []


def _term_docs(searcher: Searcher, fieldname: str, value: str) -> set[int]:
    """Documents holding `fieldname:value` (one cached set serves conditions and facets)."""
    return _cached_docs(searcher, f"{fieldname}\0{value}", wq.Term(fieldname, value))


def _cached_docs(searcher: Searcher, key: str, query: wq.Query) -> set[int]:
    """Document numbers matching `query`, computed once per searcher (replaced on change)."""
    cache: dict[str, set[int]] = searcher.__dict__.setdefault("_portal_docsets", {})
    if key not in cache:
        cache[key] = doc_set(searcher, query)
    return cache[key]


def query_stems(query: wq.Query) -> dict[str, set[str]]:
    """The query's indexed terms, by field (for marking matches in snippets)."""
    stems: dict[str, set[str]] = {}
    for fieldname, text in query.iter_all_terms(phrases=True):
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        stems.setdefault(fieldname, set()).add(text)
    return stems


def plan(
    searcher: Searcher, user: Any, parsed: wq.Query | None, narrow: Mapping[str, str]
) -> tuple[wq.Query, set[int]]:
    """The query Whoosh runs and the document numbers it may return.

    The allowed set is the user's readable documents narrowed by facet conditions. It
    may be empty, which callers must treat as "no results", never pass to Whoosh.
    """
    query, conditions = _field_conditions(parsed)
    conditions += [wq.Term(name, value) for name, value in narrow.items()]
    allowed = readable_documents(searcher, user)
    for term in conditions:
        allowed = allowed & _term_docs(searcher, term.fieldname, term.text)
    return (query if query is not None else wq.Every()), allowed


def _facet_values(searcher: Searcher) -> tuple[dict[int, tuple[int, ...]], list[tuple[str, str]]]:
    """Each document's facet values as numbers, and each number's (facet, value); made from
    the cached per-value sets once per searcher."""
    memo = cache_for(searcher).memo
    if "facets" not in memo:
        names: list[tuple[str, str]] = []
        values: dict[int, list[int]] = {}
        for name in FACETS:
            for term in searcher.lexicon(name):
                names.append((name, term.decode("utf-8")))
                for doc in _term_docs(searcher, name, names[-1][1]):
                    values.setdefault(doc, []).append(len(names) - 1)
        memo["facets"] = {doc: tuple(found) for doc, found in values.items()}, names
    return memo["facets"]  # type: ignore[no-any-return]


def facet_counts(searcher: Searcher, matched: Collection[int]) -> dict[str, list[tuple[str, int]]]:
    """For each facet, its values among `matched` documents with counts, most first.

    Counted in one pass from each document's values, numbered once per searcher: Whoosh's own
    facet collectors rescan every posting of a multi-valued field (commitments) on each search.
    """
    values, names = _facet_values(searcher)
    counts: dict[str, list[tuple[str, int]]] = {name: [] for name in FACETS}
    for number, count in Counter(chain.from_iterable(map(values.get, matched, repeat(())))).items():
        name, value = names[number]
        counts[name].append((value, count))
    for found in counts.values():
        found.sort(key=lambda item: (-item[1], item[0]))
    return counts


def find(
    searcher: Searcher, query: wq.Query, allowed: set[int], limit: int, by_date: bool = False
) -> tuple[Collection[int], list[int]]:
    """Documents in `allowed` matching `query`, and the first `limit` of them in order.

    Most queries are matched and scored from cached postings (`postings.scored`); the
    rest by Whoosh, given the matched set as its filter. Relevance order is BM25F score,
    then document number; date order is newest first, as Whoosh sorts `published`.
    `allowed` must not be empty (Whoosh would read it as "no filter").
    """
    found = scored(searcher, query, allowed)
    if found is None:
        matched: Collection[int] = allowed.intersection(searcher.docs_for_query(query))
        if not matched or by_date:
            return matched, _newest(searcher, matched, limit) if matched else []
        results = searcher.search(query, filter=matched, limit=limit)
        return matched, [hit.docnum for hit in results]
    if by_date:
        return found.keys(), _newest(searcher, found, limit)
    # (score, -doc) pairs, largest first: higher score, then lower document number.
    best = heapq.nlargest(limit, zip(found.values(), map(neg, found), strict=True))
    return found.keys(), [-negated for _, negated in best]


def _newest(searcher: Searcher, docs: Collection[int], limit: int) -> list[int]:
    """The `limit` most recently published of `docs` (ties: higher number first)."""
    published = column(searcher, "published")
    return heapq.nlargest(limit, docs, key=lambda doc: (published[doc], doc))


def search(searcher: Searcher, user: Any, request: SearchRequest) -> SearchOutcome:
    """Run `request` for `user`; everything returned comes from documents they may read."""
    outcome = SearchOutcome()
    if request.is_empty:
        return outcome
    try:
        parsed = parse(searcher, request.text) if request.text else None
    except QueryProblem as problem:
        outcome.problem = str(problem)
        return outcome
    query, allowed = plan(searcher, user, parsed, request.narrow)
    if not allowed:
        # Whoosh reads an empty filter set as "no filter": never pass one.
        return outcome
    matched, top = find(
        searcher, query, allowed, request.page * PAGE_SIZE, by_date=request.sort == "date"
    )
    stems = query_stems(query)
    outcome.total = len(matched)
    outcome.pages = math.ceil(outcome.total / PAGE_SIZE)
    start = (request.page - 1) * PAGE_SIZE
    for docnum in top[start : start + PAGE_SIZE]:
        hit = searcher.stored_fields(docnum)
        text, attachment = _snippet_source(hit, body_text(searcher, docnum), stems)
        lang = hit.get("lang", DEFAULT_LANGUAGE)
        outcome.hits.append(
            SearchHit(
                slug=hit["slug"],
                title=hit["heading"],
                type=hit["type"],
                state=hit.get("state"),
                published=hit.get("published") if hit.get("year") else None,
                snippet=snippet(text, stems.get(_field_of(attachment, lang), set()), lang),
                visibility=hit["visibility"],
                status=hit["status"],
                attachment=attachment,
                lang=lang,
            )
        )
    outcome.facets = facet_counts(searcher, matched)
    if request.text:
        outcome.suggestion = suggest(
            searcher,
            request.text,
            readable_visibilities(user),
            readable_documents(searcher, user),
            _term_docs(searcher, "status", DocumentStatus.PUBLISHED.value),
            _text_fields(searcher)[0],
        )
    return outcome


def _field_of(attachment: str | None, lang: str) -> str:
    return body_field(lang) if attachment is None else attachments_field(lang)


def _snippet_source(
    hit: Mapping[str, Any], body: str, stems: dict[str, set[str]]
) -> tuple[str, str | None]:
    """The text a hit's snippet comes from: its body, unless only an attached file matches
    (then that file's text and name)."""
    lang = hit.get("lang", DEFAULT_LANGUAGE)
    files = hit.get("files") or []
    in_files = stems.get(attachments_field(lang), set())
    if not files or not in_files:
        return body, None
    in_text = stems.get(body_field(lang), set()) | stems.get(title_field(lang), set())
    if has_match(body, in_text, lang) or has_match(hit.get("heading", ""), in_text, lang):
        return body, None
    for name, text in files:
        if has_match(text, in_files, lang):
            return text, name
    return body, None


def readable_documents(searcher: Searcher, user: Any) -> set[int]:
    """Document numbers `search_filter(user)` selects (cached per role and searcher).

    Whoosh would otherwise evaluate the filter query over the whole index on every
    search. Searchers are replaced when the index changes, so the cache never outlives
    the documents it describes. The set must not be modified, and an empty one must
    never be passed to Whoosh as a filter (it would filter nothing).
    """
    shared, own = search_scope(user)
    # The role-wide part is cached (a handful of sets); a user's own documents are few and
    # found afresh, so the cache does not grow with the number of readers.
    readable = _cached_docs(searcher, repr(shared), shared)
    if own is None:
        return readable
    mine = doc_set(searcher, own) - readable
    return readable | mine if mine else readable
