"""Secretariat administration. Every URL here is for the secretariat only (`guard`).

Each handler: load (404) -> validate the form (400) -> call a service -> commit -> redirect.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from wtforms import SelectChoice

from portal.access import Action, can, can_administer, visible_documents
from portal.admin import services
from portal.admin.forms import (
    ConfirmForm,
    FocalPointForm,
    ReasonForm,
    RoleForm,
    StateForm,
    UserFilterForm,
)
from portal.admin.services import AdminError, NewState
from portal.admin.trail import filter_args, page_of, render_trail
from portal.documents.services import InvalidTransition, get_document
from portal.extensions import db, login_manager
from portal.models import AuditEvent, Document, DocumentStatus, Role, State, User

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
def guard() -> ResponseReturnValue | None:
    """Visitors are sent to sign in; signed-in users other than the secretariat get 403."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not can_administer(current_user):
        abort(403)
    return None


def _states() -> list[State]:
    return list(db.session.scalars(select(State).order_by(State.name)))


def _state_choices(blank: str) -> list[SelectChoice]:
    return [SelectChoice("", blank)] + [SelectChoice(s.code, s.name) for s in _states()]


def _state(code: str | None) -> State | None:
    if not code:
        return None
    return db.session.scalar(select(State).where(State.code == code))


def load_user(user_id: int) -> User:
    """The account, or 404."""
    return db.get_or_404(User, user_id)


def load_document(slug: str) -> Document:
    """A document the administrator may read, or 404."""
    document = get_document(slug)
    if document is None or not can(current_user, Action.READ, document):
        abort(404)
    return document


@bp.get("/")
def index() -> ResponseReturnValue:
    """The approval queue: requests for access waiting for a decision."""
    return render_template(
        "admin/index.html",
        pending=services.pending_requests(),
        approve_form=ConfirmForm(formdata=None),
        decline_form=ReasonForm(formdata=None),
    )


@bp.get("/users")
def users() -> ResponseReturnValue:
    """Every account, filtered by role, state, status, name or email."""
    form = UserFilterForm(request.args)
    form.state.choices = _state_choices("Any state")
    if not form.validate():
        return render_template("admin/users.html", form=form, page=None), 400
    query = services.find_users(
        text=form.q.data or "",
        role=Role(form.role.data) if form.role.data else None,
        state_code=form.state.data or "",
        status=form.status.data or "",
    )
    return render_template(
        "admin/users.html",
        form=form,
        page=page_of(query),
        args=filter_args(form),
        account_status=services.account_status,
    )


def _render_user(user: User, status: int = 200, **forms: Any) -> ResponseReturnValue:
    """The account page; `forms` replace the blank forms (to show a failed one's errors)."""
    role_form = RoleForm(
        formdata=None, role=user.role.value, state=user.state.code if user.state else ""
    )
    role_form.state.choices = _state_choices("No state")
    blank: dict[str, Any] = {
        "confirm_form": ConfirmForm(formdata=None),
        "decline_form": ReasonForm(formdata=None),
        "role_form": role_form,
        "focal_form": FocalPointForm(formdata=None),
    }
    history = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.object_type == User.__name__, AuditEvent.object_id == user.id)
        .order_by(AuditEvent.sequence.desc())
        .limit(20)
    )
    return render_template(
        "admin/user.html",
        user=user,
        status=services.account_status(user),
        may_be_focal_point=services.may_be_focal_point(user),
        history=list(history),
        **(blank | forms),
    ), status


def _refused(user: User, error: AdminError, form: Any, name: str) -> ResponseReturnValue:
    """Show the account page again with the service's refusal on `form`."""
    db.session.rollback()
    field = getattr(form, error.field or "", None)
    if field is not None:
        field.errors = [*field.errors, str(error)]
    else:
        flash(str(error), "error")
    return _render_user(user, 400, **{name: form})


@bp.get("/users/<int:user_id>")
def user(user_id: int) -> ResponseReturnValue:
    """An account's details, its history, and the actions on it."""
    return _render_user(load_user(user_id))


@bp.post("/users/<int:user_id>/approve")
def approve(user_id: int) -> ResponseReturnValue:
    """Approve a request for access."""
    account = load_user(user_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.approve_account(current_user, account)
    except AdminError as error:
        return _refused(account, error, form, "confirm_form")
    db.session.commit()
    flash(_("%(name)s (%(email)s) is approved.", name=account.name, email=account.email), "success")
    return redirect(url_for(".index"))


@bp.post("/users/<int:user_id>/decline")
def decline(user_id: int) -> ResponseReturnValue:
    """Decline a request for access, with a reason."""
    account = load_user(user_id)
    form = ReasonForm()
    if not form.validate_on_submit():
        return _render_user(account, 400, decline_form=form)
    try:
        services.decline_account(current_user, account, form.reason.data or "")
    except AdminError as error:
        return _refused(account, error, form, "decline_form")
    db.session.commit()
    flash(_(
        "The request of %(name)s (%(email)s) is declined.",
        name=account.name,
        email=account.email,
    ), "success")
    return redirect(url_for(".index"))


@bp.post("/users/<int:user_id>/role")
def change_role(user_id: int) -> ResponseReturnValue:
    """Change an account's role and state; the account is signed out everywhere."""
    account = load_user(user_id)
    form = RoleForm()
    form.state.choices = _state_choices("No state")
    if not form.validate_on_submit():
        return _render_user(account, 400, role_form=form)
    try:
        services.change_role(current_user, account, Role(form.role.data), _state(form.state.data))
    except AdminError as error:
        return _refused(account, error, form, "role_form")
    db.session.commit()
    flash(_("The role is changed; the account was signed out everywhere."), "success")
    return redirect(url_for(".user", user_id=user_id))


@bp.post("/users/<int:user_id>/focal-point")
def focal_point(user_id: int) -> ResponseReturnValue:
    """Make a government user their state's focal point, or stop."""
    account = load_user(user_id)
    form = FocalPointForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.set_focal_point(current_user, account, form.focal_point.data == "yes")
    except AdminError as error:
        return _refused(account, error, form, "focal_form")
    db.session.commit()
    flash(_("The focal point is updated."), "success")
    return redirect(url_for(".user", user_id=user_id))


@bp.post("/users/<int:user_id>/deactivate")
def deactivate(user_id: int) -> ResponseReturnValue:
    """Deactivate an account; it is signed out at once."""
    account = load_user(user_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.deactivate_account(current_user, account)
    except AdminError as error:
        return _refused(account, error, form, "confirm_form")
    db.session.commit()
    flash(_("The account is deactivated and signed out."), "success")
    return redirect(url_for(".user", user_id=user_id))


@bp.post("/users/<int:user_id>/reactivate")
def reactivate(user_id: int) -> ResponseReturnValue:
    """Let a deactivated account sign in again."""
    account = load_user(user_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.reactivate_account(current_user, account)
    except AdminError as error:
        return _refused(account, error, form, "confirm_form")
    db.session.commit()
    flash(_("The account is active again."), "success")
    return redirect(url_for(".user", user_id=user_id))


@bp.route("/states", methods=["GET", "POST"])
def states() -> ResponseReturnValue:
    """The subscribing states, and a form to add one that joins."""
    form = StateForm()
    status = 200
    if form.validate_on_submit():
        new = NewState(form.code.data or "", form.name.data or "", form.joined_on.data)
        try:
            state = services.add_state(current_user, new)
        except AdminError as error:
            db.session.rollback()
            getattr(form, error.field or "code").errors.append(str(error))
        else:
            db.session.commit()
            flash(_("%(name)s (%(code)s) is added.", name=state.name, code=state.code), "success")
            return redirect(url_for(".states"))
    if request.method == "POST":
        status = 400
    return render_template("admin/states.html", form=form, states=_states()), status


def _render_documents(
    slug: str, found: Document | None, form: ReasonForm, status: int = 200
) -> ResponseReturnValue:
    withdrawn = db.session.scalars(
        select(Document)
        .where(visible_documents(current_user), Document.status == DocumentStatus.WITHDRAWN)
        .order_by(Document.title)
    )
    return render_template(
        "admin/documents.html", slug=slug, found=found, withdrawn=list(withdrawn), form=form
    ), status


@bp.get("/documents")
def documents() -> ResponseReturnValue:
    """Withdrawn documents (to restore), and finding a document by slug (to withdraw)."""
    slug = request.args.get("slug", "").strip()
    found = get_document(slug) if slug else None
    if found is not None and not can(current_user, Action.READ, found):
        found = None
    status = 404 if slug and found is None else 200
    return _render_documents(slug, found, ReasonForm(formdata=None), status)


def _document_action(slug: str, act: Any, done: str) -> ResponseReturnValue:
    document = load_document(slug)
    form = ReasonForm()
    if not form.validate_on_submit():
        return _render_documents(slug, document, form, 400)
    try:
        act(current_user, document, form.reason.data or "")
    except AdminError as error:
        abort(400, description=str(error))
    except InvalidTransition as error:
        abort(409, description=str(error))
    db.session.commit()
    if done == "withdrawn":
        flash(_("“%(title)s” is withdrawn.", title=document.title), "success")
    else:
        flash(_("“%(title)s” is restored.", title=document.title), "success")
    return redirect(url_for(".documents"))


@bp.post("/documents/<slug>/withdraw")
def withdraw_document(slug: str) -> ResponseReturnValue:
    """Withdraw a document, with a reason."""
    return _document_action(slug, services.withdraw, "withdrawn")


@bp.post("/documents/<slug>/restore")
def restore_document(slug: str) -> ResponseReturnValue:
    """Restore a withdrawn document, with a reason."""
    return _document_action(slug, services.restore, "restored")


@bp.get("/audit")
def audit() -> ResponseReturnValue:
    """The whole audit trail, newest first, filterable."""
    return render_trail("admin.audit")
