"""Matrices kept in memory per audience, so most readers do not recount 10,000 documents.

A matrix depends only on the viewer's evidence audience (`access.evidence_audience`: which
visibilities they may read), the filters, the day (stale marks) and the data; the data's
version (`data_version`) changes with every audited change on any worker or node. Two
readers share a matrix only if the access policy says they count the same documents.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from flask import current_app

from portal.access import evidence_audience
from portal.commitments.matrix import Matrix, MatrixFilters, build_matrix
from portal.data_version import data_version

MAX_MATRICES = 64
_lock = threading.Lock()


def matrix_for(user: Any, filters: MatrixFilters, *, today: dt.date, stale_months: int) -> Matrix:
    """`build_matrix(user, ...)`, or the same matrix built for a reader of the same audience."""
    max_age = current_app.config.get("VISITOR_PAGE_SECONDS", 30)
    if max_age <= 0:
        return build_matrix(user, filters, today=today, stale_months=stale_months)
    # One store per app (each test's app starts empty), shared by this worker's threads.
    kept_matrices: OrderedDict[Hashable, tuple[float, Matrix]]
    kept_matrices = current_app.extensions.setdefault("kept_matrices", OrderedDict())
    key = (
        evidence_audience(user),
        tuple(sorted(filters.as_args().items())),
        today,
        stale_months,
        data_version(),
    )
    now = time.monotonic()
    with _lock:
        kept = kept_matrices.get(key)
        if kept is not None and now - kept[0] <= max_age:
            kept_matrices.move_to_end(key)
            return kept[1]
    matrix = build_matrix(user, filters, today=today, stale_months=stale_months)
    with _lock:
        kept_matrices[key] = (now, matrix)
        while len(kept_matrices) > MAX_MATRICES:
            kept_matrices.popitem(last=False)
    return matrix
