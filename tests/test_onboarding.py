"""Joining the portal: requesting access, approval, invitations, forgotten passwords."""

from __future__ import annotations

import datetime as dt
import email
import re
from dataclasses import dataclass
from email import policy
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from portal.access import AccessDenied, can_invite
from portal.auth.access_requests import approve_user, decline_user
from portal.auth.invitations import (
    accept_invitation,
    create_invitation,
    find_open_invitation,
)
from portal.auth.passwords import password_problem
from portal.auth.services import AccountError, create_user, find_user_by_email
from portal.auth.tokens import InvalidToken
from portal.extensions import db
from portal.models import AuditEvent, Invitation, PasswordReset, Role, User
from tests.conftest import PASSWORD, csrf_token, sign_in, state

NEW_PASSWORD = "a brand new passphrase"
BAD_LINK = "This link cannot be used."


@dataclass
class Mail:
    to: str
    subject: str
    body: str

    def link(self, path: str) -> str:
        """The path of the first link in the body that starts with `path`."""
        match = re.search(rf"https?://portal\.test({re.escape(path)}\S*)", self.body)
        assert match, f"no {path} link in: {self.body}"
        return match.group(1)


@pytest.fixture
def outbox(app: Flask, tmp_path: Path) -> list[Mail]:
    """Mails the portal sends during the test, oldest first (read from the outbox folder)."""
    directory = tmp_path / "outbox"
    app.config["MAIL_OUTBOX_DIR"] = str(directory)

    class Outbox(list):
        def refresh(self) -> Outbox:
            self.clear()
            for path in sorted(directory.glob("*.eml")) if directory.exists() else []:
                message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
                body = message.get_body(preferencelist=("plain",)).get_content()
                self.append(Mail(message["To"], message["Subject"], body))
            return self

        def to(self, address: str) -> list[Mail]:
            return [mail for mail in self.refresh() if mail.to == address]

    return Outbox()


def request_form(client: FlaskClient, **overrides: str) -> dict[str, str]:
    form = {
        "name": "Ada Researcher",
        "organisation": "Rights Watchers",
        "email": "ada@example.org",
        "role": "civil_society",
        "reason": "I review export-control practice for our annual report.",
        "password": PASSWORD,
        "confirm": PASSWORD,
        "csrf_token": csrf_token(client, "/auth/request-access"),
    }
    form.update(overrides)
    return form


def audit_actions(obj_id: int | None = None) -> list[str]:
    query = select(AuditEvent.action).order_by(AuditEvent.sequence)
    if obj_id is not None:
        query = query.where(AuditEvent.object_id == obj_id)
    return list(db.session.scalars(query))


def reload(user: User) -> User:
    db.session.expire_all()
    return db.session.get(User, user.id)


def focal_point(make_user, state_code: str = "DE") -> User:
    user = make_user("government", state_code)
    user.is_focal_point = True
    db.session.commit()
    return user


# -- Requesting access and the secretariat's decision -----------------------------------------


def test_requested_account_reads_participants_documents_once_approved(
    app, client, make_user, make_document, outbox
):
    make_document(visibility="participants", title="Participants only note")
    response = client.post("/auth/request-access", data=request_form(client))
    assert response.status_code == 200
    assert "we received your request" in response.get_data(as_text=True)

    user = find_user_by_email("ada@example.org")
    assert user is not None and not user.approved and user.pending_approval
    assert user.role is Role.CIVIL_SOCIETY and user.organisation == "Rights Watchers"
    assert user.access_reason.startswith("I review export-control practice")
    assert "user.request_access" in audit_actions(user.id)
    [received] = outbox.to("ada@example.org")
    assert received.subject == "We received your request"

    # Until approved, the account sees what visitors see.
    assert sign_in(client, "ada@example.org").status_code == 302
    assert "Participants only note" not in client.get("/documents/").get_data(as_text=True)

    secretariat = make_user("secretariat")
    approve_user(secretariat, user)
    db.session.commit()
    user = reload(user)
    assert user.approved and user.reviewed_by_id == secretariat.id and user.reviewed_at
    assert "user.approve" in audit_actions(user.id)
    approval = outbox.to("ada@example.org")[-1]
    assert "approved" in approval.subject
    assert approval.link("/auth/sign-in") == "/auth/sign-in"

    assert "Participants only note" in client.get("/documents/").get_data(as_text=True)


def test_declined_request_is_deactivated_signed_out_and_told_why(client, make_user, outbox):
    client.post("/auth/request-access", data=request_form(client))
    assert sign_in(client, "ada@example.org").status_code == 302
    user = find_user_by_email("ada@example.org")

    decline_user(make_user("secretariat"), user, "We could not confirm the organisation.")
    db.session.commit()

    user = reload(user)
    assert user.declined and not user.approved and not user.active and user.reviewed_at
    assert "user.decline" in audit_actions(user.id)
    assert "We could not confirm the organisation." in outbox.to(user.email)[-1].body
    assert client.get("/auth/account").status_code == 302  # signed out at once
    assert sign_in(client, "ada@example.org").status_code == 400


@pytest.mark.parametrize("role", ["government", "industry", "civil_society"])
def test_only_the_secretariat_approves_or_declines(make_user, role):
    pending = make_user("industry", approved=False)
    reviewer = make_user(role)
    with pytest.raises(AccessDenied):
        approve_user(reviewer, pending)
    with pytest.raises(AccessDenied):
        decline_user(reviewer, pending, "no")
    assert not reload(pending).approved


def test_approved_accounts_cannot_be_approved_or_declined_again(make_user):
    secretariat, user = make_user("secretariat"), make_user("industry")
    with pytest.raises(AccountError):
        approve_user(secretariat, user)
    with pytest.raises(AccountError):
        decline_user(secretariat, user, "")


def test_mail_waits_for_the_commit_and_is_dropped_on_rollback(make_user, outbox):
    pending = make_user("industry", approved=False)
    approve_user(make_user("secretariat"), pending)
    assert outbox.to(pending.email) == []
    db.session.rollback()
    db.session.commit()
    assert outbox.to(pending.email) == []
    assert not reload(pending).approved


def test_request_access_answers_the_same_for_an_existing_email(app, make_user, outbox):
    existing = make_user("industry", email="taken@example.org")
    answers = []
    for address in ("taken@example.org", "fresh@example.org"):
        client = app.test_client()
        response = client.post(
            "/auth/request-access", data=request_form(client, email=address, role="industry")
        )
        answers.append((response.status_code, response.get_data(as_text=True)))
    assert answers[0] == answers[1]
    assert answers[0][0] == 200

    [warning] = outbox.to("taken@example.org")
    assert "already have an account" in warning.body
    assert warning.link("/auth/forgot-password") == "/auth/forgot-password"
    assert reload(existing).check_password(PASSWORD) and reload(existing).approved
    assert db.session.scalar(select(func.count()).select_from(User)) == 2
    [received] = outbox.to("fresh@example.org")
    assert "already" not in received.body


@pytest.mark.parametrize("role", ["government", "secretariat", "visitor"])
def test_request_access_offers_only_industry_and_civil_society(client, role):
    response = client.post("/auth/request-access", data=request_form(client, role=role))
    assert response.status_code == 400
    assert find_user_by_email("ada@example.org") is None


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short pass", "at least 12 characters"),
        ("password1234", "too common"),
        ("x" * 1025, "at most 1024 characters"),
        ("my ada@example.org pass", "must not contain your email"),
        ("Ada Researcher", "must not be your name"),
    ],
)
def test_request_access_refuses_weak_passwords_on_the_field(client, password, message):
    form = request_form(client, password=password, confirm=password)
    response = client.post("/auth/request-access", data=form)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert re.search(rf'id="password-error">[^<]*{message}', page), page
    assert find_user_by_email("ada@example.org") is None


def test_request_access_needs_matching_passwords(client):
    form = request_form(client, confirm="something else entirely")
    response = client.post("/auth/request-access", data=form)
    assert response.status_code == 400
    assert "The two passwords differ." in response.get_data(as_text=True)


def test_password_rules():
    assert password_problem(PASSWORD, email="a@example.org", name="A") is None
    assert password_problem("qwertyuiop123", email="a@example.org", name="A")  # common
    assert password_problem("QWERTYUIOP123", email="a@example.org", name="A")  # any case
    assert password_problem("x" * 11, email="a@example.org", name="A")
    assert password_problem("the maria.lopez one", email="Maria.Lopez@gov.es", name="M")
    assert password_problem("Maria Lopez Gomez", email="m@gov.es", name="maria lopez gomez")


def test_create_user_applies_the_password_rules(app):
    with pytest.raises(AccountError, match="at least 12"):
        create_user("x@example.org", name="X", role=Role.INDUSTRY, password="eleven char")
    with pytest.raises(AccountError, match="too common"):
        create_user("x@example.org", name="X", role=Role.INDUSTRY, password="password1234")


# -- CSRF ----------------------------------------------------------------------------------


def test_onboarding_forms_need_their_csrf_token(client, login_as, outbox):
    form = request_form(client)
    del form["csrf_token"]
    assert client.post("/auth/request-access", data=form).status_code == 400
    assert find_user_by_email("ada@example.org") is None
    assert client.post("/auth/forgot-password", data={"email": "x@example.org"}).status_code == 400

    login_as("secretariat")
    response = client.post(
        "/auth/invitations/new", data={"email": "new@example.org", "role": "industry"}
    )
    assert response.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Invitation)) == 0


# -- Invitations ---------------------------------------------------------------------------


def invite_through_the_form(
    client: FlaskClient, email_address: str, role: str, state_code: str = ""
) -> object:
    token = csrf_token(client, "/auth/invitations/new")
    return client.post(
        "/auth/invitations/new",
        data={"email": email_address, "role": role, "state": state_code, "csrf_token": token},
    )


def accept_through_the_form(client: FlaskClient, path: str, **overrides: str) -> object:
    form = {
        "name": "Jana Official",
        "organisation": "Federal Office for Economic Affairs",
        "password": NEW_PASSWORD,
        "confirm": NEW_PASSWORD,
        "csrf_token": csrf_token(client, path),
    }
    form.update(overrides)
    return client.post(path, data=form)


def test_secretariat_invites_a_government_official_who_joins_signed_in(
    app, client, login_as, outbox
):
    login_as("secretariat")
    response = invite_through_the_form(client, "Jana@Example.org", "government", "DE")
    assert response.status_code == 302
    invitation = db.session.scalars(select(Invitation)).one()
    assert invitation.email == "jana@example.org" and invitation.state.code == "DE"
    [mail] = outbox.to("jana@example.org")
    path = mail.link("/auth/invitation/")
    token = path.rsplit("/", 1)[1]
    assert token not in invitation.token_hash and len(invitation.token_hash) == 64
    assert "expires at" in mail.body and "UTC" in mail.body
    assert "jana@example.org" in client.get("/auth/invitations").get_data(as_text=True)

    invitee = app.test_client()
    page = invitee.get(path).get_data(as_text=True)
    assert "jana@example.org" in page and "Government" in page and "Germany" in page
    response = accept_through_the_form(invitee, path)
    assert response.status_code == 302 and response.headers["Location"].endswith("/auth/account")

    account = invitee.get("/auth/account").get_data(as_text=True)
    assert "Jana Official" in account and "Germany" in account
    user = find_user_by_email("jana@example.org")
    assert user.role is Role.GOVERNMENT and user.state.code == "DE" and user.approved
    db.session.expire_all()
    invitation = db.session.get(Invitation, invitation.id)
    assert invitation.used_at is not None and invitation.user_id == user.id
    assert "invitation.create" in audit_actions() and "invitation.accept" in audit_actions()


def test_secretariat_invites_industry_without_a_state(app, client, login_as, outbox):
    login_as("secretariat")
    assert invite_through_the_form(client, "exporter@example.org", "industry").status_code == 302
    path = outbox.to("exporter@example.org")[0].link("/auth/invitation/")
    invitee = app.test_client()
    assert accept_through_the_form(invitee, path, organisation="").status_code == 302
    user = find_user_by_email("exporter@example.org")
    assert user.role is Role.INDUSTRY and user.state is None and user.organisation is None


def test_government_invitations_need_a_state_and_others_none(client, login_as, make_user):
    secretariat = login_as("secretariat")
    response = invite_through_the_form(client, "a@example.org", "government", "")
    assert response.status_code == 400
    assert "need a state" in response.get_data(as_text=True)
    with pytest.raises(AccountError):
        create_invitation(secretariat, "a@example.org", Role.INDUSTRY, state("FR"))
    assert db.session.scalar(select(func.count()).select_from(Invitation)) == 0


def test_focal_point_invites_a_colleague_of_their_own_state(app, client, make_user, outbox):
    focal = focal_point(make_user, "DE")
    sign_in(client, focal.email)
    form = client.get("/auth/invitations/new").get_data(as_text=True)
    assert "Germany" in form and "France" not in form
    assert 'value="industry"' not in form and 'value="secretariat"' not in form

    assert (
        invite_through_the_form(client, "colleague@example.org", "government", "DE").status_code
        == 302
    )
    path = outbox.to("colleague@example.org")[0].link("/auth/invitation/")
    invitee = app.test_client()
    assert accept_through_the_form(invitee, path).status_code == 302
    user = find_user_by_email("colleague@example.org")
    assert user.role is Role.GOVERNMENT and user.state.code == "DE"
    assert not user.is_focal_point


@pytest.mark.parametrize(("role", "state_code"), [("government", "FR"), ("industry", "")])
def test_focal_point_cannot_invite_another_state_or_role(client, make_user, role, state_code):
    focal = focal_point(make_user, "DE")
    sign_in(client, focal.email)
    response = invite_through_the_form(client, "x@example.org", role, state_code)
    assert response.status_code in (400, 403)
    assert db.session.scalar(select(func.count()).select_from(Invitation)) == 0
    with pytest.raises(AccessDenied):
        create_invitation(
            focal, "x@example.org", Role(role), state(state_code) if state_code else None
        )


def test_can_invite_rule(make_user):
    secretariat, focal = make_user("secretariat"), focal_point(make_user, "DE")
    germany, france = state("DE"), state("FR")
    assert can_invite(secretariat, Role.GOVERNMENT, france)
    assert can_invite(secretariat, Role.SECRETARIAT, None)
    assert not can_invite(secretariat, Role.GOVERNMENT, None)
    assert can_invite(focal, Role.GOVERNMENT, germany)
    assert not can_invite(focal, Role.GOVERNMENT, france)
    assert not can_invite(focal, Role.CIVIL_SOCIETY, None)
    focal.active = False
    assert not can_invite(focal, Role.GOVERNMENT, germany)
    focal.active, focal.approved = True, False
    assert not can_invite(focal, Role.GOVERNMENT, germany)
    assert not can_invite(None, Role.INDUSTRY, None)


@pytest.mark.parametrize(
    ("role", "state_code"), [("government", "DE"), ("industry", None), ("civil_society", None)]
)
def test_others_cannot_invite(client, login_as, role, state_code):
    login_as(role, state_code)
    assert client.get("/auth/invitations").status_code == 403
    assert client.get("/auth/invitations/new").status_code == 403
    response = client.post(
        "/auth/invitations/new",
        data={
            "email": "x@example.org",
            "role": "government",
            "state": "DE",
            "csrf_token": csrf_token(client, "/"),
        },
    )
    assert response.status_code == 403
    assert db.session.scalar(select(func.count()).select_from(Invitation)) == 0


def test_visitors_are_sent_to_sign_in_from_invitation_pages(client):
    for path in ("/auth/invitations", "/auth/invitations/new"):
        response = client.get(path)
        assert response.status_code == 302 and "/auth/sign-in" in response.headers["Location"]


def test_invitation_pages_list_only_ones_own_invitations(client, make_user):
    secretariat = make_user("secretariat")
    create_invitation(secretariat, "by-secretariat@example.org", Role.INDUSTRY, None)
    focal = focal_point(make_user, "DE")
    create_invitation(focal, "by-focal@example.org", Role.GOVERNMENT, state("DE"))
    db.session.commit()

    sign_in(client, focal.email)
    page = client.get("/auth/invitations").get_data(as_text=True)
    assert "by-focal@example.org" in page and "by-secretariat@example.org" not in page

    other = client.application.test_client()
    sign_in(other, secretariat.email)
    page = other.get("/auth/invitations").get_data(as_text=True)
    assert "by-focal@example.org" in page and "by-secretariat@example.org" in page


def issue(make_user, email_address: str = "invitee@example.org") -> tuple[Invitation, str]:
    invitation, token = create_invitation(
        make_user("secretariat"), email_address, Role.GOVERNMENT, state("FR")
    )
    db.session.commit()
    return invitation, token


def assert_bad_link(response: object) -> None:
    assert response.status_code == 404
    assert BAD_LINK in response.get_data(as_text=True)


def test_an_invitation_works_once(app, client, make_user):
    _invitation, token = issue(make_user)
    path = f"/auth/invitation/{token}"
    assert accept_through_the_form(client, path).status_code == 302
    again = app.test_client()
    assert_bad_link(again.get(path))
    form = {"name": "Someone", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    assert_bad_link(again.post(path, data={**form, "csrf_token": csrf_token(again)}))


def test_expired_invitation_is_refused(client, make_user):
    invitation, token = issue(make_user)
    invitation.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    db.session.commit()
    assert_bad_link(client.get(f"/auth/invitation/{token}"))
    assert find_user_by_email("invitee@example.org") is None


def test_revoked_invitation_is_refused(app, client, make_user):
    secretariat = make_user("secretariat")
    invitation, token = create_invitation(secretariat, "x@example.org", Role.INDUSTRY, None)
    db.session.commit()
    sign_in(client, secretariat.email)
    response = client.post(
        f"/auth/invitations/{invitation.id}/revoke",
        data={"csrf_token": csrf_token(client, "/auth/invitations")},
    )
    assert response.status_code == 302
    assert "Revoked" in client.get("/auth/invitations").get_data(as_text=True)
    assert_bad_link(app.test_client().get(f"/auth/invitation/{token}"))
    assert "invitation.revoke" in audit_actions(invitation.id)


def test_focal_point_cannot_revoke_someone_elses_invitation(client, make_user):
    invitation, _token = issue(make_user)
    focal = focal_point(make_user, "FR")
    sign_in(client, focal.email)
    response = client.post(
        f"/auth/invitations/{invitation.id}/revoke",
        data={"csrf_token": csrf_token(client, "/auth/invitations")},
    )
    assert response.status_code == 403
    assert db.session.get(Invitation, invitation.id).revoked_at is None


@pytest.mark.parametrize("change", ["tamper", "unknown", "long", "empty-ish"])
def test_tampered_and_unknown_invitation_tokens_are_refused(client, make_user, change):
    _invitation, token = issue(make_user)
    bad = {
        "tamper": token[:-1] + ("A" if token[-1] != "A" else "B"),
        "unknown": "x" * len(token),
        "long": token * 10,
        "empty-ish": "-",
    }[change]
    assert_bad_link(client.get(f"/auth/invitation/{bad}"))


def test_invitation_for_an_existing_account_is_refused_clearly(client, make_user):
    make_user("industry", email="invitee@example.org")
    _invitation, token = issue(make_user)
    response = client.get(f"/auth/invitation/{token}")
    assert response.status_code == 409
    assert "An account with this email address exists already" in response.get_data(as_text=True)


def test_accepting_checks_the_password_rules(client, make_user):
    _invitation, token = issue(make_user)
    path = f"/auth/invitation/{token}"
    response = accept_through_the_form(client, path, password="short", confirm="short")
    assert response.status_code == 400
    assert "at least 12 characters" in response.get_data(as_text=True)
    response = accept_through_the_form(
        client, path, password="invitee1234567", confirm="invitee1234567"
    )
    assert "must not contain your email" in response.get_data(as_text=True)
    assert find_user_by_email("invitee@example.org") is None


def test_an_invitation_used_meanwhile_cannot_be_used_again(make_user):
    """Two requests racing: the second one's copy still looks open, the database says no."""
    _invitation, token = issue(make_user)
    stale = find_open_invitation(token)
    db.session.execute(
        update(Invitation)
        .values(used_at=dt.datetime.now(dt.UTC))
        .execution_options(synchronize_session=False)
    )
    assert stale.used_at is None
    with pytest.raises(InvalidToken):
        accept_invitation(stale, name="Late", organisation=None, password=NEW_PASSWORD)
    db.session.rollback()
    assert find_user_by_email("invitee@example.org") is None


# -- Forgotten passwords -------------------------------------------------------------------


def ask_for_reset(client: FlaskClient, address: str) -> object:
    token = csrf_token(client, "/auth/forgot-password")
    return client.post("/auth/forgot-password", data={"email": address, "csrf_token": token})


def choose_password(client: FlaskClient, path: str, password: str = NEW_PASSWORD) -> object:
    token = csrf_token(client, path)
    return client.post(path, data={"password": password, "confirm": password, "csrf_token": token})


def test_password_reset_signs_out_everywhere_and_the_old_password_stops_working(
    app, client, make_user, outbox
):
    user = make_user("industry")
    elsewhere = app.test_client()
    assert sign_in(elsewhere, user.email).status_code == 302
    assert elsewhere.get("/auth/account").status_code == 200

    response = ask_for_reset(client, user.email)
    assert "If an account exists for that address" in response.get_data(as_text=True)
    [mail] = outbox.to(user.email)
    assert "expires at" in mail.body and "60 minutes" in mail.body
    path = mail.link("/auth/reset-password/")
    assert client.get(path).status_code == 200

    response = choose_password(client, path)
    assert response.status_code == 302 and response.headers["Location"].endswith("/auth/sign-in")
    assert "Your password is changed" in client.get("/auth/sign-in").get_data(as_text=True)

    assert elsewhere.get("/auth/account").status_code == 302  # signed out
    assert sign_in(app.test_client(), user.email, PASSWORD).status_code == 400
    assert sign_in(app.test_client(), user.email, NEW_PASSWORD).status_code == 302
    user = reload(user)
    assert user.password_changed_at is not None
    assert "user.password_reset" in audit_actions(user.id)
    assert outbox.to(user.email)[-1].subject == "Your password was changed"
    assert_bad_link(client.get(path))  # used


def test_using_one_reset_link_spends_the_others(client, make_user, outbox):
    user = make_user("civil_society")
    ask_for_reset(client, user.email)
    ask_for_reset(client, user.email)
    first, second = (mail.link("/auth/reset-password/") for mail in outbox.to(user.email))
    assert choose_password(client, second).status_code == 302
    assert_bad_link(client.get(first))
    assert all(reset.used_at for reset in db.session.scalars(select(PasswordReset)))


def test_forgot_password_answers_the_same_for_unknown_emails(app, make_user, outbox):
    user = make_user("industry")
    answers = []
    for address in (user.email, "nobody@example.org"):
        response = ask_for_reset(app.test_client(), address)
        answers.append((response.status_code, response.get_data(as_text=True)))
    assert answers[0] == answers[1]
    assert len(outbox.to(user.email)) == 1
    assert outbox.to("nobody@example.org") == []


def test_deactivated_accounts_get_no_reset_link(client, make_user, outbox):
    user = make_user("industry")
    user.active = False
    db.session.commit()
    assert ask_for_reset(client, user.email).status_code == 200
    assert outbox.to(user.email) == []


def test_expired_and_tampered_reset_links_are_refused(client, make_user, outbox):
    user = make_user("industry")
    ask_for_reset(client, user.email)
    path = outbox.to(user.email)[0].link("/auth/reset-password/")
    assert_bad_link(client.get(path[:-2] + "xx"))
    assert_bad_link(client.get("/auth/reset-password/nonsense"))
    db.session.execute(
        update(PasswordReset).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
    )
    db.session.commit()
    assert_bad_link(client.get(path))
    form = {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": csrf_token(client)}
    assert_bad_link(client.post(path, data=form))
    assert reload(user).check_password(PASSWORD)


def test_reset_refuses_a_weak_password_and_keeps_the_link(client, make_user, outbox):
    user = make_user("industry")
    ask_for_reset(client, user.email)
    path = outbox.to(user.email)[0].link("/auth/reset-password/")
    response = choose_password(client, path, "password1234")
    assert response.status_code == 400
    assert "too common" in response.get_data(as_text=True)
    assert choose_password(client, path).status_code == 302


def test_reset_form_needs_its_csrf_token(client, make_user, outbox):
    user = make_user("industry")
    ask_for_reset(client, user.email)
    path = outbox.to(user.email)[0].link("/auth/reset-password/")
    response = client.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 400
    assert reload(user).check_password(PASSWORD)


def test_sign_in_page_links_to_request_access_and_forgotten_password(client):
    page = client.get("/auth/sign-in").get_data(as_text=True)
    assert 'href="/auth/request-access"' in page and 'href="/auth/forgot-password"' in page


def _invite(inviter: User, email: str, role: Role, state_code: str | None) -> str:
    _, raw = create_invitation(inviter, email, role, state(state_code) if state_code else None)
    db.session.commit()
    return raw


def test_invitation_stops_working_when_its_issuer_may_no_longer_invite(
    app, client, make_user
) -> None:
    """A focal point invites, then is deactivated: the link no longer opens."""
    focal = focal_point(make_user, "FR")
    raw = _invite(focal, "colleague@gov.example", Role.GOVERNMENT, "FR")
    focal.active = False
    db.session.commit()
    assert client.get(f"/auth/invitation/{raw}").status_code == 200  # the page still opens
    token = csrf_token(client, f"/auth/invitation/{raw}")
    response = client.post(
        f"/auth/invitation/{raw}",
        data={"name": "Colleague", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD,
              "csrf_token": token},
    )  # fmt: skip
    assert response.status_code == 404
    assert find_user_by_email("colleague@gov.example") is None


def test_invitation_takes_over_a_pending_request_made_with_the_same_address(
    app, client, make_user
) -> None:
    """Someone asked for access with the minister's address: the invitation still works."""
    squatter = create_user(
        "minister@gov.example", name="Not the minister", role=Role.INDUSTRY,
        password=PASSWORD, approved=False,
    )  # fmt: skip
    db.session.commit()
    raw = _invite(make_user("secretariat"), "minister@gov.example", Role.GOVERNMENT, "FR")
    token = csrf_token(client, f"/auth/invitation/{raw}")
    response = client.post(
        f"/auth/invitation/{raw}",
        data={"name": "The Minister", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD,
              "csrf_token": token},
    )  # fmt: skip
    assert response.status_code == 302
    db.session.refresh(squatter)
    assert squatter.role is Role.GOVERNMENT and squatter.approved
    assert squatter.name == "The Minister" and squatter.check_password(NEW_PASSWORD)
    assert not squatter.check_password(PASSWORD)
