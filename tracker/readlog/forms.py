"""Filters of the access log and the day of the unusual access report (query string)."""

from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.validators import Optional

from tracker.forms import options
from tracker.readlog.models import INTERFACES


class AccessLogFilterForm(FlaskForm):
    class Meta:
        csrf = False

    user = StringField("Reader (e-mail)", validators=[Optional()])
    case_number = StringField("Case number", validators=[Optional()])
    interface = SelectField(
        "Interface",
        choices=options([("", "Any interface")] + [(i, i) for i in INTERFACES]),
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


class UnusualAccessForm(FlaskForm):
    class Meta:
        csrf = False

    day = DateField("Day", validators=[Optional()])
