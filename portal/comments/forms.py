"""Comment forms. They carry the CSRF token and the fields; the rules are the services'."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, StringField, TextAreaField
from wtforms.validators import NumberRange, Optional

MAX_ID = 2**31 - 1


class CommentForm(FlaskForm):
    """A new comment, a reply (`parent_id`) or an edit."""

    source = TextAreaField(_l("Your comment (Markdown)"))
    parent_id = IntegerField(validators=[Optional(), NumberRange(min=1, max=MAX_ID)])


class ReasonForm(FlaskForm):
    """Flag (reason optional) or hide (reason required, checked by the service)."""

    reason = StringField(_l("Reason"))
