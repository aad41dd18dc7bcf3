"""Filters of the global audit log (read from the query string)."""

from flask_babel import lazy_gettext as _l
from wtforms import SelectField, StringField
from wtforms.validators import Optional

from tracker.audit.models import KNOWN_ACTIONS
from tracker.forms import options
from tracker.listing import LogFilterForm


class AuditFilterForm(LogFilterForm):
    PERSON_FIELD = "actor"
    CHOICE_FIELD = "action"

    actor = StringField("Actor (e-mail)", validators=[Optional()])
    action = SelectField(
        _l("Action"),
        choices=options([("", _l("Any action"))] + [(a, a) for a in KNOWN_ACTIONS]),
        validators=[Optional()],
    )
