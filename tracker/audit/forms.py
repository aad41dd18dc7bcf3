"""Filters of the global audit log (read from the query string)."""

from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.validators import Optional

from tracker.audit.models import KNOWN_ACTIONS
from tracker.forms import options


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False

    actor = StringField("Actor (e-mail)", validators=[Optional()])
    case_number = StringField("Case number", validators=[Optional()])
    action = SelectField(
        "Action",
        choices=options([("", "Any action")] + [(a, a) for a in KNOWN_ACTIONS]),
        validators=[Optional()],
    )
    date_from = DateField("From", validators=[Optional()])
    date_to = DateField("To", validators=[Optional()])

    def filter_args(self) -> dict:
        """The filters as query-string arguments (for next-page and export links)."""
        return {
            name: field.raw_data[0]
            for name, field in self._fields.items()
            if field.raw_data and field.raw_data[0]
        }
