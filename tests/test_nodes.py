"""Several nodes on one PostgreSQL: each keeps its own index in step from the shared log."""

from __future__ import annotations

import re
import time

from portal.extensions import db
from tests.conftest import PASSWORD
from tests.live_server import Browser, live_server

POSTGRESQL_ONLY = "several nodes share one PostgreSQL"

WITHIN_SECONDS = 2.0


def hits(browser: Browser, query: str) -> list[str]:
    """The titles a search lists."""
    page = browser.get(f"/search?q={query}")
    assert page.status == 200, page.status
    return re.findall(r'<li>\s*<a href="/documents/[^"]+"[^>]*>([^<]+)</a>', page.text)


def seconds_until(condition, limit: float = 10.0) -> float:
    """How long until `condition()` holds (polling), or fail after `limit` seconds."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < limit, "never happened"
        time.sleep(0.05)
    return time.monotonic() - start


def test_a_document_published_on_one_node_is_found_on_the_other_within_2_s(
    app, postgres_url, tmp_path, make_user, make_document
):
    make_document(title="Existing okapi note", source="Okapi text.")
    # One account per node: a TOTP code may be used once, so each signs in with its own.
    accounts = [(user.email, PASSWORD, user.totp_secret) for user in
                (make_user("secretariat"), make_user("secretariat"))]  # fmt: skip
    db.session.remove()
    # Each worker learns of changes from PostgreSQL's notifications, as in production.
    listen = {"DATA_VERSION_LISTEN": "true"}
    with (
        live_server(postgres_url, tmp_path / "index-a", tmp_path, workers=2, **listen) as node_a,
        live_server(postgres_url, tmp_path / "index-b", tmp_path, workers=2, **listen) as node_b,
    ):
        writer, reader = Browser(node_a.url), Browser(node_b.url)
        assert hits(reader, "okapi") == ["Existing okapi note"]  # node B builds its index
        writer.sign_in(*accounts[0])

        saved = writer.submit(
            "/documents/new?type=page",
            "source",
            title="Okapi licensing outcome",
            source="Decisions on okapi licensing.",
            visibility="public",
            status="published",
        )
        assert saved.status == 302, saved.text[:500]
        found = seconds_until(lambda: "Okapi licensing outcome" in hits(reader, "okapi"))
        assert found < WITHIN_SECONDS

        slug = saved.location.rstrip("/").rsplit("/", 1)[-1]
        for _ in range(4):  # node B's workers keep the visitors' page
            assert "Okapi licensing outcome" in reader.get(f"/documents/{slug}").text
        edited = writer.submit(f"/documents/{slug}/edit", "source", title="Okapi outcome, final")
        assert edited.status == 302
        renamed = seconds_until(lambda: "Okapi outcome, final" in hits(reader, "okapi"))
        assert renamed < WITHIN_SECONDS
        page = seconds_until(
            lambda: "Okapi outcome, final" in reader.get(f"/documents/{slug}").text
        )
        assert page < WITHIN_SECONDS

        # And the other way round: a withdrawal on node B leaves node A's results.
        visitor_a, writer_b = Browser(node_a.url), Browser(node_b.url)
        assert len(hits(visitor_a, "okapi")) == 2
        writer_b.sign_in(*accounts[1])
        withdrawn = writer_b.submit(f"/documents/{slug}", "reason", reason="Superseded.")
        assert withdrawn.status == 302
        gone = seconds_until(lambda: hits(visitor_a, "okapi") == ["Existing okapi note"])
        assert gone < WITHIN_SECONDS
