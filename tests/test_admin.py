"""Secretariat administration and the audit-trail browser (issue 4, parts 5 and 6)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from portal.access import CONTENT_LOADER
from portal.admin.services import deactivate_account
from portal.audit import record_event
from portal.documents.services import withdraw_document
from portal.extensions import db
from portal.models import AuditEvent, Document, DocumentStatus, Role, State, User
from tests.conftest import PASSWORD, csrf_token, sign_in

ROLES = [
    "visitor",
    "unapproved",
    "industry",
    "civil_society",
    "government",
    "focal_point",
    "deactivated",
    "secretariat",
]
#: Roles that are anonymous by the time they ask: sent to sign in rather than refused.
ANONYMOUS = {"visitor", "deactivated"}


def token(client: FlaskClient) -> str:
    """A CSRF token of the client's session, whoever is signed in."""
    page = client.get("/").get_data(as_text=True)
    if 'name="csrf_token"' in page:
        return csrf_token(client, "/")
    return csrf_token(client, "/auth/sign-in")


def events(action: str) -> list[AuditEvent]:
    """The audit events of one kind, oldest first."""
    db.session.expire_all()
    query = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.sequence)
    return list(db.session.scalars(query))


def event_count() -> int:
    """How many audit events there are."""
    return db.session.scalar(select(func.count(AuditEvent.id))) or 0


def refresh(obj: object) -> None:
    """Read `obj` again from the database (the requests ran in their own sessions)."""
    db.session.expire_all()
    db.session.refresh(obj)


def is_sign_in_redirect(response) -> bool:
    """A redirect to the sign-in page (what an anonymous visitor gets)."""
    return response.status_code == 302 and "/auth/sign-in" in response.headers["Location"]


@dataclass
class Targets:
    """One object for every admin URL to act on, so each URL resolves and each action can work."""

    pending: User
    to_decline: User
    to_change: User
    official: User
    to_deactivate: User
    deactivated: User
    published: Document
    withdrawn: Document

    def requests(self) -> list[tuple[str, str, dict[str, str]]]:
        """Every admin URL: (method, path, form data that would succeed for the secretariat)."""
        return [
            ("GET", "/admin/", {}),
            ("GET", "/admin/users?role=industry&status=pending&q=user", {}),
            ("GET", f"/admin/users/{self.pending.id}", {}),
            ("GET", "/admin/states", {}),
            ("GET", f"/admin/documents?slug={self.published.slug}", {}),
            ("GET", "/admin/audit?action=user", {}),
            ("POST", f"/admin/users/{self.pending.id}/approve", {}),
            ("POST", f"/admin/users/{self.to_decline.id}/decline", {"reason": "Not eligible"}),
            ("POST", f"/admin/users/{self.to_change.id}/role", {"role": "industry", "state": ""}),
            ("POST", f"/admin/users/{self.official.id}/focal-point", {"focal_point": "yes"}),
            ("POST", f"/admin/users/{self.to_deactivate.id}/deactivate", {}),
            ("POST", f"/admin/users/{self.deactivated.id}/reactivate", {}),
            (
                "POST",
                "/admin/states",
                {"code": "ZZ", "name": "Zedland", "joined_on": "2024-09-20"},
            ),
            ("POST", f"/admin/documents/{self.published.slug}/withdraw", {"reason": "Outdated"}),
            ("POST", f"/admin/documents/{self.withdrawn.slug}/restore", {"reason": "Corrected"}),
        ]


@pytest.fixture
def targets(make_user, make_document) -> Targets:
    """Accounts and documents for the admin URLs."""
    deactivated = make_user("industry")
    deactivate_account(CONTENT_LOADER, deactivated)
    withdrawn = make_document(title="Withdrawn note")
    withdraw_document(CONTENT_LOADER, withdrawn, "test")
    db.session.commit()
    return Targets(
        pending=make_user("industry", approved=False, email="pending@example.org"),
        to_decline=make_user("civil_society", approved=False),
        to_change=make_user("government", "DE"),
        official=make_user("government", "FR"),
        to_deactivate=make_user("civil_society"),
        deactivated=deactivated,
        published=make_document(title="Published note"),
        withdrawn=withdrawn,
    )


def become(role: str, login_as: Callable[..., User]) -> User | None:
    """Sign the client in as someone with `role` (see ROLES); None for a visitor."""
    if role == "visitor":
        return None
    if role == "unapproved":
        return login_as("industry", approved=False)
    if role == "focal_point":
        user = login_as("government", "FR")
        user.is_focal_point = True
        db.session.commit()
        return user
    if role == "deactivated":
        user = login_as("civil_society")
        deactivate_account(CONTENT_LOADER, user)
        db.session.commit()
        return user
    return login_as(role, "FR" if role == "government" else None)


def send(client: FlaskClient, method: str, path: str, data: dict[str, str], csrf: str):
    """One request, as a browser would send it (forms carry the session's CSRF token)."""
    if method == "GET":
        return client.get(path)
    return client.post(path, data={**data, "csrf_token": csrf})


def test_the_matrix_covers_every_admin_url(app: Flask, targets: Targets) -> None:
    adapter = app.url_map.bind("portal.test")
    covered = {adapter.match(path.split("?")[0], method=m)[0] for m, path, _ in targets.requests()}
    admin = {
        rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint.startswith("admin.")
    }
    assert covered == admin


@pytest.mark.parametrize("role", ROLES)
def test_only_the_secretariat_reaches_any_admin_url(
    role: str, client: FlaskClient, login_as, targets: Targets
) -> None:
    become(role, login_as)
    csrf = token(client)
    before = event_count()
    for method, path, data in targets.requests():
        response = send(client, method, path, data, csrf)
        where = f"{role} {method} {path}"
        if role == "secretariat":
            assert response.status_code == (200 if method == "GET" else 302), where
            assert not is_sign_in_redirect(response), where
        elif role in ANONYMOUS:
            assert is_sign_in_redirect(response), where
        else:
            assert response.status_code == 403, where
    if role != "secretariat":
        assert event_count() == before
        refresh(targets.pending)
        assert not targets.pending.approved


def test_administration_link_is_shown_to_the_secretariat_only(client, login_as) -> None:
    login_as("government", "FR")
    assert "Administration" not in client.get("/").get_data(as_text=True)
    client.post("/auth/sign-out", data={"csrf_token": token(client)})
    login_as("secretariat")
    assert 'href="/admin/">Administration' in client.get("/").get_data(as_text=True)


def test_secretariat_approves_a_request_from_the_queue(client, login_as, make_user) -> None:
    secretary = login_as("secretariat")
    pending = make_user("industry", approved=False, name="Ada Exporter", organisation="Widgets Ltd")
    pending.access_reason = "Compliance officer"
    db.session.commit()

    queue = client.get("/admin/").get_data(as_text=True)
    for text in ("Ada Exporter", "Widgets Ltd", pending.email, "Compliance officer"):
        assert text in queue

    response = client.post(f"/admin/users/{pending.id}/approve", data={"csrf_token": token(client)})
    assert response.status_code == 302
    refresh(pending)
    assert pending.approved and pending.reviewed_by_id == secretary.id
    assert [e.object_id for e in events("user.approve")] == [pending.id]
    assert "No requests are waiting." in client.get("/admin/").get_data(as_text=True)

    again = client.post(f"/admin/users/{pending.id}/approve", data={"csrf_token": token(client)})
    assert again.status_code == 400
    assert "already approved" in again.get_data(as_text=True)


def test_declining_needs_a_reason(client, login_as, make_user) -> None:
    login_as("secretariat")
    pending = make_user("civil_society", approved=False)

    refused = client.post(
        f"/admin/users/{pending.id}/decline", data={"csrf_token": token(client), "reason": " "}
    )
    assert refused.status_code == 400
    assert "Give a reason." in refused.get_data(as_text=True)
    refresh(pending)
    assert pending.pending_approval

    response = client.post(
        f"/admin/users/{pending.id}/decline",
        data={"csrf_token": token(client), "reason": "Not a civil-society organisation"},
    )
    assert response.status_code == 302
    refresh(pending)
    assert pending.declined and not pending.approved
    [event] = events("user.decline")
    assert event.details["reason"] == "Not a civil-society organisation"
    listing = client.get("/admin/users?status=declined").get_data(as_text=True)
    assert pending.email in listing


def test_deactivated_user_is_signed_out_at_once(app, client, login_as, make_user) -> None:
    login_as("secretariat")
    target = make_user("civil_society")
    other = app.test_client()
    sign_in(other, target.email)
    assert other.get("/auth/account").status_code == 200

    response = client.post(
        f"/admin/users/{target.id}/deactivate", data={"csrf_token": token(client)}
    )
    assert response.status_code == 302
    assert is_sign_in_redirect(other.get("/auth/account"))
    assert "Sign in</a>" in other.get("/").get_data(as_text=True)
    assert sign_in(other, target.email).status_code == 400
    [event] = events("user.deactivate")
    assert event.object_id == target.id and event.content_hash

    client.post(f"/admin/users/{target.id}/reactivate", data={"csrf_token": token(client)})
    refresh(target)
    assert target.active
    assert [e.object_id for e in events("user.reactivate")] == [target.id]
    assert sign_in(other, target.email, PASSWORD).status_code == 302


def test_secretariat_cannot_deactivate_itself(client, login_as) -> None:
    secretary = login_as("secretariat")
    response = client.post(
        f"/admin/users/{secretary.id}/deactivate", data={"csrf_token": token(client)}
    )
    assert response.status_code == 400
    assert "your own account" in response.get_data(as_text=True)
    refresh(secretary)
    assert secretary.active


def test_role_change_ends_the_users_sessions(app, client, login_as, make_user) -> None:
    login_as("secretariat")
    official = make_user("government", "DE")
    official.is_focal_point = True
    db.session.commit()
    other = app.test_client()
    sign_in(other, official.email)
    assert other.get("/auth/account").status_code == 200

    response = client.post(
        f"/admin/users/{official.id}/role",
        data={"csrf_token": token(client), "role": "civil_society", "state": ""},
    )
    assert response.status_code == 302
    refresh(official)
    assert official.role is Role.CIVIL_SOCIETY and official.state_id is None
    assert not official.is_focal_point
    assert is_sign_in_redirect(other.get("/auth/account"))
    [event] = events("user.role_change")
    assert event.details["previous"] == {"role": "government", "state": "DE"}


ROLE_ERRORS = [
    ("government", "", "A government account needs a state."),
    ("industry", "FR", "Only government accounts belong to a state."),
    ("emperor", "", "Not a valid choice"),
    ("government", "QQ", "Not a valid choice"),
]


def test_role_change_keeps_government_iff_state(client, login_as, make_user) -> None:
    login_as("secretariat")
    user = make_user("industry")
    for role, state, message in ROLE_ERRORS:
        response = client.post(
            f"/admin/users/{user.id}/role",
            data={"csrf_token": token(client), "role": role, "state": state},
        )
        assert response.status_code == 400, (role, state)
        assert message in response.get_data(as_text=True), (role, state)
    refresh(user)
    assert user.role is Role.INDUSTRY and user.state_id is None
    assert events("user.role_change") == []


def test_role_change_to_government_of_a_state(client, login_as, make_user) -> None:
    login_as("secretariat")
    user = make_user("industry")
    client.post(
        f"/admin/users/{user.id}/role",
        data={"csrf_token": token(client), "role": "government", "state": "NO"},
    )
    refresh(user)
    assert user.role is Role.GOVERNMENT and user.state.code == "NO"


def test_focal_point_is_for_government_users_only(client, login_as, make_user) -> None:
    login_as("secretariat")
    official, industry = make_user("government", "FR"), make_user("industry")
    data = {"csrf_token": token(client), "focal_point": "yes"}
    assert client.post(f"/admin/users/{official.id}/focal-point", data=data).status_code == 302
    refused = client.post(f"/admin/users/{industry.id}/focal-point", data=data)
    assert refused.status_code == 400
    refresh(official)
    refresh(industry)
    assert official.is_focal_point and not industry.is_focal_point
    assert [e.object_id for e in events("user.focal_point")] == [official.id]


def test_user_list_filters(client, login_as, make_user) -> None:
    login_as("secretariat")
    alice = make_user("industry", name="Alice Trader")
    make_user("government", "DE", name="Bernd Beamter")
    make_user("civil_society", approved=False, name="Chloe Pending")

    def names(query: str) -> set[str]:
        response = client.get(f"/admin/users?{query}")
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        return {n for n in ("Alice Trader", "Bernd Beamter", "Chloe Pending") if n in page}

    assert names("") == {"Alice Trader", "Bernd Beamter", "Chloe Pending"}
    assert names("role=government") == {"Bernd Beamter"}
    assert names("state=DE") == {"Bernd Beamter"}
    assert names("status=pending") == {"Chloe Pending"}
    assert names(f"q={alice.email.upper()}") == {"Alice Trader"}
    assert names("q=trader") == {"Alice Trader"}
    assert client.get("/admin/users?status=sleeping").status_code == 400
    assert client.get("/admin/users/999999").status_code == 404


def test_secretariat_adds_a_state_that_joins(client, login_as) -> None:
    login_as("secretariat")
    response = client.post(
        "/admin/states",
        data={
            "csrf_token": token(client),
            "code": "IS",
            "name": "Iceland",
            "joined_on": "2024-09-20",
        },
    )
    assert response.status_code == 302
    iceland = db.session.scalars(select(State).where(State.code == "IS")).one()
    assert iceland.name == "Iceland" and iceland.joined_on == dt.date(2024, 9, 20)
    [event] = events("state.add")
    assert event.object_id == iceland.id and event.content_hash
    assert "Iceland" in client.get("/admin/states").get_data(as_text=True)


BAD_STATES = [
    ("is", "Iceland", "2024-09-20", "Two capital letters"),
    ("ISL", "Iceland", "2024-09-20", "Two capital letters"),
    ("", "Iceland", "2024-09-20", "This field is required"),
    ("FR", "Fredonia", "2024-09-20", "There is already a state with the code FR."),
    ("IS", "france", "2024-09-20", "There is already a state called france."),
    ("IS", "", "2024-09-20", "This field is required"),
    ("IS", "Iceland", "20/09/2024", "Not a valid date value"),
    ("IS", "Iceland", "", "Give a date."),
    ("IS", "x" * 121, "2024-09-20", "Field cannot be longer than 120 characters"),
]


def test_bad_state_is_a_form_error(client, login_as) -> None:
    login_as("secretariat")
    before = db.session.scalar(select(func.count(State.id)))
    for code, name, joined_on, message in BAD_STATES:
        response = client.post(
            "/admin/states",
            data={"csrf_token": token(client), "code": code, "name": name, "joined_on": joined_on},
        )
        assert response.status_code == 400, (code, name, joined_on)
        assert message in response.get_data(as_text=True), (code, name, joined_on)
    assert db.session.scalar(select(func.count(State.id))) == before
    assert events("state.add") == []


def test_secretariat_withdraws_and_restores_with_a_reason(client, login_as, make_document) -> None:
    login_as("secretariat")
    document = make_document(title="Old guidance")
    found = client.get(f"/admin/documents?slug={document.slug}").get_data(as_text=True)
    assert f'action="/admin/documents/{document.slug}/withdraw"' in found

    refused = client.post(
        f"/admin/documents/{document.slug}/withdraw", data={"csrf_token": token(client)}
    )
    assert refused.status_code == 400
    assert "Give a reason" in refused.get_data(as_text=True)

    client.post(
        f"/admin/documents/{document.slug}/withdraw",
        data={"csrf_token": token(client), "reason": "Superseded"},
    )
    refresh(document)
    assert document.status is DocumentStatus.WITHDRAWN
    assert events("document.withdraw")[-1].details["reason"] == "Superseded"
    assert "Old guidance" in client.get("/admin/documents").get_data(as_text=True)

    client.post(
        f"/admin/documents/{document.slug}/restore",
        data={"csrf_token": token(client), "reason": "Withdrawn by mistake"},
    )
    refresh(document)
    assert document.status is DocumentStatus.PUBLISHED
    assert events("document.restore")[-1].details["reason"] == "Withdrawn by mistake"

    again = client.post(
        f"/admin/documents/{document.slug}/restore",
        data={"csrf_token": token(client), "reason": "Twice"},
    )
    assert again.status_code == 409
    missing = client.post(
        "/admin/documents/no-such-document/withdraw",
        data={"csrf_token": token(client), "reason": "x"},
    )
    assert missing.status_code == 404
    assert client.get("/admin/documents?slug=no-such-document").status_code == 404


def rows(page: str) -> list[str]:
    """The actions shown in an audit-trail page, top to bottom."""
    body = page.split("<tbody>", 1)[1] if "<tbody>" in page else ""
    return re.findall(r"<td>([a-z_]+\.[a-z0-9_]+)</td>", body)


def test_audit_trail_is_newest_first_and_paginated(client, login_as) -> None:
    secretary = login_as("secretariat")
    france = db.session.scalars(select(State).where(State.code == "FR")).one()
    for number in range(60):
        record_event(secretary, f"test.event{number:02d}", france)
    db.session.commit()

    first = client.get("/admin/audit?action=test").get_data(as_text=True)
    assert rows(first)[:2] == ["test.event59", "test.event58"]
    assert len(rows(first)) == 50
    assert "60 events" in first
    second = client.get("/admin/audit?action=test&page=2").get_data(as_text=True)
    assert rows(second)[-1] == "test.event00" and len(rows(second)) == 10


def test_audit_trail_filters(client, login_as, make_user, make_document) -> None:
    secretary = login_as("secretariat")
    note = make_document(title="Filtered note")
    other = make_document(title="Other note")
    user = make_user("industry")
    client.post(
        f"/admin/documents/{note.slug}/withdraw",
        data={"csrf_token": token(client), "reason": "Filter test"},
    )

    def shown(query: str) -> list[str]:
        response = client.get(f"/admin/audit?{query}")
        assert response.status_code == 200, response.get_data(as_text=True)
        return rows(response.get_data(as_text=True))

    assert shown(f"actor={secretary.email}") == ["document.withdraw"]
    assert shown("actor=content-loader").count("document.create") == 2
    assert shown("action=document.withdraw") == ["document.withdraw"]
    assert set(shown("action=document")) == {"document.create", "document.withdraw"}
    assert shown(f"object_type=Document&object_id={note.id}") == [
        "document.withdraw",
        "document.create",
    ]
    assert shown(f"object_type=Document&object_id={other.id}") == ["document.create"]
    assert f"User #{user.id}" in client.get("/admin/audit?object_type=User").get_data(as_text=True)
    today = dt.datetime.now(dt.UTC).date()
    assert len(shown(f"date_from={today}&date_to={today}")) >= 4
    assert shown(f"date_to={today - dt.timedelta(days=1)}") == []
    assert shown(f"date_from={today + dt.timedelta(days=1)}") == []
    assert shown("date_to=9999-12-31") != []


BAD_AUDIT_FILTERS = [
    ("date_from=yesterday", "Not a valid date value"),
    ("object_id=12", "Give the type of the object."),
    ("object_type=User&object_id=abc", "Not a valid integer value"),
    ("date_from=2024-05-02&date_to=2024-05-01", "The range ends before it starts."),
]


def test_bad_audit_filter_is_a_400_with_a_message(client, login_as) -> None:
    login_as("secretariat")
    for query, message in BAD_AUDIT_FILTERS:
        response = client.get(f"/admin/audit?{query}")
        assert response.status_code == 400, query
        assert message in response.get_data(as_text=True), query


def test_government_sees_the_trail_of_its_own_states_documents_only(
    client, login_as, make_user, make_document
) -> None:
    french = make_document(title="French note", state_code="FR")
    german = make_document(title="German note", state_code="DE")
    review = make_document("review", state_code="FR", title="Review of France")
    make_user("industry")
    login_as("government", "FR")

    response = client.get("/audit/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert f"Document #{french.id}" in page
    assert f"Document #{german.id}" not in page
    assert f"Document #{review.id}" not in page  # about France, but not France's own
    assert "User #" not in page
    assert set(rows(page)) == {"document.create"}


def test_secretariat_sees_everything_in_the_state_trail(client, login_as, make_document) -> None:
    german = make_document(title="German note", state_code="DE")
    login_as("secretariat")
    page = client.get("/audit/").get_data(as_text=True)
    assert f"Document #{german.id}" in page and "user.create" in page


@pytest.mark.parametrize("role", ["unapproved", "industry", "civil_society"])
def test_others_cannot_read_the_state_trail(client, login_as, role) -> None:
    become(role, login_as)
    assert client.get("/audit/").status_code == 403


def test_visitors_are_sent_to_sign_in_for_the_state_trail(client) -> None:
    assert is_sign_in_redirect(client.get("/audit/"))
