"""Plenary pages. Each handler: load (404) -> check (403) -> act -> render."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import SelectChoice

from portal.access import (
    author_label,
    can_comment_on_minutes,
    can_manage_plenaries,
    can_read_draft_minutes,
    can_read_plenary,
    can_update_action_item,
    can_withdraw_objection,
)
from portal.clock import utcnow
from portal.extensions import db
from portal.models import (
    ActionItem,
    ActionStatus,
    MinutesComment,
    MinutesRevisionKind,
    MinutesStatus,
    Plenary,
    State,
    Visibility,
)
from portal.plenaries import actions, services
from portal.plenaries.forms import (
    ActionItemForm,
    ActionStatusForm,
    CirculateForm,
    CommentForm,
    ConfirmForm,
    MinutesForm,
    PlenaryForm,
    ResolveForm,
)
from portal.plenaries.services import InvalidPlenary, PlenaryFields, StepRefused

bp = Blueprint("plenaries", __name__, url_prefix="/plenaries")
MAX_NUMBER = 2**31 - 1


def load_plenary(number: int, *, manage: bool = False, current: bool = False) -> Plenary:
    """The plenary, or 404 if it does not exist or may not be read; 403 if `manage` is refused.

    `current`: for pages that show the minutes, adopt them first if silence adopted them
    (`services.current_plenary`).
    """
    get = services.current_plenary if current else services.get_plenary
    plenary = get(number) if 1 <= number <= MAX_NUMBER else None
    if plenary is None or not can_read_plenary(current_user, plenary):
        abort(404)
    if manage and not can_manage_plenaries(current_user):
        abort(403)
    return plenary


def load_comment(plenary: Plenary, comment_id: int) -> MinutesComment:
    """A comment on the plenary's minutes the user may read, or 404."""
    comment = db.session.get(MinutesComment, comment_id) if comment_id <= MAX_NUMBER else None
    if comment is None or comment.plenary_id != plenary.id:
        abort(404)
    if not can_read_draft_minutes(current_user, plenary):
        abort(404)
    return comment


def load_item(plenary: Plenary, item_id: int) -> ActionItem:
    """An action item of the plenary, or 404."""
    item = db.session.get(ActionItem, item_id) if item_id <= MAX_NUMBER else None
    if item is None or item.plenary_id != plenary.id:
        abort(404)
    return item


def attempt(step: Callable[[], object], form: FlaskForm | None = None) -> bool:
    """Run a service step and commit; a refused step aborts 409, bad input 400 (or form error)."""
    try:
        step()
    except StepRefused as error:
        db.session.rollback()
        abort(409, description=str(error))
    except InvalidPlenary as error:
        db.session.rollback()
        target = getattr(form, error.field, None) if error.field else None
        if target is None:
            abort(400, description=str(error))
        target.errors = [*target.errors, str(error)]
        return False
    db.session.commit()
    return True


def require_valid(form: FlaskForm) -> None:
    """400 with the form's errors if a form posted from the plenary page is invalid."""
    if not form.validate_on_submit():
        errors = [str(e) for field_errors in form.errors.values() for e in field_errors]
        abort(400, description=" ".join(errors) or None)


@bp.get("/")
def index() -> ResponseReturnValue:
    """Plenaries the user may read, newest first."""
    return render_template(
        "plenaries/index.html",
        plenaries=services.readable_plenaries(current_user),
        can_manage=can_manage_plenaries(current_user),
    )


@bp.get("/<int:number>")
def show(number: int) -> ResponseReturnValue:
    """A plenary's record, minutes with their dated life cycle, and action items."""
    plenary = load_plenary(number, current=True)
    now = utcnow()
    draft_readable = can_read_draft_minutes(current_user, plenary)
    items = plenary.action_items
    return render_template(
        "plenaries/show.html",
        plenary=plenary,
        now=now,
        today=now.date(),
        draft_readable=draft_readable,
        comments=services.minutes_comments(plenary) if draft_readable else [],
        open_objections=services.open_objections(plenary) if draft_readable else [],
        can_manage=can_manage_plenaries(current_user),
        can_comment=can_comment_on_minutes(current_user, plenary, now),
        can_withdraw=lambda c: can_withdraw_objection(current_user, c),
        name_of=lambda user: author_label(current_user, user),
        updatable={i.id for i in items if can_update_action_item(current_user, i)},
        circulate_form=CirculateForm(),
        comment_form=CommentForm(),
        confirm=ConfirmForm(),
        resolve_form=lambda c: ResolveForm(prefix=f"c{c.id}"),
        status_form=lambda i: ActionStatusForm(prefix=f"item{i.id}", status=i.status.value),
        amendments=[
            r for r in plenary.minutes_revisions if r.kind is MinutesRevisionKind.AMENDMENT
        ],
    )


def _state_choices() -> list[State]:
    return list(db.session.scalars(select(State).order_by(State.name)))


def _prepare(form: PlenaryForm, plenary: Plenary | None) -> dict[str, State]:
    """Fill in the state choices (and, on first display, the plenary's values)."""
    states = _state_choices()
    form.host_state.choices = [SelectChoice("", "None")] + [
        SelectChoice(s.code, s.name) for s in states
    ]
    form.participants.choices = [SelectChoice(s.code, s.name) for s in states]
    if plenary is not None and not form.is_submitted():
        form.process(obj=plenary)
        form.host_state.data = plenary.host_state.code if plenary.host_state else ""
        form.participants.data = [s.code for s in plenary.participants]
        form.visibility.data = plenary.visibility.value
    return {s.code: s for s in states}


def _fields(form: PlenaryForm, states: dict[str, State]) -> PlenaryFields:
    return PlenaryFields(
        number=form.number.data,
        title=form.title.data or "",
        starts_on=form.starts_on.data,
        ends_on=form.ends_on.data,
        place=form.place.data or "",
        host_state=states.get(form.host_state.data or ""),
        participants=[states[c] for c in form.participants.data or [] if c in states],
        visibility=Visibility(form.visibility.data),
        agenda_source=form.agenda_source.data or "",
        decisions_source=form.decisions_source.data or "",
    )


@bp.route("/new", methods=["GET", "POST"])
@login_required
def create() -> ResponseReturnValue:
    """Record a new plenary (the secretariat)."""
    if not can_manage_plenaries(current_user):
        abort(403)
    form = PlenaryForm()
    states = _prepare(form, None)
    if form.validate_on_submit():
        fields = _fields(form, states)
        if attempt(lambda: services.create_plenary(current_user, fields), form):
            flash(_("Plenary %(number)s was recorded.", number=fields.number), "success")
            return redirect(url_for(".show", number=fields.number))
    status = 400 if form.errors else 200
    return render_template("plenaries/edit.html", form=form, plenary=None), status


@bp.route("/<int:number>/edit", methods=["GET", "POST"])
@login_required
def edit(number: int) -> ResponseReturnValue:
    """Edit a plenary's record (the secretariat)."""
    plenary = load_plenary(number, manage=True)
    form = PlenaryForm()
    states = _prepare(form, plenary)
    if form.validate_on_submit():
        fields = _fields(form, states)
        if attempt(lambda: services.update_plenary(current_user, plenary, fields), form):
            flash(_("The plenary record was saved."), "success")
            return redirect(url_for(".show", number=plenary.number))
    status = 400 if form.errors else 200
    return render_template("plenaries/edit.html", form=form, plenary=plenary), status


@bp.route("/<int:number>/minutes/edit", methods=["GET", "POST"])
@login_required
def edit_minutes(number: int) -> ResponseReturnValue:
    """Write the draft minutes, or amend adopted ones with a reason (the secretariat)."""
    plenary = load_plenary(number, manage=True)
    form = MinutesForm()
    amending = plenary.minutes_status is MinutesStatus.ADOPTED
    if not form.is_submitted() and plenary.current_minutes is not None:
        form.source.data = plenary.current_minutes.source
    if form.validate_on_submit():
        source, reason = form.source.data or "", form.reason.data or ""

        def save() -> object:
            if amending:
                return services.amend_minutes(current_user, plenary, source, reason)
            return services.save_minutes(current_user, plenary, source)

        if attempt(save, form):
            flash(
                _("The amendment was recorded.") if amending else _("The draft was saved."),
                "success",
            )
            return redirect(url_for(".show", number=plenary.number, _anchor="minutes"))
    status = 400 if form.errors else 200
    return render_template(
        "plenaries/minutes_edit.html", form=form, plenary=plenary, amending=amending
    ), status


@bp.get("/<int:number>/minutes/draft")
def draft_minutes(number: int) -> ResponseReturnValue:
    """The current unadopted minutes, printable: only for those who may read drafts."""
    plenary = load_plenary(number)
    if (
        not can_read_draft_minutes(current_user, plenary)
        or plenary.minutes_status is MinutesStatus.ADOPTED
        or plenary.current_minutes is None
    ):
        abort(404)
    return render_template("plenaries/minutes.html", plenary=plenary, draft=True)


@bp.get("/<int:number>/minutes")
def minutes(number: int) -> ResponseReturnValue:
    """The adopted minutes with their amendments, printable."""
    plenary = load_plenary(number, current=True)
    if plenary.minutes_status is not MinutesStatus.ADOPTED:
        abort(404)
    return render_template("plenaries/minutes.html", plenary=plenary, draft=False)


@bp.post("/<int:number>/minutes/circulate")
@login_required
def circulate(number: int) -> ResponseReturnValue:
    """Circulate the draft to the delegations with a comment deadline."""
    plenary = load_plenary(number, manage=True)
    form = CirculateForm()
    require_valid(form)
    attempt(lambda: services.circulate_minutes(current_user, plenary, form.deadline.data))
    flash(_("The draft minutes were circulated to the delegations."), "success")
    return redirect(url_for(".show", number=number, _anchor="minutes"))


@bp.post("/<int:number>/minutes/adopt")
@login_required
def adopt(number: int) -> ResponseReturnValue:
    """Record the adoption of the circulated minutes."""
    plenary = load_plenary(number, manage=True)
    require_valid(ConfirmForm())
    attempt(lambda: services.adopt_minutes(current_user, plenary))
    flash(_("The minutes were adopted."), "success")
    return redirect(url_for(".show", number=number, _anchor="minutes"))


@bp.post("/<int:number>/minutes/comments")
@login_required
def comment(number: int) -> ResponseReturnValue:
    """A delegation comments on, or objects to, the circulated draft."""
    plenary = load_plenary(number)
    if not can_comment_on_minutes(current_user, plenary, utcnow()):
        abort(403)
    form = CommentForm()
    require_valid(form)
    objection = bool(form.objection.data)
    attempt(
        lambda: services.comment_on_minutes(
            current_user, plenary, form.source.data or "", objection=objection
        )
    )
    flash(
        _("Your objection was recorded.") if objection else _("Your comment was recorded."),
        "success",
    )
    return redirect(url_for(".show", number=number, _anchor="comments"))


@bp.post("/<int:number>/minutes/comments/<int:comment_id>/withdraw")
@login_required
def withdraw(number: int, comment_id: int) -> ResponseReturnValue:
    """A delegation withdraws its objection."""
    plenary = load_plenary(number)
    item = load_comment(plenary, comment_id)
    if not can_withdraw_objection(current_user, item):
        abort(403)
    require_valid(ConfirmForm())
    attempt(lambda: services.withdraw_objection(current_user, item))
    flash(_("The objection was withdrawn."), "success")
    return redirect(url_for(".show", number=number, _anchor="comments"))


@bp.post("/<int:number>/minutes/comments/<int:comment_id>/resolve")
@login_required
def resolve(number: int, comment_id: int) -> ResponseReturnValue:
    """The secretariat resolves an objection with a note."""
    plenary = load_plenary(number, manage=True)
    item = load_comment(plenary, comment_id)
    form = ResolveForm(prefix=f"c{comment_id}")
    require_valid(form)
    attempt(lambda: services.resolve_objection(current_user, item, form.note.data or ""))
    flash(_("The objection was resolved."), "success")
    return redirect(url_for(".show", number=number, _anchor="comments"))


@bp.route("/<int:number>/actions/new", methods=["GET", "POST"])
@login_required
def new_action(number: int) -> ResponseReturnValue:
    """Add an action item to a plenary (the secretariat)."""
    plenary = load_plenary(number, manage=True)
    form = ActionItemForm()
    states = {s.code: s for s in _state_choices()}
    form.owners.choices = [SelectChoice(code, s.name) for code, s in states.items()]
    if form.validate_on_submit():
        owners = [states[c] for c in form.owners.data or []]
        text, due_on = form.text.data or "", form.due_on.data
        if attempt(
            lambda: actions.create_action_item(current_user, plenary, text, owners, due_on), form
        ):
            flash(_("The action item was added."), "success")
            return redirect(url_for(".show", number=number, _anchor="action-items"))
    status = 400 if form.errors else 200
    return render_template("plenaries/action_new.html", form=form, plenary=plenary), status


@bp.post("/<int:number>/actions/<int:item_id>/status")
@login_required
def action_status(number: int, item_id: int) -> ResponseReturnValue:
    """Move an action item to a new status, with a note."""
    plenary = load_plenary(number)
    item = load_item(plenary, item_id)
    if not can_update_action_item(current_user, item):
        abort(403)
    form = ActionStatusForm(prefix=f"item{item_id}")
    require_valid(form)
    new_status, note = ActionStatus(form.status.data), form.note.data or ""
    attempt(lambda: actions.change_action_status(current_user, item, new_status, note))
    flash(_("The action item is now %(label)s.", label=new_status.label.lower()), "success")
    return redirect(url_for(".show", number=number, _anchor=f"item-{item_id}"))
