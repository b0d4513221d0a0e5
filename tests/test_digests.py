"""Email digests: what each user follows and may read when the digest is sent, once per
window, with a one-click unsubscribe link that cannot be forged."""

from __future__ import annotations

import email
import re
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import URLSafeSerializer
from sqlalchemy import select

from portal.access import CONTENT_LOADER
from portal.admin.services import change_role, deactivate_account
from portal.documents.services import withdraw_document
from portal.extensions import db
from portal.feeds.subscriptions import Following, save_following
from portal.models import (
    DigestPeriod,
    Document,
    DocumentStatus,
    DocumentType,
    Role,
    Subscription,
    SubscriptionKind,
    User,
    Visibility,
)
from tests.conftest import csrf_token, edit_document

#: What each role may read of published documents (BRIEF.md's role table).
READABLE = {
    "civil_society": {"public", "participants"},
    "industry": {"public", "participants"},
    "government": {"public", "participants", "government"},
    "secretariat": {"public", "participants", "government"},
}


@dataclass
class Mail:
    to: str
    subject: str
    text: str
    html: str
    message: EmailMessage
    raw: bytes

    def link(self, path: str) -> str:
        """The path of the first link in the text that starts with `path`."""
        match = re.search(rf"https?://portal\.test({re.escape(path)}\S*)", self.text)
        assert match, f"no {path} link in: {self.text}"
        return match.group(1)

    def listed(self, titles: set[str]) -> set[str]:
        """Which of `titles` the digest lists."""
        return {t for t in titles if f"- {t}\n" in self.text}


@pytest.fixture
def outbox(app: Flask, tmp_path: Path) -> Callable[[], list[Mail]]:
    """The mails sent so far, oldest first; digests cover up to the moment they are sent."""
    app.config["DIGEST_SETTLE_SECONDS"] = 0
    directory = tmp_path / "outbox"

    def read() -> list[Mail]:
        mails = []
        for path in sorted(directory.glob("*.eml")) if directory.exists() else []:
            raw = path.read_bytes()
            message = email.message_from_bytes(raw, policy=policy.default)
            text = message.get_body(preferencelist=("plain",)).get_content()
            html = message.get_body(preferencelist=("html",)).get_content()
            mails.append(Mail(message["To"], message["Subject"], text, html, message, raw))
        return mails

    return read


def send(app: Flask, period: str = "daily") -> Result:
    """Run `flask digests send` as cron would."""
    result = app.test_cli_runner().invoke(args=["digests", "send", "--period", period])
    assert result.exit_code == 0, result.output
    return result


def follow(
    user: User,
    *,
    commitments: tuple[str, ...] = ("1",),
    states: tuple[str, ...] = (),
    types: tuple[str, ...] = (),
    period: DigestPeriod = DigestPeriod.DAILY,
) -> None:
    save_following(user, Following(set(states), set(commitments), set(types)), period)
    db.session.commit()


@pytest.fixture
def every_kind(make_document: Callable[..., Document]) -> set[str]:
    """One French note on commitment 1 of each visibility and status; their titles."""
    for visibility in Visibility:
        for status in DocumentStatus:
            initial = DocumentStatus.PUBLISHED if status is DocumentStatus.WITHDRAWN else status
            document = make_document(
                DocumentType.IMPLEMENTATION_NOTE,
                visibility,
                initial,
                title=f"{visibility.value} {status.value}",
            )
            if status is DocumentStatus.WITHDRAWN:
                withdraw_document(CONTENT_LOADER, document, "test")
                db.session.commit()
    return {f"{v.value} {s.value}" for v in Visibility for s in DocumentStatus}


@pytest.mark.parametrize("role", list(READABLE))
def test_a_digest_lists_only_published_documents_its_reader_may_read(
    app: Flask,
    make_user: Callable[..., User],
    outbox: Callable[[], list[Mail]],
    every_kind: set[str],
    role: str,
) -> None:
    user = make_user(role, "FR" if role == "government" else None)
    follow(user)
    send(app)
    [mail] = outbox()
    assert mail.to == user.email
    expected = {f"{v} published" for v in READABLE[role]}
    assert mail.listed(every_kind) == expected
    for title in every_kind - expected:
        assert title not in mail.html


def test_a_government_user_without_two_factor_gets_no_government_document(
    app: Flask,
    make_user: Callable[..., User],
    outbox: Callable[[], list[Mail]],
    every_kind: set[str],
) -> None:
    follow(make_user("government", "FR", two_factor=False))
    send(app)
    [mail] = outbox()
    assert mail.listed(every_kind) == {"public published", "participants published"}


def test_access_is_checked_when_the_digest_is_sent_not_when_the_document_changed(
    app: Flask,
    make_user: Callable[..., User],
    outbox: Callable[[], list[Mail]],
    every_kind: set[str],
) -> None:
    official = make_user("government", "FR")
    follow(official)
    change_role(make_user("secretariat"), official, Role.INDUSTRY, None)
    db.session.commit()
    send(app)
    [mail] = outbox()
    assert mail.listed(every_kind) == {"public published", "participants published"}


@pytest.mark.parametrize("account", ["deactivated", "unapproved"])
def test_deactivated_and_unapproved_accounts_get_no_digest(
    app: Flask,
    make_user: Callable[..., User],
    outbox: Callable[[], list[Mail]],
    every_kind: set[str],
    account: str,
) -> None:
    user = make_user("civil_society")
    follow(user)
    if account == "deactivated":
        deactivate_account(make_user("secretariat"), user)
    else:
        user.approved = False
    db.session.commit()
    send(app)
    assert outbox() == []


def test_running_again_sends_nothing_twice_and_a_later_change_comes_next_time(
    app: Flask,
    make_user: Callable[..., User],
    make_document: Callable[..., Document],
    outbox: Callable[[], list[Mail]],
) -> None:
    user = make_user("industry")
    follow(user)
    first = make_document(title="First note")
    assert "Sent 1 digests" in send(app).output
    assert "Sent 0 digests" in send(app).output
    assert len(outbox()) == 1
    db.session.refresh(user)
    assert user.digest_sent_at is not None
    edit_document(first, source="A changed text.")
    make_document(title="Second note")
    send(app)
    mails = outbox()
    assert len(mails) == 2
    assert mails[1].listed({"First note", "Second note"}) == {"First note", "Second note"}
    new, _, changed = mails[1].text.partition("Changed documents")
    assert "Second note" in new and "First note" in changed


def test_a_draft_published_since_the_last_digest_is_listed_as_new(
    app: Flask,
    make_user: Callable[..., User],
    make_document: Callable[..., Document],
    outbox: Callable[[], list[Mail]],
) -> None:
    follow(make_user("industry"))
    draft = make_document(title="Was a draft", status=DocumentStatus.DRAFT)
    send(app)
    assert outbox() == []
    edit_document(draft, status=DocumentStatus.PUBLISHED)
    send(app)
    [mail] = outbox()
    assert "Was a draft" in mail.text.partition("Changed documents")[0]


def test_an_empty_digest_is_not_sent(
    app: Flask,
    make_user: Callable[..., User],
    make_document: Callable[..., Document],
    outbox: Callable[[], list[Mail]],
) -> None:
    user = make_user("civil_society")
    follow(user, commitments=(), states=("DE",))
    make_document(title="French note", state_code="FR")
    make_document(title="German draft", state_code="DE", status=DocumentStatus.DRAFT)
    make_document(title="German secret", state_code="DE", visibility=Visibility.GOVERNMENT)
    send(app)
    assert outbox() == []
    db.session.refresh(user)
    assert user.digest_sent_at is None


def test_a_digest_follows_states_commitments_and_types(
    app: Flask,
    make_user: Callable[..., User],
    make_document: Callable[..., Document],
    outbox: Callable[[], list[Mail]],
) -> None:
    user = make_user("secretariat")
    follow(user, commitments=("3",), states=("DE",), types=("review",))
    make_document(title="On commitment 3", commitment_numbers=(3,))
    make_document(title="German note", state_code="DE", commitment_numbers=(2,))
    make_document(DocumentType.REVIEW, title="A review", commitment_numbers=(2,))
    make_document(title="Not followed", commitment_numbers=(2,))
    send(app)
    [mail] = outbox()
    everything = {"On commitment 3", "German note", "A review", "Not followed"}
    assert mail.listed(everything) == everything - {"Not followed"}


def test_only_users_of_the_period_get_a_digest(
    app: Flask,
    make_user: Callable[..., User],
    make_document: Callable[..., Document],
    outbox: Callable[[], list[Mail]],
) -> None:
    daily, weekly, none = (make_user("industry") for _ in range(3))
    follow(daily)
    follow(weekly, period=DigestPeriod.WEEKLY)
    follow(none, period=DigestPeriod.NONE)
    make_document(title="A note")
    send(app, "daily")
    assert [m.to for m in outbox()] == [daily.email]
    send(app, "weekly")
    assert [m.to for m in outbox()] == [daily.email, weekly.email]


# -- Unsubscribing ------------------------------------------------------------------------


@pytest.fixture
def digest(
    app: Flask,
    make_user: Callable[..., User],
    make_document: Callable[..., Document],
    outbox: Callable[[], list[Mail]],
) -> Mail:
    """A digest sent to a civil-society user."""
    follow(make_user("civil_society"))
    make_document(title="A note")
    send(app)
    [mail] = outbox()
    return mail


def period_of(email_address: str) -> DigestPeriod:
    user = db.session.scalars(select(User).where(User.email == email_address)).one()
    db.session.refresh(user)
    return user.digest_period


def test_a_digest_carries_a_one_click_unsubscribe_link(digest: Mail) -> None:
    link = digest.link("/digests/unsubscribe/")
    assert digest.message["List-Unsubscribe"] == f"<http://portal.test{link}>"
    assert digest.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # As mail clients read it: one plain header line, not RFC 2047-encoded.
    assert f"List-Unsubscribe: <http://portal.test{link}>\n".encode() in digest.raw
    assert link in digest.html


def test_the_unsubscribe_link_asks_before_it_unsubscribes(
    client: FlaskClient, digest: Mail
) -> None:
    link = digest.link("/digests/unsubscribe/")
    page = client.get(link)
    assert page.status_code == 200
    assert period_of(digest.to) is DigestPeriod.DAILY
    assert client.post(link).status_code == 200
    assert period_of(digest.to) is DigestPeriod.NONE
    assert db.session.scalars(select(Subscription)).all(), "what they follow is kept"


def test_a_mail_client_unsubscribes_in_one_click_without_a_session(
    app: Flask, digest: Mail
) -> None:
    link = digest.link("/digests/unsubscribe/")
    response = app.test_client().post(link, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert period_of(digest.to) is DigestPeriod.NONE


def _forgeries(app: Flask, token: str, other: User) -> list[str]:
    payload = URLSafeSerializer(app.config["SECRET_KEY"], salt="digest-unsubscribe").loads(token)
    return [
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        URLSafeSerializer("another key", salt="digest-unsubscribe").dumps(payload),
        URLSafeSerializer(app.config["SECRET_KEY"], salt="another purpose").dumps(payload),
        URLSafeSerializer(app.config["SECRET_KEY"]).dumps(payload),
        URLSafeSerializer("another key", salt="digest-unsubscribe").dumps(
            {**payload, "user": other.id}
        ),
        "x" * 500,
        "not-a-token",
    ]


def test_a_forged_or_altered_unsubscribe_link_changes_nothing(
    app: Flask, client: FlaskClient, make_user: Callable[..., User], digest: Mail
) -> None:
    other = make_user("industry")
    follow(other)
    token = digest.link("/digests/unsubscribe/").rsplit("/", 1)[1]
    for forged in _forgeries(app, token, other):
        assert client.get(f"/digests/unsubscribe/{forged}").status_code in (400, 404)
        assert client.post(f"/digests/unsubscribe/{forged}").status_code in (400, 404)
    assert period_of(digest.to) is DigestPeriod.DAILY
    assert period_of(other.email) is DigestPeriod.DAILY


def test_an_unsubscribe_link_stops_working_when_the_address_changes(
    client: FlaskClient, digest: Mail
) -> None:
    user = db.session.scalars(select(User).where(User.email == digest.to)).one()
    user.email = "new.address@example.org"
    db.session.commit()
    assert client.post(digest.link("/digests/unsubscribe/")).status_code == 404
    assert period_of("new.address@example.org") is DigestPeriod.DAILY


# -- The subscriptions page ---------------------------------------------------------------


def test_a_user_chooses_what_to_follow_and_how_often(
    client: FlaskClient, login_as: Callable[..., User]
) -> None:
    user = login_as("civil_society")
    page = client.get("/account/subscriptions")
    assert page.status_code == 200
    response = client.post(
        "/account/subscriptions",
        data={
            "csrf_token": csrf_token(client, "/account/subscriptions"),
            "states": ["FR", "DE"],
            "commitments": ["2"],
            "types": ["review"],
            "period": "weekly",
        },
    )
    assert response.status_code == 302
    followed = {
        (s.kind, s.value)
        for s in db.session.scalars(select(Subscription).where(Subscription.user_id == user.id))
    }
    assert followed == {
        (SubscriptionKind.STATE, "FR"),
        (SubscriptionKind.STATE, "DE"),
        (SubscriptionKind.COMMITMENT, "2"),
        (SubscriptionKind.TYPE, "review"),
    }
    assert period_of(user.email) is DigestPeriod.WEEKLY
    again = client.get("/account/subscriptions").get_data(as_text=True)
    assert re.search(r'value="weekly"[^>]*checked|checked[^>]*value="weekly"', again)


def test_a_subscription_to_something_that_does_not_exist_is_refused(
    client: FlaskClient, login_as: Callable[..., User]
) -> None:
    user = login_as("industry")
    response = client.post(
        "/account/subscriptions",
        data={
            "csrf_token": csrf_token(client, "/account/subscriptions"),
            "states": ["ZZ"],
            "period": "hourly",
        },
    )
    assert response.status_code == 400
    assert db.session.scalars(select(Subscription)).all() == []
    assert period_of(user.email) is DigestPeriod.NONE
