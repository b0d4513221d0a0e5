"""Document pages. Each handler: load (404) -> check (403) -> act -> render."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import Select, select

from portal.access import Action, can
from portal.assessments.queries import responses_to
from portal.attachments.services import change_files
from portal.attachments.uploads import staged_changes
from portal.documents.diff import line_diff
from portal.documents.forms import ConfirmForm, DiffForm, DocumentForm
from portal.documents.listing import DocumentFilters, filtered_documents, paginate
from portal.documents.services import (
    EditConflict,
    InvalidDocument,
    InvalidTransition,
    create_document,
    get_document,
    restore_document,
    update_document,
    withdraw_document,
)
from portal.documents.writing import document_fields, prepare_form
from portal.extensions import db
from portal.markdown import render_markdown
from portal.models import Document, DocumentType, Revision, State

bp = Blueprint("documents", __name__, url_prefix="/documents")
MAX_REVISION_NUMBER = 2**31 - 1


def load_document(slug: str, action: Action = Action.READ) -> Document:
    """The document, or 404 if it does not exist or may not be read; 403 if `action` is refused."""
    document = get_document(slug)
    if document is None or not can(current_user, Action.READ, document):
        abort(404)
    if action is not Action.READ and not can(current_user, action, document):
        abort(403)
    return document


def load_revision(document: Document, number: int) -> Revision:
    """A revision of a readable document, or 404."""
    if not 1 <= number <= MAX_REVISION_NUMBER:
        abort(404)
    revision = db.session.scalar(
        select(Revision).where(Revision.document_id == document.id, Revision.number == number)
    )
    if revision is None:
        abort(404)
    return revision


def status_form(document: Document) -> ConfirmForm | None:
    """The withdraw/restore form, only for someone who may use it: making one starts a
    session (its CSRF token), which a visitor's page must not do (it could not be kept)."""
    if can(current_user, Action.WITHDRAW, document) or can(current_user, Action.RESTORE, document):
        return ConfirmForm()
    return None


@bp.get("/")
def index() -> ResponseReturnValue:
    """Documents the user may read, filterable by type, state and commitment."""
    filters = DocumentFilters.from_args(request.args)
    if filters.error:
        abort(400, description=filters.error)
    query: Select[tuple[Document]] = filtered_documents(current_user, filters)
    page = paginate(query)
    states = db.session.scalars(select(State).order_by(State.name)).all()
    return render_template("documents/index.html", page=page, filters=filters, states=states)


def submit_document_form(
    form: DocumentForm, save: Callable[[], str]
) -> tuple[str | None, ResponseReturnValue | None]:
    """Preview or save a validated form: (preview HTML, None) or (None, redirect to the document).

    `save` calls a service and returns the document's slug; a field error it raises is shown
    on the form and nothing is committed.
    """
    if form.preview.data:
        return render_markdown(form.source.data or ""), None
    try:
        slug = save()
    except InvalidDocument as error:
        db.session.rollback()
        getattr(form, error.field).errors.append(str(error))
        form.error_status = getattr(error, "status", 400)
        return None, None
    db.session.commit()
    return None, redirect(url_for(".show", slug=slug))


@bp.route("/new", methods=["GET", "POST"])
@login_required
def create() -> ResponseReturnValue:
    """Write a new document of a type the user may create."""
    try:
        doc_type = DocumentType(request.args.get("type", ""))
    except ValueError:
        return render_template("documents/choose_type.html")
    form = DocumentForm()
    if not prepare_form(form, current_user, doc_type):
        abort(403)

    def save() -> str:
        fields = document_fields(form, doc_type)
        files = staged_changes(form, None)
        document = create_document(
            current_user, doc_type, fields, summary=form.summary.data or "Created"
        )
        change_files(current_user, document, files, revision=document.current_revision)
        flash(_("“%(title)s” was saved.", title=document.title), "success")
        return document.slug

    preview_html = None
    if form.validate_on_submit():
        preview_html, done = submit_document_form(form, save)
        if done is not None:
            return done
    return render_template(
        "documents/edit.html",
        form=form,
        doc_type=doc_type,
        document=None,
        preview_html=preview_html,
    ), form.error_status if form.errors else 200


@bp.get("/<slug>")
def show(slug: str) -> ResponseReturnValue:
    """A document's current revision."""
    document = load_document(slug)
    return render_template(
        "documents/show.html",
        document=document,
        revision=document.current_revision,
        confirm=status_form(document),
        responses=responses_to(current_user, document),
    )


@bp.route("/<slug>/edit", methods=["GET", "POST"])
@login_required
def edit(slug: str) -> ResponseReturnValue:
    """Edit a document; a stale edit is refused with a conflict and the user's text kept."""
    document = load_document(slug, Action.EDIT)
    form = DocumentForm()
    prepare_form(form, current_user, document.type, document)

    def save() -> str:
        files = staged_changes(form, document)
        revision = update_document(
            current_user,
            document,
            document_fields(form, document.type),
            base_version=int(form.version.data or 0),
            summary=form.summary.data or "",
        )
        revision = change_files(
            current_user, document, files, revision=revision, summary=form.summary.data or ""
        )
        flash(
            _("Saved as revision %(number)s.", number=revision.number) if revision else _("Saved."),
            "success",
        )
        return document.slug

    preview_html, conflict = None, None
    if form.validate_on_submit():
        try:
            preview_html, done = submit_document_form(form, save)
        except EditConflict as error:
            conflict = document = error.document
            # Saving again after merging is a deliberate choice against the current version.
            form.version.data = str(document.version)
        else:
            if done is not None:
                return done
    status = 409 if conflict else form.error_status if form.errors else 200
    return render_template(
        "documents/edit.html",
        form=form,
        doc_type=document.type,
        document=document,
        preview_html=preview_html,
        conflict=conflict,
    ), status


@bp.post("/<slug>/withdraw")
@login_required
def withdraw(slug: str) -> ResponseReturnValue:
    """Withdraw a document."""
    document = load_document(slug, Action.WITHDRAW)
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        withdraw_document(current_user, document, form.reason.data or "")
    except InvalidTransition as error:
        abort(409, description=str(error))
    db.session.commit()
    flash(_("The document was withdrawn."), "success")
    return redirect(url_for(".show", slug=slug))


@bp.post("/<slug>/restore")
@login_required
def restore(slug: str) -> ResponseReturnValue:
    """Restore a withdrawn document."""
    document = load_document(slug, Action.RESTORE)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        restore_document(current_user, document)
    except InvalidTransition as error:
        abort(409, description=str(error))
    db.session.commit()
    flash(_("The document was restored."), "success")
    return redirect(url_for(".show", slug=slug))


@bp.get("/<slug>/history")
def history(slug: str) -> ResponseReturnValue:
    """Every revision: who, when, why; pick two to compare."""
    document = load_document(slug)
    revisions = list(reversed(document.revisions))
    return render_template("documents/history.html", document=document, revisions=revisions)


@bp.get("/<slug>/revisions/<int:number>")
def revision(slug: str, number: int) -> ResponseReturnValue:
    """One past revision, as it read then."""
    document = load_document(slug)
    return render_template(
        "documents/show.html",
        document=document,
        revision=load_revision(document, number),
        confirm=status_form(document),
    )


@bp.get("/<slug>/diff")
def diff(slug: str) -> ResponseReturnValue:
    """What changed between two revisions."""
    document = load_document(slug)
    form = DiffForm(request.args)
    if not form.validate():
        abort(400, description=_("Choose two revision numbers to compare."))
    old, new = load_revision(document, form.a.data), load_revision(document, form.b.data)
    return render_template(
        "documents/diff.html",
        document=document,
        old=old,
        new=new,
        lines=line_diff(old.source, new.source),
    )
