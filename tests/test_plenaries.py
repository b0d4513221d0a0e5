"""Plenaries: the minutes' life cycle, delegations' comments, action items, who sees what."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest
from sqlalchemy import func, select

from portal.access import AccessDenied, can_read_draft_minutes, can_read_plenary
from portal.content import load_content
from portal.extensions import db
from portal.models import (
    ActionStatus,
    AdoptionMethod,
    AuditEvent,
    MinutesRevision,
    MinutesRevisionKind,
    MinutesStatus,
    Plenary,
    Visibility,
)
from portal.plenaries.actions import change_action_status, create_action_item
from portal.plenaries.services import (
    InvalidPlenary,
    PlenaryFields,
    StepRefused,
    adopt_minutes,
    amend_minutes,
    apply_silence_procedure,
    as_utc,
    circulate_minutes,
    comment_on_minutes,
    create_plenary,
    resolve_objection,
    save_minutes,
    withdraw_objection,
)
from tests.conftest import CONTENT_DIR, csrf_token, sign_in, state

DRAFT = "Draft minutes: the plenary discussed licensing."
NOW = dt.datetime.now(dt.UTC)
LATER = NOW + dt.timedelta(days=14)


@pytest.fixture
def secretariat(make_user):
    """A secretariat account (with two-factor sign-in) acting through the services."""
    return make_user("secretariat")


def record(
    secretariat, number=7, participants=("FR", "DE"), visibility="participants", minutes=DRAFT
):
    """A plenary recorded through the services, with draft minutes."""
    plenary = create_plenary(
        secretariat,
        PlenaryFields(
            number=number,
            title=f"Plenary {number}, Paris",
            starts_on=dt.date(2024, 10, 1),
            ends_on=dt.date(2024, 10, 2),
            place="Paris",
            host_state=state(participants[0]),
            participants=[state(code) for code in participants],
            visibility=Visibility(visibility),
            agenda_source="1. Opening of the plenary",
            decisions_source="The plenary agreed a work plan.",
        ),
    )
    if minutes:
        save_minutes(secretariat, plenary, minutes)
    db.session.commit()
    return plenary


def circulated(secretariat, **kwargs):
    """A plenary whose draft is circulated with a deadline two weeks ahead."""
    plenary = record(secretariat, **kwargs)
    circulate_minutes(secretariat, plenary, LATER, now=NOW)
    db.session.commit()
    return plenary


def page(client, number=7):
    """The plenary page's text (after a 200)."""
    response = client.get(f"/plenaries/{number}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def post(client, path, data=None):
    """POST with the CSRF token from the plenary page, as the browser would send it."""
    signed_in = "Sign out" in client.get("/plenaries/").get_data(as_text=True)
    token = csrf_token(client, "/plenaries/" if signed_in else "/auth/sign-in")
    return client.post(path, data={**(data or {}), "csrf_token": token})


def audit_actions():
    """The actions recorded in the audit trail, oldest first."""
    return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.sequence)))


# -- The minutes' life cycle ---------------------------------------------------------------


def test_only_the_secretariat_drafts_circulates_and_adopts(app, secretariat, make_user):
    plenary = record(secretariat)
    delegate = make_user("government", "FR")
    with pytest.raises(AccessDenied):
        save_minutes(delegate, plenary, "My own version")
    with pytest.raises(AccessDenied):
        circulate_minutes(delegate, plenary, LATER, now=NOW)
    circulate_minutes(secretariat, plenary, LATER, now=NOW)
    with pytest.raises(AccessDenied):
        adopt_minutes(delegate, plenary, now=NOW)


def test_secretariat_records_a_plenary_and_runs_the_minutes_through_the_pages(
    app, client, login_as
):
    login_as("secretariat")
    data = {
        "number": "3",
        "title": "Third plenary, Tokyo",
        "starts_on": "2025-10-07",
        "ends_on": "2025-10-08",
        "place": "Tokyo",
        "host_state": "JP",
        "participants": ["JP", "FR", "DE"],
        "visibility": "participants",
        "agenda_source": "1. Opening",
        "decisions_source": "",
    }
    assert post(client, "/plenaries/new", data).status_code == 302
    assert post(client, "/plenaries/3/minutes/edit", {"source": DRAFT}).status_code == 302
    deadline = (NOW + dt.timedelta(days=10)).strftime("%Y-%m-%dT%H:%M")
    assert post(client, "/plenaries/3/minutes/circulate", {"deadline": deadline}).status_code == 302
    assert post(client, "/plenaries/3/minutes/adopt").status_code == 302
    text = page(client, 3)
    assert "Drafted by the secretariat" in text and "Circulated to the participating" in text
    assert "Adopted:" in text and "recorded by the secretariat" in text and DRAFT in text
    plenary = db.session.scalars(select(Plenary)).one()
    assert plenary.minutes_status is MinutesStatus.ADOPTED
    assert plenary.adoption_method is AdoptionMethod.SECRETARIAT
    assert [s.code for s in plenary.participants] == ["FR", "DE", "JP"]  # by name
    assert audit_actions()[-4:] == [
        "plenary.create", "minutes.save", "minutes.circulate", "minutes.adopt"
    ]  # fmt: skip


def test_saving_while_circulated_recalls_the_draft(app, secretariat):
    """The delegations must see the text they would adopt: a change needs a new circulation."""
    plenary = circulated(secretariat)
    save_minutes(secretariat, plenary, DRAFT + " Corrected.")
    assert plenary.minutes_status is MinutesStatus.DRAFT
    assert plenary.comment_deadline is None
    assert [r.number for r in plenary.minutes_revisions] == [1, 2]
    circulate_minutes(secretariat, plenary, LATER, now=NOW)
    assert as_utc(plenary.comment_deadline) == LATER


def test_circulating_needs_a_future_deadline(app, secretariat):
    plenary = record(secretariat)
    with pytest.raises(InvalidPlenary):
        circulate_minutes(secretariat, plenary, NOW - dt.timedelta(hours=1), now=NOW)


def test_delegations_comment_only_while_circulated_and_before_the_deadline(
    app, secretariat, make_user
):
    plenary = record(secretariat)
    delegate = make_user("government", "DE")
    with pytest.raises(AccessDenied):  # still a draft
        comment_on_minutes(delegate, plenary, "Too early", objection=False, now=NOW)
    circulate_minutes(secretariat, plenary, LATER, now=NOW)
    comment = comment_on_minutes(
        delegate, plenary, "Add *our* statement.", objection=False, now=NOW
    )
    assert comment.state.code == "DE" and "<em>our</em>" in comment.html
    with pytest.raises(AccessDenied):  # after the deadline
        comment_on_minutes(delegate, plenary, "Late", objection=True, now=LATER)


@pytest.mark.parametrize(
    ("role", "code"), [("government", "JP"), ("civil_society", None), ("industry", None)]
)
def test_non_participants_and_non_government_cannot_see_drafts_nor_comment(
    app, client, secretariat, login_as, role, code
):
    circulated(secretariat)
    login_as(role, code)
    assert DRAFT not in page(client)
    assert client.get("/plenaries/7/minutes/draft").status_code == 404
    response = post(client, "/plenaries/7/minutes/comments", {"source": "Objection!"})
    assert response.status_code == 403


def test_participating_delegation_reads_the_circulated_draft_and_comments(
    app, client, secretariat, login_as
):
    plenary = record(secretariat)
    login_as("government", "FR")
    assert DRAFT not in page(client)  # not circulated yet: the secretariat's alone
    assert client.get("/plenaries/7/minutes/draft").status_code == 404
    circulate_minutes(secretariat, plenary, LATER, now=NOW)
    db.session.commit()
    assert DRAFT in page(client)
    assert client.get("/plenaries/7/minutes/draft").status_code == 200
    response = post(client, "/plenaries/7/minutes/comments", {"source": "Fine by us."})
    assert response.status_code == 302
    assert "Fine by us." in page(client)
    assert "minutes.comment" in audit_actions()


def test_silence_procedure_adopts_after_the_deadline_when_no_objection_is_open(app, secretariat):
    plenary = circulated(secretariat)
    assert not apply_silence_procedure(plenary, NOW + dt.timedelta(days=1))
    assert plenary.minutes_status is MinutesStatus.CIRCULATED
    assert apply_silence_procedure(plenary, LATER + dt.timedelta(seconds=1))
    assert plenary.minutes_status is MinutesStatus.ADOPTED
    assert plenary.adoption_method is AdoptionMethod.SILENCE
    assert as_utc(plenary.adopted_at) == LATER
    assert audit_actions()[-1] == "minutes.adopt"


def test_open_objection_blocks_silence_and_adoption_until_withdrawn(app, secretariat, make_user):
    plenary = circulated(secretariat)
    delegate = make_user("government", "DE")
    objection = comment_on_minutes(delegate, plenary, "Item 2 is wrong.", objection=True, now=NOW)
    after = LATER + dt.timedelta(days=1)
    assert not apply_silence_procedure(plenary, after)
    with pytest.raises(StepRefused):
        adopt_minutes(secretariat, plenary, now=NOW)
    other = make_user("government", "FR")
    with pytest.raises(AccessDenied):  # only the objecting delegation withdraws it
        withdraw_objection(other, objection)
    withdraw_objection(delegate, objection)
    assert apply_silence_procedure(plenary, after)
    assert "minutes.object" in audit_actions() and "minutes.withdraw" in audit_actions()


def test_secretariat_resolves_an_objection_with_a_note_then_adopts(app, secretariat, make_user):
    plenary = circulated(secretariat)
    delegate = make_user("government", "DE")
    objection = comment_on_minutes(delegate, plenary, "Item 2 is wrong.", objection=True, now=NOW)
    with pytest.raises(InvalidPlenary):
        resolve_objection(secretariat, objection, "  ")
    with pytest.raises(AccessDenied):
        resolve_objection(delegate, objection, "I resolve it myself")
    resolve_objection(secretariat, objection, "Item 2 corrected in revision 2.")
    adopt_minutes(secretariat, plenary, now=NOW)
    assert plenary.minutes_status is MinutesStatus.ADOPTED
    assert "minutes.resolve" in audit_actions()


def test_plenary_page_applies_the_silence_procedure(app, client, secretariat):
    plenary = circulated(secretariat, visibility="public")
    plenary.comment_deadline = NOW - dt.timedelta(minutes=1)
    db.session.commit()
    assert DRAFT in page(client)  # adopted on load, so public readers now see the minutes
    db.session.expire_all()
    assert plenary.minutes_status is MinutesStatus.ADOPTED
    assert plenary.adoption_method is AdoptionMethod.SILENCE


def test_silence_command_prints_what_it_adopted(app, secretariat):
    plenary = circulated(secretariat)
    plenary.comment_deadline = NOW - dt.timedelta(minutes=1)
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["plenaries", "silence"])
    assert result.exit_code == 0 and "Adopted the minutes of plenary 7" in result.output
    again = app.test_cli_runner().invoke(args=["plenaries", "silence"])
    assert "No minutes were due" in again.output


def test_adopted_minutes_are_locked_and_amended_only_with_a_reason(
    app, client, secretariat, login_as
):
    plenary = circulated(secretariat, visibility="public")
    adopt_minutes(secretariat, plenary, now=NOW)
    db.session.commit()
    with pytest.raises(StepRefused):
        save_minutes(secretariat, plenary, "Rewritten in place")
    with pytest.raises(InvalidPlenary):
        amend_minutes(secretariat, plenary, "Amended text", reason=" ")
    login_as("secretariat")
    response = post(client, "/plenaries/7/minutes/edit", {"source": "Amended text"})
    assert response.status_code == 400 and "needs a reason" in response.get_data(as_text=True)
    response = post(
        client,
        "/plenaries/7/minutes/edit",
        {"source": "Amended text", "reason": "Germany's statement was misquoted."},
    )
    assert response.status_code == 302
    text = page(client)
    assert "Amended text" in text and "Germany&#39;s statement was misquoted." in text
    revisions = db.session.scalars(select(MinutesRevision).order_by(MinutesRevision.number)).all()
    assert [r.kind for r in revisions] == [MinutesRevisionKind.DRAFT, MinutesRevisionKind.AMENDMENT]
    assert "minutes.amend" in audit_actions()


# -- Action items --------------------------------------------------------------------------


def signed_in(app, make_user, role, code=None):
    """A new client signed in as a new user of this role (and state)."""
    browser = app.test_client()
    assert sign_in(browser, make_user(role, code).email).status_code == 302
    return browser


def test_action_item_status_history_and_who_may_change_it(app, secretariat, make_user):
    plenary = record(secretariat)
    item = create_action_item(secretariat, plenary, "Draft a template", [state("FR")])
    db.session.commit()
    path = f"/plenaries/7/actions/{item.id}/status"
    data = {f"item{item.id}-status": "in_progress", f"item{item.id}-note": "Started"}
    for role, code in [("government", "DE"), ("civil_society", None), ("industry", None)]:
        assert post(signed_in(app, make_user, role, code), path, data).status_code == 403
    assert post(app.test_client(), path, data).status_code == 302  # visitor: to sign-in
    assert post(signed_in(app, make_user, "government", "FR"), path, data).status_code == 302
    db.session.expire_all()
    assert item.status is ActionStatus.IN_PROGRESS
    assert [(c.status, c.note) for c in item.history] == [
        (ActionStatus.OPEN, "Recorded."),
        (ActionStatus.IN_PROGRESS, "Started"),
    ]
    assert all(c.changed_at is not None for c in item.history)
    change_action_status(secretariat, item, ActionStatus.DONE, "Template circulated")
    assert [c.status for c in item.history][-1] is ActionStatus.DONE
    assert audit_actions().count("action.status") == 2 and "action.create" in audit_actions()


def test_items_owed_by_the_secretariat_are_changed_by_the_secretariat_only(
    app, secretariat, make_user
):
    plenary = record(secretariat)
    item = create_action_item(secretariat, plenary, "Launch the portal", [])
    with pytest.raises(AccessDenied):
        change_action_status(make_user("government", "FR"), item, ActionStatus.DONE, "")
    with pytest.raises(InvalidPlenary):  # not a change
        change_action_status(secretariat, item, ActionStatus.OPEN, "")
    change_action_status(secretariat, item, ActionStatus.DONE, "Launched")
    assert item.status is ActionStatus.DONE


def test_overdue_items_are_marked_on_the_plenary_and_state_pages(app, client, secretariat):
    plenary = record(secretariat, visibility="public")
    yesterday = NOW.date() - dt.timedelta(days=1)
    late = create_action_item(secretariat, plenary, "Late report", [state("FR")], yesterday)
    done = create_action_item(
        secretariat, plenary, "Finished report", [state("FR")], yesterday, ActionStatus.DONE
    )
    create_action_item(secretariat, plenary, "German report", [state("DE")], NOW.date())
    db.session.commit()
    assert late.is_overdue(NOW.date()) and not done.is_overdue(NOW.date())
    text = page(client)
    assert text.count(">Overdue<") == 1
    france = client.get("/states/FR").get_data(as_text=True)
    assert "Late report" in france and ">Overdue<" in france
    assert "Finished report" not in france and "German report" not in france


def test_state_page_lists_only_items_of_plenaries_the_viewer_may_read(
    app, client, secretariat, login_as
):
    plenary = record(secretariat, visibility="government")
    create_action_item(secretariat, plenary, "Confidential follow-up", [state("FR")])
    db.session.commit()
    assert "Confidential follow-up" not in client.get("/states/FR").get_data(as_text=True)
    login_as("government", "DE")
    assert "Confidential follow-up" in client.get("/states/FR").get_data(as_text=True)


# -- Who may read a plenary ----------------------------------------------------------------

ROLES = [
    # role, state, readable visibilities
    (None, None, {"public"}),
    ("industry", None, {"public", "participants"}),
    ("civil_society", None, {"public", "participants"}),
    ("government", "FR", {"public", "participants", "government"}),  # participating
    ("government", "JP", {"public", "participants", "government"}),  # not participating
    ("secretariat", None, {"public", "participants", "government"}),
]


@pytest.mark.parametrize(("role", "code", "readable"), ROLES)
def test_plenary_visibility_for_each_role(app, client, secretariat, login_as, role, code, readable):
    for number, visibility in enumerate(["public", "participants", "government"], start=1):
        record(secretariat, number=number, visibility=visibility)
    if role:
        login_as(role, code)
    listing = client.get("/plenaries/").get_data(as_text=True)
    for number, visibility in enumerate(["public", "participants", "government"], start=1):
        expected = visibility in readable
        assert (f"Plenary {number}, Paris" in listing) is expected
        assert client.get(f"/plenaries/{number}").status_code == (200 if expected else 404)
        if expected:  # draft minutes never circulated are the secretariat's alone
            assert (DRAFT in page(client, number)) is (role == "secretariat")


def test_draft_access_rules_in_the_policy(app, secretariat, make_user):
    plenary = circulated(secretariat)
    assert can_read_draft_minutes(secretariat, plenary)
    assert can_read_draft_minutes(make_user("government", "FR"), plenary)
    assert not can_read_draft_minutes(make_user("government", "JP"), plenary)
    assert not can_read_draft_minutes(make_user("civil_society"), plenary)
    assert not can_read_draft_minutes(make_user("government", "FR", two_factor=False), plenary)
    assert not can_read_draft_minutes(None, plenary)
    assert can_read_plenary(make_user("industry"), plenary)


def test_plenaries_list_newest_first(app, client, secretariat):
    older = record(secretariat, number=1, visibility="public")
    newer = record(secretariat, number=2, visibility="public")
    older.starts_on, older.ends_on = dt.date(2023, 9, 14), dt.date(2023, 9, 15)
    db.session.commit()
    listing = client.get("/plenaries/").get_data(as_text=True)
    assert listing.index(newer.title) < listing.index(older.title)


# -- Forms: CSRF and bad input --------------------------------------------------------------


def test_every_post_needs_its_csrf_token(app, client, secretariat, login_as):
    circulated(secretariat)
    login_as("government", "FR")
    response = client.post("/plenaries/7/minutes/comments", data={"source": "No token"})
    assert response.status_code == 400 and "security token" in response.get_data(as_text=True)


def test_bad_input_gets_a_400_with_a_message(app, client, secretariat, login_as):
    record(secretariat)
    login_as("secretariat")
    data = {
        "number": "7",
        "title": "Duplicate",
        "starts_on": "2025-10-08",
        "ends_on": "2025-10-07",
        "place": "Rome",
        "participants": ["FR"],
        "visibility": "public",
    }
    response = post(client, "/plenaries/new", data)
    assert response.status_code == 400 and "already exists" in response.get_data(as_text=True)
    response = post(client, "/plenaries/new", {**data, "number": "8"})
    assert response.status_code == 400 and "end before it starts" in response.get_data(as_text=True)
    response = post(client, "/plenaries/new", {**data, "number": "x", "visibility": "secret"})
    assert response.status_code == 400
    past = (NOW - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = post(client, "/plenaries/7/minutes/circulate", {"deadline": past})
    assert response.status_code == 400 and "in the future" in response.get_data(as_text=True)
    response = post(client, "/plenaries/7/minutes/circulate", {"deadline": "soon"})
    assert response.status_code == 400
    response = post(client, "/plenaries/7/minutes/adopt")  # not circulated
    assert response.status_code == 409
    assert client.get("/plenaries/99999999999999").status_code == 404


# -- Content ---------------------------------------------------------------------------------


def test_inaugural_plenary_loads_idempotently(app, client, tmp_path):
    shutil.copytree(CONTENT_DIR / "plenaries", tmp_path / "plenaries")  # states are loaded
    first = load_content(tmp_path)
    assert first.plenaries == [(1, "created")] and not first.errors
    plenary = db.session.scalars(select(Plenary)).one()
    assert plenary.place.startswith("Washington") and plenary.host_state.code == "US"
    assert (plenary.starts_on, plenary.ends_on) == (dt.date(2023, 9, 14), dt.date(2023, 9, 15))
    assert len(plenary.participants) == 25  # every state had joined by then
    assert plenary.visibility is Visibility.PUBLIC
    assert plenary.minutes_status is MinutesStatus.ADOPTED
    assert as_utc(plenary.adopted_at).date() == dt.date(2023, 10, 20)
    assert 2 <= len(plenary.action_items) <= 3
    assert all(len(item.history) == 1 for item in plenary.action_items)
    events = len(audit_actions())
    second = load_content(tmp_path)
    assert second.plenaries == [(1, "unchanged")] and not second.errors
    assert len(audit_actions()) == events
    assert db.session.scalar(select(func.count()).select_from(MinutesRevision)) == 1
    text = page(client, 1)  # a visitor reads the adopted minutes
    assert "Illustrative example" in text and "recorded by the secretariat" in text
    assert "/documents/inaugural-plenary-washington-2023-outcome" in text


def test_the_content_command_reports_plenaries(app, tmp_path):
    shutil.copytree(CONTENT_DIR / "plenaries", tmp_path / "plenaries")
    result = app.test_cli_runner().invoke(args=["content", "load", str(tmp_path)])
    assert (
        result.exit_code == 0 and "Plenaries: 1 created, 0 updated, 0 unchanged." in result.output
    )


def test_changed_plenary_file_amends_adopted_minutes_and_moves_items(app, tmp_path):
    shutil.copytree(CONTENT_DIR / "plenaries", tmp_path / "plenaries")
    path = tmp_path / "plenaries" / "1-washington-2023.md"
    load_content(tmp_path)
    text = path.read_text()
    path.write_text(
        text.replace(
            "The agenda was adopted without", "The agenda was adopted, as circulated, without"
        ).replace("status: in_progress", "status: done")
    )
    report = load_content(tmp_path)
    assert report.plenaries == [(1, "revised")] and not report.errors
    plenary = db.session.scalars(select(Plenary)).one()
    assert plenary.current_minutes.kind is MinutesRevisionKind.AMENDMENT
    assert plenary.current_minutes.reason == "Updated from 1-washington-2023.md"
    assert all(item.status is ActionStatus.DONE for item in plenary.action_items)


def test_bad_plenary_file_is_reported_and_skipped(app, tmp_path):
    folder = tmp_path / "plenaries"
    folder.mkdir()
    (folder / "2-bad.md").write_text(
        "---\nnumber: 2\ntitle: Bad\nstarts: 2024-10-01\nends: 2024-10-02\nplace: X\n"
        "participants: [FR, ZZ]\n---\n## Agenda\n\n1. Opening\n"
    )
    result = app.test_cli_runner().invoke(args=["content", "load", str(tmp_path)])
    assert result.exit_code == 1 and "ZZ not in states.yml" in result.output
    assert db.session.scalar(select(func.count()).select_from(Plenary)) == 0


def test_silence_needs_silence_at_the_deadline_and_the_circulated_text(
    secretariat, make_user
) -> None:
    """An objection open at the deadline blocks silence even if withdrawn later; a text
    changed after circulation goes back to draft and must be circulated again."""
    delegate = make_user("government", "FR")
    plenary = circulated(secretariat)
    objection = comment_on_minutes(delegate, plenary, "We object.", objection=True, now=NOW)
    db.session.commit()
    objection.resolved_at = LATER + dt.timedelta(days=5)
    db.session.commit()
    assert not apply_silence_procedure(plenary, LATER + dt.timedelta(days=6))
    assert plenary.minutes_status is MinutesStatus.CIRCULATED

    other = circulated(secretariat, number=8)
    save_minutes(secretariat, other, "A completely different text.")
    db.session.commit()
    assert other.minutes_status is MinutesStatus.DRAFT and other.comment_deadline is None
    assert not apply_silence_procedure(other, LATER + dt.timedelta(days=1))


def test_owners_report_progress_but_only_the_secretariat_drops_an_item(
    app, secretariat, make_user
) -> None:
    """Dropping a decided action is the secretariat's; owners need two-factor sign-in."""
    plenary = record(secretariat)
    item = create_action_item(secretariat, plenary, "Draft a template", [state("FR")])
    db.session.commit()
    owner = make_user("government", "FR")
    with pytest.raises(AccessDenied):
        change_action_status(owner, item, ActionStatus.DROPPED, "Not needed")
    without_2fa = make_user("government", "FR", two_factor=False)
    with pytest.raises(AccessDenied):
        change_action_status(without_2fa, item, ActionStatus.DONE, "Done")
    change_action_status(owner, item, ActionStatus.DONE, "Done")
    change_action_status(secretariat, item, ActionStatus.DROPPED, "Superseded")
    assert item.status is ActionStatus.DROPPED
