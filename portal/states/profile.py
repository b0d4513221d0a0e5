"""A state's profile: what it and others have shared about it, grouped by commitment."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import aliased, selectinload

from portal.access import visible_documents
from portal.extensions import db
from portal.models import Commitment, Document, State
from portal.models.documents import document_commitments

#: Documents listed per commitment on the profile; the rest are a link away.
PER_COMMITMENT = 10


@dataclass
class CommitmentDocuments:
    """The newest documents on one commitment (None: on no commitment) and how many in all."""

    commitment: Commitment | None
    total: int = 0
    documents: list[Document] = field(default_factory=list)


def documents_by_commitment(user: Any, state: State) -> list[CommitmentDocuments]:
    """The documents by or about `state` that `user` may read, per commitment, newest first.

    Two queries: counts per commitment, then the newest few of each (a window function).
    """
    about_state = (visible_documents(user), Document.state_id == state.id)
    link = document_commitments.c
    counts = dict(
        db.session.execute(
            select(link.commitment_id, func.count())
            .join(Document, Document.id == link.document_id)
            .where(*about_state)
            .group_by(link.commitment_id)
        ).all()
    )
    groups = {
        c.id: CommitmentDocuments(c, counts.get(c.id, 0))
        for c in db.session.scalars(select(Commitment).order_by(Commitment.number))
    }
    rank = (
        func.row_number()
        .over(
            partition_by=link.commitment_id,
            order_by=(Document.published_on.desc().nulls_last(), Document.id.desc()),
        )
        .label("rank")
    )
    ranked = (
        select(Document.id.label("document_id"), link.commitment_id, rank)
        .join(document_commitments, link.document_id == Document.id)
        .where(*about_state)
        .subquery()
    )
    newest = aliased(Document)
    rows = db.session.execute(
        select(newest, ranked.c.commitment_id)
        .join(ranked, ranked.c.document_id == newest.id)
        .where(ranked.c.rank <= PER_COMMITMENT)
        .order_by(ranked.c.commitment_id, ranked.c.rank)
        .options(selectinload(newest.state))
    ).all()
    for document, commitment_id in rows:
        groups[commitment_id].documents.append(document)
    loose = select(Document).where(*about_state, ~Document.commitments.any())
    other = CommitmentDocuments(
        None,
        db.session.scalar(select(func.count()).select_from(loose.subquery())) or 0,
        list(
            db.session.scalars(
                loose.order_by(Document.published_on.desc().nulls_last(), Document.id.desc()).limit(
                    PER_COMMITMENT
                )
            )
        ),
    )
    return [*groups.values(), other]
