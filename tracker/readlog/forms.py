"""Filters of the access log and the day of the unusual access report (query string)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.validators import Optional

from tracker.forms import options
from tracker.listing import LogFilterForm
from tracker.readlog.models import INTERFACES


class AccessLogFilterForm(LogFilterForm):
    PERSON_FIELD = "user"
    CHOICE_FIELD = "interface"

    user = StringField("Reader (e-mail)", validators=[Optional()])
    interface = SelectField(
        _l("Interface"),
        choices=options([("", _l("Any interface"))] + [(i, i) for i in INTERFACES]),
        validators=[Optional()],
    )


class UnusualAccessForm(FlaskForm):
    class Meta:
        csrf = False

    day = DateField(_l("Day"), validators=[Optional()])
