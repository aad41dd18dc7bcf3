"""One listing for the append-only logs, the audit log and the read log.

Both are read the same way by supervisors: filtered by a person (the actor, the reader), a
case, one column of choices (the action, the interface) and a range of days in the display
time zone; paged newest first by keyset (``before`` an id: no OFFSET, so the millionth row
costs what the first does); exported in keyset batches with constant memory, as CSV whose
cells a spreadsheet cannot run as formulas. Each log declares its ``Listing`` once
(``tracker.audit.queries.AUDIT_LOG``, ``tracker.readlog.queries.ACCESS_LOG``), its filter
form derives from ``LogFilterForm``, and its views use ``requested_page``, ``export_filters``
and ``export_response``.
"""

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Response, abort, current_app, request, stream_with_context
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload
from wtforms import DateField, StringField
from wtforms.validators import Optional

from tracker.auth.models import User
from tracker.database import begin_read_only
from tracker.extensions import db
from tracker.forms import parse_id
from tracker.petitions.models import Petition

EXPORT_BATCH_SIZE = 1000
#: Rows of CSV written between two pieces of a streamed export.
CSV_ROWS_PER_PIECE = 500


@dataclass(frozen=True)
class LogFilters:
    person: str | None = None  #: e-mail of the user the entries name (actor, reader)
    case_number: str | None = None
    choice: str | None = None  #: a value of the listing's choice column (action, interface)
    date_from: date | None = None  #: inclusive, in the display time zone
    date_to: date | None = None  #: inclusive, in the display time zone


def local_midnight(day: date) -> datetime:
    """The start of ``day`` in the display time zone."""
    zone = ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])
    return datetime.combine(day, time.min, tzinfo=zone)


@dataclass(frozen=True)
class Listing:
    """How one log is listed: its entries' model, the column naming the person, the column
    the choice filter matches, and the relationships each listed row shows."""

    model: type
    person: object  #: e.g. AuditEntry.actor_id
    choice: object  #: e.g. AuditEntry.action
    shown: tuple = ()  #: e.g. (AuditEntry.actor, AuditEntry.petition)

    def filtered(self, filters: LogFilters) -> Select | None:
        """The entries matching every filter, newest first; None when a filter names a
        person or a case that does not exist (so nothing can match)."""
        model = self.model
        statement = select(model)
        if filters.person:
            email = filters.person.strip().lower()
            user_id = db.session.scalar(select(User.id).where(User.email == email))
            if user_id is None:
                return None
            statement = statement.where(self.person == user_id)
        if filters.case_number:
            case_number = filters.case_number.strip().upper()
            petition_id = db.session.scalar(
                select(Petition.id).where(Petition.case_number == case_number)
            )
            if petition_id is None:
                return None
            statement = statement.where(model.petition_id == petition_id)
        if filters.choice:
            statement = statement.where(self.choice == filters.choice)
        if filters.date_from:
            statement = statement.where(model.created_at >= local_midnight(filters.date_from))
        if filters.date_to and filters.date_to < date.max:
            end = local_midnight(filters.date_to + timedelta(days=1))
            statement = statement.where(model.created_at < end)
        return statement.order_by(model.id.desc())

    def page(self, filters: LogFilters, before_id: int | None, per_page: int):
        """One page, newest first, starting below ``before_id``: (entries, next before_id)."""
        statement = self.filtered(filters)
        if statement is None:
            return [], None
        if before_id is not None:
            statement = statement.where(self.model.id < before_id)
        statement = statement.options(*(joinedload(r) for r in self.shown)).limit(per_page + 1)
        entries = list(db.session.scalars(statement))
        next_before = entries[per_page - 1].id if len(entries) > per_page else None
        return entries[:per_page], next_before

    def every(self, filters: LogFilters, batch_size: int = EXPORT_BATCH_SIZE):
        """Every matching entry, newest first, read in keyset batches (constant memory)."""
        before_id = None
        while True:
            entries, _ = self.page(filters, before_id, batch_size)
            yield from entries
            if len(entries) < batch_size:
                return
            before_id = entries[-1].id
            db.session.expunge_all()  # keep memory flat across batches


class LogFilterForm(FlaskForm):
    """The filters every log shares (read from the query string, or an export's form).

    A log's form adds its person field (named ``PERSON_FIELD``) and its choice field
    (``CHOICE_FIELD``): their names are the log's query-string arguments.
    """

    PERSON_FIELD = "person"
    CHOICE_FIELD = "choice"

    class Meta:
        csrf = False

    case_number = StringField(_l("Case number"), validators=[Optional()])
    date_from = DateField(_l("From"), validators=[Optional()])
    date_to = DateField(_l("To"), validators=[Optional()])

    def filters(self) -> LogFilters:
        return LogFilters(
            person=self[self.PERSON_FIELD].data or None,
            case_number=self["case_number"].data or None,
            choice=self[self.CHOICE_FIELD].data or None,
            date_from=self["date_from"].data,
            date_to=self["date_to"].data,
        )

    def filter_args(self) -> dict:
        """The filters as query-string arguments (for next-page and export links)."""
        return {
            name: field.raw_data[0]
            for name, field in self._fields.items()
            if field.raw_data and field.raw_data[0]
        }


def csv_cell(value) -> str:
    """A value as a CSV cell: JSON for structures, and text a spreadsheet shows as text."""
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    text = "" if value is None else str(value)
    # Spreadsheet formula injection: a cell starting with = + - @ is shown as text.
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def stream_csv(records: Iterable[dict], columns: tuple[str, ...]) -> Iterator[str]:
    """The records as CSV with a header row, in pieces of CSV_ROWS_PER_PIECE rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for count, record in enumerate(records, 1):
        writer.writerow([csv_cell(record[name]) for name in columns])
        if count % CSV_ROWS_PER_PIECE == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


# --- for the views ------------------------------------------------------------------------------


def requested_page(listing: Listing, form_class: type[LogFilterForm], per_page: int):
    """The page a GET asks for: filters from the query string, entries below its ``before``
    id. Returns (form, entries, next before_id)."""
    form = form_class(request.args)
    form.validate()
    before = parse_id(request.args.get("before"))
    entries, next_before = listing.page(form.filters(), before, per_page)
    return form, entries, next_before


def export_filters(form_class: type[LogFilterForm]) -> LogFilterForm:
    """An export's filter form, POSTed with a CSRF token (an export is recorded, and another
    site must not make a supervisor's browser export on its behalf); 400 when it expired."""
    form = form_class(request.form)
    if not FlaskForm().validate_on_submit():
        abort(400, _("The form expired. Reload and retry."))
    form.validate()
    return form


def export_response(listing: Listing, filters: LogFilters, stream, mimetype: str, filename: str):
    """Every matching entry, streamed as ``stream(entries)`` makes it, as a download. The
    download may be slow: it reads in a transaction that takes no write lock."""

    def entries():
        begin_read_only(db.session)
        yield from listing.every(filters)

    return Response(
        stream_with_context(stream(entries())),
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
