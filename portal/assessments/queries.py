"""Reading assessments: a state's self-assessments and civil society's reviews side by side,
with the state's responses beside the reviews they answer. Only published documents the
reader may read are ever shown (`published_evidence`)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.access import published_evidence
from portal.extensions import db
from portal.models import Commitment, Document, DocumentType, State
from portal.models.documents import document_commitments


@dataclass
class ReviewWithResponses:
    """A review and the state's responses to it that the reader may read."""

    review: Document
    responses: list[Document] = field(default_factory=list)


@dataclass
class SideBySide:
    """One commitment of one state: both kinds of assessment, newest first, never merged."""

    commitment: Commitment
    self_assessments: list[Document] = field(default_factory=list)
    reviews: list[ReviewWithResponses] = field(default_factory=list)

    @property
    def disagree(self) -> bool:
        """Do the latest self-assessment and the latest review rate differently?"""
        if not (self.self_assessments and self.reviews):
            return False
        return self.self_assessments[0].assessment != self.reviews[0].review.assessment


def _newest_first(query: Any) -> Any:
    return query.order_by(Document.published_on.desc(), Document.id.desc())


def responses_to(user: Any, review: Document) -> list[Document]:
    """The published responses to `review` that `user` may read, oldest first."""
    if review.type is not DocumentType.REVIEW:
        return []
    return list(
        db.session.scalars(
            select(Document)
            .where(published_evidence(user), Document.responds_to_id == review.id)
            .order_by(Document.published_on, Document.id)
        )
    )


def side_by_side(user: Any, state: State, number: int | None = None) -> list[SideBySide]:
    """Per commitment (all six, or just `number`): the state's self-assessments and the
    reviews of it, with responses. Three queries whatever the number of documents."""
    query = select(Commitment).order_by(Commitment.number)
    if number is not None:
        query = query.where(Commitment.number == number)
    commitments = db.session.scalars(query).all()
    cells = {c.id: SideBySide(c) for c in commitments}
    rows = db.session.execute(
        _newest_first(
            select(Document, document_commitments.c.commitment_id)
            .join(document_commitments, document_commitments.c.document_id == Document.id)
            .where(
                published_evidence(user),
                Document.state_id == state.id,
                Document.type.in_([DocumentType.SELF_ASSESSMENT, DocumentType.REVIEW]),
                document_commitments.c.commitment_id.in_(list(cells)),
            )
            .options(selectinload(Document.author))
        )
    ).all()
    answers = _responses_by_review(user, [d.id for d, _ in rows if d.type is DocumentType.REVIEW])
    for document, commitment_id in rows:
        cell = cells[commitment_id]
        if document.type is DocumentType.SELF_ASSESSMENT:
            cell.self_assessments.append(document)
        else:
            cell.reviews.append(ReviewWithResponses(document, answers.get(document.id, [])))
    return list(cells.values())


def reviews_of(user: Any, state: State) -> list[ReviewWithResponses]:
    """Every published review of `state` the user may read, newest first, with responses."""
    reviews = db.session.scalars(
        _newest_first(
            select(Document)
            .where(
                published_evidence(user),
                Document.state_id == state.id,
                Document.type == DocumentType.REVIEW,
            )
            .options(selectinload(Document.author))
        )
    ).all()
    answers = _responses_by_review(user, [r.id for r in reviews])
    return [ReviewWithResponses(r, answers.get(r.id, [])) for r in reviews]


def _responses_by_review(user: Any, review_ids: list[int]) -> dict[int, list[Document]]:
    if not review_ids:
        return {}
    found: dict[int, list[Document]] = defaultdict(list)
    for response in db.session.scalars(
        select(Document)
        .where(published_evidence(user), Document.responds_to_id.in_(set(review_ids)))
        .order_by(Document.published_on, Document.id)
        .options(selectinload(Document.author))
    ):
        if response.responds_to_id is not None:
            found[response.responds_to_id].append(response)
    return found
