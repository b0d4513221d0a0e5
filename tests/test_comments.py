"""Comments: they follow their document's visibility, go one level deep, can be edited for
a short while, flagged once, and moderated by the secretariat behind a visible placeholder."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from portal.access import (
    COMMENT_EDIT_MINUTES,
    AccessDenied,
    can_comment,
    can_edit_comment,
    can_flag_comment,
    can_moderate_comments,
    can_read_comment,
    visible_comments,
)
from portal.comments import services
from portal.comments.services import (
    MAX_COMMENT_LENGTH,
    CommentConflict,
    InvalidComment,
    add_comment,
    edit_comment,
    flag_comment,
    hide_comment,
    restore_comment,
)
from portal.extensions import db
from portal.models import (
    Attribution,
    AuditEvent,
    Comment,
    CommentFlag,
    Document,
    DocumentStatus,
    Role,
    User,
    Visibility,
)
from tests.conftest import csrf_token, sign_in

PUBLIC, PARTICIPANTS, GOVERNMENT = Visibility.PUBLIC, Visibility.PARTICIPANTS, Visibility.GOVERNMENT
PUBLISHED, DRAFT = DocumentStatus.PUBLISHED, DocumentStatus.DRAFT

MakeUser = Callable[..., User]
MakeDocument = Callable[..., Document]


def token(client: FlaskClient) -> str:
    """A CSRF token for whoever the client is signed in as (visitors get the sign-in form's)."""
    page = client.get("/documents/").get_data(as_text=True)
    if 'name="csrf_token"' in page:
        return csrf_token(client, "/documents/")
    return csrf_token(client)


def post(client: FlaskClient, path: str, **data: Any) -> Any:
    """POST a form with a valid CSRF token."""
    return client.post(path, data={"csrf_token": token(client), **data})


def comment_as(
    user: User, document: Document, text: str, parent: Comment | None = None, **kwargs: Any
) -> Comment:
    """A comment written through the service, committed."""
    comment = add_comment(user, document, text, parent, **kwargs)
    db.session.commit()
    return comment


def stored_comments(document: Document) -> list[Comment]:
    db.session.expire_all()
    return list(db.session.scalars(select(Comment).where(Comment.document_id == document.id)))


def events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def page_of(client: FlaskClient, document: Document) -> str:
    return client.get(f"/documents/{document.slug}").get_data(as_text=True)


# -- Visibility: a comment is read exactly when its document is --------------------------

ROLES = ["visitor", "unapproved", "industry", "civil_society", "government_FR", "government_DE",
         "secretariat"]  # fmt: skip

#: (visibility, status) -> roles that may read a French implementation note (BRIEF.md's table).
READERS: dict[tuple[Visibility, DocumentStatus], set[str]] = {
    (PUBLIC, PUBLISHED): set(ROLES),
    (PARTICIPANTS, PUBLISHED): {
        "industry", "civil_society", "government_FR", "government_DE", "secretariat"
    },
    (GOVERNMENT, PUBLISHED): {"government_FR", "government_DE", "secretariat"},
    (PUBLIC, DRAFT): {"government_FR", "secretariat"},
    (PARTICIPANTS, DRAFT): {"government_FR", "secretariat"},
    (GOVERNMENT, DRAFT): {"government_FR", "secretariat"},
}  # fmt: skip
MAY_COMMENT = set(ROLES) - {"visitor", "unapproved"}


def sign_in_as(client: FlaskClient, make_user: MakeUser, who: str) -> User | None:
    """Sign the client in as one of ROLES (the visitor stays signed out)."""
    if who == "visitor":
        return None
    if who == "unapproved":
        user = make_user("civil_society", approved=False)
    elif who.startswith("government_"):
        user = make_user("government", who.removeprefix("government_"))
    else:
        user = make_user(who)
    assert sign_in(client, user.email).status_code == 302
    return user


@pytest.mark.parametrize("who", ROLES)
def test_comment_is_read_and_written_exactly_where_its_document_is_read(
    client: FlaskClient, make_user: MakeUser, make_document: MakeDocument, who: str
) -> None:
    secretariat = make_user("secretariat", name="Moderator Mona")
    worlds = {}
    for (visibility, status), readers in READERS.items():
        document = make_document("implementation_note", visibility, status, state_code="FR")
        text = f"Secret remark on {visibility.value} {status.value}"
        comment = comment_as(secretariat, document, text)
        worlds[visibility, status] = (document, comment, text, who in readers)
    sign_in_as(client, make_user, who)

    for (visibility, status), (document, comment, text, readable) in worlds.items():
        where = f"{who} on a {status.value} {visibility.value} document"
        response = client.get(f"/documents/{document.slug}")
        assert response.status_code == (200 if readable else 404), where
        assert (text in response.get_data(as_text=True)) is readable, where

        response = post(client, f"/documents/{document.slug}/comments", source=f"Mine: {where}")
        expected = (302 if who in MAY_COMMENT else 403) if readable else 404
        assert response.status_code == expected, where
        written = any(c.source == f"Mine: {where}" for c in stored_comments(document))
        assert written is (expected == 302), where

        flag = post(client, f"/comments/{comment.id}/flag", reason="spam")
        assert flag.status_code == expected, where
        assert client.get(f"/comments/{comment.id}/edit").status_code == (
            403 if readable else 404
        ), where
        reply = post(
            client,
            f"/documents/{document.slug}/comments",
            source="A reply",
            parent_id=str(comment.id),
        )
        assert reply.status_code == expected, where


def test_sql_filter_selects_exactly_the_comments_each_role_may_read(
    make_user: MakeUser, make_document: MakeDocument
) -> None:
    secretariat = make_user("secretariat")
    for visibility, status in READERS:
        comment_as(secretariat, make_document("implementation_note", visibility, status), "x")
    everyone = list(db.session.scalars(select(Comment)))
    viewers: list[Any] = [
        None,
        make_user("civil_society", approved=False),
        make_user("industry"),
        make_user("civil_society"),
        make_user("government", "FR"),
        make_user("government", "DE"),
        make_user("government", "DE", two_factor=False),
        secretariat,
    ]
    for viewer in viewers:
        selected = set(db.session.scalars(select(Comment.id).where(visible_comments(viewer))))
        assert selected == {c.id for c in everyone if can_read_comment(viewer, c)}, viewer


def test_unknown_documents_and_comments_are_not_found(
    client: FlaskClient, login_as: Callable[..., User]
) -> None:
    login_as("industry")
    assert post(client, "/documents/no-such-document/comments", source="Hi").status_code == 404
    for path in ("/comments/999/edit", "/comments/99999999999999999999/edit"):
        assert client.get(path).status_code == 404
    for action in ("flag", "hide", "restore", "edit"):
        assert post(client, f"/comments/999/{action}", reason="x").status_code == 404


# -- Writing ---------------------------------------------------------------------------------


def test_visitor_is_invited_to_sign_in_and_cannot_comment(
    client: FlaskClient, make_document: MakeDocument
) -> None:
    document = make_document(visibility="public")
    page = page_of(client, document)
    assert "Sign in</a> to comment" in page
    assert 'name="source"' not in page
    assert post(client, f"/documents/{document.slug}/comments", source="Hi").status_code == 403
    assert stored_comments(document) == []


def test_participant_comments_in_markdown_rendered_safely_and_audited(
    client: FlaskClient, login_as: Callable[..., User], make_document: MakeDocument
) -> None:
    user = login_as("industry", name="Ida Industry")
    document = make_document(visibility="participants")
    page = page_of(client, document)
    assert '<label for="new-comment">' in page
    response = post(
        client,
        f"/documents/{document.slug}/comments",
        source="We **agree**.\r\n\r\n<script>alert(1)</script>",
    )
    assert response.status_code == 302
    [comment] = stored_comments(document)
    assert response.location.endswith(f"/documents/{document.slug}#comment-{comment.id}")
    assert comment.author_id == user.id and comment.parent_id is None
    page = page_of(client, document)
    assert "We <strong>agree</strong>." in page
    assert "<script>alert" not in page
    assert "Comment by Ida Industry" in page
    [event] = events("comment.create")
    assert event.object_id == comment.id and event.actor_id == user.id


def test_replies_go_one_level_deep(
    client: FlaskClient,
    login_as: Callable[..., User],
    make_user: MakeUser,
    make_document: MakeDocument,
) -> None:
    document = make_document()
    other = make_document(title="Another note")
    top = comment_as(make_user("civil_society"), document, "Top-level remark")
    login_as("government", "DE")
    path = f"/documents/{document.slug}/comments"

    assert post(client, path, source="A reply", parent_id=str(top.id)).status_code == 302
    reply = next(c for c in stored_comments(document) if c.parent_id == top.id)
    assert f'name="parent_id" value="{top.id}"' in page_of(client, document)

    too_deep = post(client, path, source="Reply to the reply", parent_id=str(reply.id))
    assert too_deep.status_code == 400
    body = too_deep.get_data(as_text=True)
    assert "one level deep" in body and "Reply to the reply" in body

    elsewhere = comment_as(make_user("industry"), other, "On another note")
    wrong = post(client, path, source="Misplaced reply", parent_id=str(elsewhere.id))
    assert wrong.status_code == 400 and "Misplaced reply" in wrong.get_data(as_text=True)
    bogus = post(client, path, source="Bogus parent", parent_id="not-a-number")
    assert bogus.status_code == 400 and "Bogus parent" in bogus.get_data(as_text=True)
    assert len(stored_comments(document)) == 2


def test_reply_to_a_reply_is_refused_by_the_service(
    make_user: MakeUser, make_document: MakeDocument
) -> None:
    user = make_user("industry")
    document = make_document()
    top = comment_as(user, document, "Top")
    reply = comment_as(user, document, "Reply", top)
    with pytest.raises(InvalidComment, match="one level deep"):
        add_comment(user, document, "Too deep", reply)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("", "empty"),
        ("   \r\n  ", "empty"),
        ("x" * (MAX_COMMENT_LENGTH + 1), "at most 5,000 characters"),
    ],
)
def test_empty_or_oversize_comment_is_refused_with_the_text_kept(
    client: FlaskClient,
    login_as: Callable[..., User],
    make_document: MakeDocument,
    source: str,
    message: str,
) -> None:
    login_as("civil_society")
    document = make_document()
    response = post(client, f"/documents/{document.slug}/comments", source=source)
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert message in body
    assert source.strip() in body  # the user's text is still in the form
    assert stored_comments(document) == []


def test_comment_at_the_length_limit_is_accepted(
    client: FlaskClient, login_as: Callable[..., User], make_document: MakeDocument
) -> None:
    login_as("civil_society")
    document = make_document()
    source = "y" * MAX_COMMENT_LENGTH
    assert post(client, f"/documents/{document.slug}/comments", source=source).status_code == 302


def test_posting_without_csrf_token_is_refused(
    client: FlaskClient,
    login_as: Callable[..., User],
    make_user: MakeUser,
    make_document: MakeDocument,
) -> None:
    login_as("secretariat")
    document = make_document()
    comment = comment_as(make_user("industry"), document, "Remark")
    response = client.post(f"/documents/{document.slug}/comments", data={"source": "No token"})
    assert response.status_code == 400
    for action in ("flag", "hide", "restore", "edit"):
        assert (
            client.post(f"/comments/{comment.id}/{action}", data={"reason": "x"}).status_code == 400
        )
    assert [c.source for c in stored_comments(document)] == ["Remark"]
    assert not stored_comments(document)[0].is_hidden


# -- Editing ---------------------------------------------------------------------------------


def test_author_edits_within_the_window_and_the_comment_says_edited(
    make_user: MakeUser, make_document: MakeDocument
) -> None:
    author = make_user("industry")
    written = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
    comment = comment_as(author, make_document(), "First thought", now=written)
    inside = written + dt.timedelta(minutes=COMMENT_EDIT_MINUTES)
    edit_comment(author, comment, "Second thought", now=inside)
    db.session.commit()
    db.session.expire_all()
    assert comment.source == "Second thought"
    assert comment.edited_at is not None
    assert len(events("comment.edit")) == 1
    with pytest.raises(AccessDenied):
        edit_comment(author, comment, "Too late", now=inside + dt.timedelta(seconds=1))


def test_edit_page_follows_the_window(
    client: FlaskClient,
    login_as: Callable[..., User],
    make_document: MakeDocument,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    author = login_as("civil_society")
    document = make_document()
    comment = comment_as(author, document, "Draft remark")
    assert f"/comments/{comment.id}/edit" in page_of(client, document)
    assert "Draft remark" in client.get(f"/comments/{comment.id}/edit").get_data(as_text=True)
    assert post(client, f"/comments/{comment.id}/edit", source="Better remark").status_code == 302
    page = page_of(client, document)
    assert "Better remark" in page and "edited" in page

    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=COMMENT_EDIT_MINUTES + 1)
    monkeypatch.setattr(services, "utcnow", lambda: later)
    assert f"/comments/{comment.id}/edit" not in page_of(client, document)
    assert client.get(f"/comments/{comment.id}/edit").status_code == 403
    late = post(client, f"/comments/{comment.id}/edit", source="Late words kept")
    assert late.status_code == 403
    assert "Late words kept" in late.get_data(as_text=True)
    assert stored_comments(document)[0].source == "Better remark"


def test_only_the_author_may_edit(
    client: FlaskClient,
    login_as: Callable[..., User],
    make_user: MakeUser,
    make_document: MakeDocument,
) -> None:
    document = make_document()
    comment = comment_as(make_user("industry"), document, "Not yours")
    login_as("industry")
    assert client.get(f"/comments/{comment.id}/edit").status_code == 403
    assert post(client, f"/comments/{comment.id}/edit", source="Mine now").status_code == 403
    assert stored_comments(document)[0].source == "Not yours"


def test_oversize_edit_is_refused_with_the_text_kept(
    client: FlaskClient, login_as: Callable[..., User], make_document: MakeDocument
) -> None:
    author = login_as("industry")
    document = make_document()
    comment = comment_as(author, document, "Short")
    long_text = "z" * (MAX_COMMENT_LENGTH + 10)
    response = post(client, f"/comments/{comment.id}/edit", source=long_text)
    assert response.status_code == 400 and long_text in response.get_data(as_text=True)


# -- Flags -----------------------------------------------------------------------------------


def test_participant_flags_a_comment_once(
    client: FlaskClient,
    login_as: Callable[..., User],
    make_user: MakeUser,
    make_document: MakeDocument,
) -> None:
    document = make_document(visibility="participants")
    comment = comment_as(make_user("industry"), document, "Questionable remark")
    flagger = login_as("civil_society")
    assert post(client, f"/comments/{comment.id}/flag", reason="Off topic").status_code == 302
    again = post(client, f"/comments/{comment.id}/flag", reason="Still off topic")
    assert again.status_code == 409 and "already flagged" in again.get_data(as_text=True)
    flags = list(db.session.scalars(select(CommentFlag)))
    assert [(f.user_id, f.reason) for f in flags] == [(flagger.id, "Off topic")]
    assert "You flagged this comment" in page_of(client, document)
    assert len(events("comment.flag")) == 1


def test_flag_rules(make_user: MakeUser, make_document: MakeDocument) -> None:
    author, other = make_user("industry"), make_user("government", "DE")
    comment = comment_as(author, make_document(), "Remark")
    assert not can_flag_comment(author, comment)  # not one's own
    assert can_flag_comment(other, comment)
    flag_comment(other, comment, "Please look")
    db.session.commit()
    assert not can_flag_comment(other, comment)
    with pytest.raises(CommentConflict):
        flag_comment(other, comment)
    with pytest.raises(InvalidComment):
        flag_comment(make_user("civil_society"), comment, "r" * 501)


# -- Moderation ------------------------------------------------------------------------------


def test_hidden_comment_leaves_a_placeholder_and_only_the_secretariat_reads_it(
    client: FlaskClient, make_user: MakeUser, make_document: MakeDocument
) -> None:
    document = make_document(visibility="public")
    author = make_user("industry")
    comment = comment_as(author, document, "Rude remark")
    comment_as(make_user("civil_society"), document, "Kind reply", comment)
    reader = make_user("civil_society")
    flag_comment(reader, comment, "Insulting")
    db.session.commit()
    secretariat = make_user("secretariat")

    assert sign_in(client, secretariat.email).status_code == 302
    assert post(client, f"/comments/{comment.id}/hide", reason="").status_code == 400
    hidden = post(client, f"/comments/{comment.id}/hide", reason="Personal attack")
    assert hidden.status_code == 302
    page = page_of(client, document)
    assert "This comment was hidden by the secretariat: Personal attack" in page
    assert "Rude remark" in page
    assert f"/comments/{comment.id}/restore" in page
    db.session.expire_all()
    assert all(flag.resolved_at is not None for flag in comment.flags)
    [event] = events("comment.hide")
    assert event.details["reason"] == "Personal attack" and event.details["flags_resolved"] == 1

    for viewer in (None, author, reader):
        client.post("/auth/sign-out", data={"csrf_token": token(client)})
        if viewer is not None:
            assert sign_in(client, viewer.email).status_code == 302
        page = page_of(client, document)
        assert "This comment was hidden by the secretariat: Personal attack" in page
        assert "Rude remark" not in page
        assert "Kind reply" in page
        assert f"/comments/{comment.id}/edit" not in page
    assert post(client, f"/comments/{comment.id}/restore").status_code == 403

    client.post("/auth/sign-out", data={"csrf_token": token(client)})
    assert sign_in(client, secretariat.email).status_code == 302
    assert post(client, f"/comments/{comment.id}/restore").status_code == 302
    assert post(client, f"/comments/{comment.id}/restore").status_code == 409
    page = page_of(client, document)
    assert "Rude remark" in page and "hidden by the secretariat" not in page
    assert len(events("comment.restore")) == 1


def test_moderation_queue_lists_flagged_then_hidden_comments(
    client: FlaskClient,
    login_as: Callable[..., User],
    make_user: MakeUser,
    make_document: MakeDocument,
) -> None:
    document = make_document(visibility="government", title="Sensitive note")
    author = make_user("government", "DE")
    once = comment_as(author, document, "Flagged once")
    twice = comment_as(author, document, "Flagged twice")
    gone = comment_as(author, document, "Already hidden")
    flag_comment(make_user("government", "FR"), once, "Wrong state")
    for reason in ("Leaks a name", "Personal data"):
        flag_comment(make_user("government", "FR"), twice, reason)
    moderator = make_user("secretariat")
    hide_comment(moderator, gone, "Duplicate")
    db.session.commit()

    login_as("secretariat")
    page = client.get("/admin/comments").get_data(as_text=True)
    assert page.index("Flagged twice") < page.index("Flagged once") < page.index("Duplicate")
    assert "2 flags" in page and "1 flag" in page
    assert "Leaks a name" in page and "Personal data" in page
    assert "/admin/comments" in client.get("/admin/").get_data(as_text=True)

    response = post(client, f"/comments/{twice.id}/dismiss-flags", back="queue")
    assert response.status_code == 302 and response.location.endswith("/admin/comments")
    assert "Flagged twice" not in client.get("/admin/comments").get_data(as_text=True)
    restore_comment(moderator, gone)
    db.session.commit()


@pytest.mark.parametrize("role", ["industry", "civil_society", "government"])
def test_only_the_secretariat_moderates(
    client: FlaskClient,
    login_as: Callable[..., User],
    make_user: MakeUser,
    make_document: MakeDocument,
    role: str,
) -> None:
    document = make_document()
    comment = comment_as(make_user("industry"), document, "Remark")
    login_as(role)
    assert client.get("/admin/comments").status_code == 403
    assert post(client, f"/comments/{comment.id}/hide", reason="No").status_code == 403
    assert post(client, f"/comments/{comment.id}/dismiss-flags").status_code == 403
    assert not stored_comments(document)[0].is_hidden
    assert "/admin/comments" not in page_of(client, document)


def test_visitor_is_sent_to_sign_in_from_the_moderation_queue(client: FlaskClient) -> None:
    response = client.get("/admin/comments")
    assert response.status_code == 302 and "/auth/sign-in" in response.location


def test_moderation_rules(make_user: MakeUser, make_document: MakeDocument) -> None:
    assert can_moderate_comments(make_user("secretariat"))
    assert not can_moderate_comments(make_user("secretariat", two_factor=False))
    assert not can_moderate_comments(make_user("government", "FR"))
    comment = comment_as(make_user("industry"), make_document(), "Remark")
    with pytest.raises(AccessDenied):
        hide_comment(make_user("government", "DE"), comment, "No")
    moderator = make_user("secretariat")
    with pytest.raises(InvalidComment):
        hide_comment(moderator, comment, "   ")
    hide_comment(moderator, comment, "Off topic")
    with pytest.raises(CommentConflict):
        hide_comment(moderator, comment, "Again")
    assert not can_edit_comment(comment.author, comment, comment.created_at)


def test_comment_rules_for_approved_readers_only(
    make_user: MakeUser, make_document: MakeDocument
) -> None:
    public = make_document(visibility="public")
    government = make_document(visibility="government")
    assert not can_comment(None, public)
    assert not can_comment(make_user("industry", approved=False), public)
    assert can_comment(make_user("industry"), public)
    assert not can_comment(make_user("industry"), government)
    assert can_comment(make_user("government", "DE"), government)
    assert not can_comment(make_user("government", "DE", two_factor=False), government)


# -- Attribution -----------------------------------------------------------------------------


def test_pseudonymous_author_is_named_by_pseudonym_except_to_the_secretariat(
    client: FlaskClient, make_user: MakeUser, make_document: MakeDocument
) -> None:
    document = make_document(visibility="participants")
    author = make_user("civil_society", name="Real Person Name")
    author.attribution, author.pseudonym = Attribution.PSEUDONYM, "Night Owl"
    db.session.commit()
    comment = comment_as(author, document, "Observed practice")
    flag_comment(make_user("industry"), comment, "Check")
    db.session.commit()

    for role, state_code in (("industry", None), ("government", "DE"), ("civil_society", None)):
        client.post("/auth/sign-out", data={"csrf_token": token(client)})
        assert sign_in(client, make_user(role, state_code).email).status_code == 302
        page = page_of(client, document)
        assert "Comment by Night Owl" in page, role
        assert "Real Person Name" not in page, role

    client.post("/auth/sign-out", data={"csrf_token": token(client)})
    assert sign_in(client, make_user(Role.SECRETARIAT).email).status_code == 302
    assert "Real Person Name (published as Night Owl)" in page_of(client, document)
    assert "Real Person Name" in client.get("/admin/comments").get_data(as_text=True)
