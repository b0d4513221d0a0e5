"""Matrices kept in memory per audience, so most readers do not recount 10,000 documents.

A matrix depends only on the viewer's evidence audience (`access.evidence_audience`: which
visibilities they may read), the filters, the day (stale marks) and the data; the data's
version (`data_version`) changes with every audited change on any worker or node. Two
readers share a matrix only if the access policy says they count the same documents.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from portal.access import evidence_audience
from portal.commitments.matrix import Matrix, MatrixFilters, build_matrix
from portal.data_version import kept_for_version


def matrix_for(user: Any, filters: MatrixFilters, *, today: dt.date, stale_months: int) -> Matrix:
    """`build_matrix(user, ...)`, or the same matrix built for a reader of the same audience."""
    key = (evidence_audience(user), tuple(sorted(filters.as_args().items())), today, stale_months)
    return kept_for_version(
        "matrices",
        lambda: build_matrix(user, filters, today=today, stale_months=stale_months),
        key,
    )
