"""The API's JSON: petitions and history entries out; request bodies, filters and cursors in.

People are named by e-mail, dates are ISO 8601 (``2024-12-31``), time stamps RFC 3339 in
UTC (``2026-01-31T14:05:09.123456Z``). Request bodies are read here (JSON, nesting, text a
database can store) and checked by the models of ``tracker.api.bodies``.
"""

import base64
import binascii
import operator
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal

from flask import Response, current_app, json, request, url_for
from flask_babel import gettext as _
from pydantic_core import to_json
from sqlalchemy import Select, func, select
from sqlalchemy.orm import aliased
from werkzeug.exceptions import UnsupportedMediaType

from tracker import clock, permissions
from tracker.api.problems import MalformedRequest
from tracker.audit.models import AuditEntry
from tracker.audit.services import json_value
from tracker.auth.models import Organization, User
from tracker.deadlines.models import InformationRequest
from tracker.errors import ValidationFailed
from tracker.petitions import filters
from tracker.petitions.fields import DATE_FIELDS, DECIMAL_FIELDS, NUL_CHARACTER
from tracker.petitions.filters import QueueFilters
from tracker.petitions.models import (
    EDITABLE_FIELDS,
    Petition,
    information_provided,
    referral_overdue,
)
from tracker.petitions.outcomes import OUTCOME_COLUMNS

#: A petition's fields, in the order the API shows them.
PETITION_FIELDS = (
    "case_number",
    "kind",
    "stage",
    "petitioner_name",
    "register_number",
    "date_of_birth",
    "offenses",
    "sentencing_court",
    "sentence",
    "sentence_date",
    "custody_status",
    "projected_release_date",
    "grounds",
    *EDITABLE_FIELDS[11:],
    "waiver_approved",
    "organization",
    "advocate",
    "assignee",
    "version",
    "created_at",
    "updated_at",
    "disposition",
    "relief",
    "commuted_sentence",
    "new_release_date",
    "remission_amount",
    "terms",
)
#: The clocks and the information loop (issue 12), after the fields above.
PETITION_FIELDS += (
    "received_at",
    "stage_entered_at",
    "days_pending",
    "days_in_stage",
    "information_request",
    "information_provided",
    "referral_overdue",
)
#: The filters of GET /petitions, also accepted as the ``filter`` of POST /decisions.
FILTER_NAMES = filters.API.names
DEFAULT_LIMIT, MAX_LIMIT = 25, 100
MAX_QUERY_LENGTH = filters.MAX_SEARCH_LENGTH


def timestamp(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _plain(value):
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return value


def _as_cents(amount: Decimal) -> str:
    return f"{amount:.2f}"


#: The editable fields with how each is written (None: as it is): read once per field rather
#: than tested per value, as a list page writes 25 × 34 of them.
EDITABLE_WRITERS = tuple(
    (
        name,
        date.isoformat if name in DATE_FIELDS else _as_cents if name in DECIMAL_FIELDS else None,
    )
    for name in EDITABLE_FIELDS
)


#: PETITION_FIELDS from the stage on: the editable fields after the kind (their order), read
#: from a row at once, and those written otherwise than as they are (``write_row``).
_EDITABLE_AFTER_KIND = EDITABLE_FIELDS[1:]
_read_editable_after_kind = operator.itemgetter(*_EDITABLE_AFTER_KIND)
_REWRITTEN_EDITABLE = tuple((name, write) for name, write in EDITABLE_WRITERS if write is not None)


#: The petition's own columns its JSON reads (the editable fields and the others below), and
#: what the object-level check and the read log read (its organization, its assignee).
PETITION_COLUMNS = (
    *EDITABLE_FIELDS,
    "id",
    "organization_id",
    "assignee_id",
    "case_number",
    "stage",
    "waiver_approved_at",
    "version",
    "created_at",
    "updated_at",
    "decided_at",
    "received_at",
    "stage_entered_at",
    "referral_due_on",
    *OUTCOME_COLUMNS,
)
#: What the JSON shows of the case's latest information request, by the names of
#: ``PETITION_ROW_COLUMNS`` (``request_id`` null when the case has none).
REQUEST_VALUES = (
    "request_id",
    "request_asked",
    "request_asked_by",
    "request_asked_at",
    "request_due_on",
    "request_answered_at",
    "request_response",
)
_advocate, _assignee, _asker = aliased(User), aliased(User), aliased(User)
_latest_request = aliased(InformationRequest)
#: A list's petitions as rows, with exactly what their JSON shows: no petition, user or
#: request object is built for a page of 25 (``petition_rows``).
PETITION_ROW_COLUMNS = (
    *(Petition.__table__.c[name] for name in PETITION_COLUMNS),
    Organization.name.label("organization_name"),
    _advocate.email.label("advocate_email"),
    _assignee.email.label("assignee_email"),
    _latest_request.id.label("request_id"),
    _latest_request.asked.label("request_asked"),
    _asker.email.label("request_asked_by"),
    _latest_request.asked_at.label("request_asked_at"),
    _latest_request.due_on.label("request_due_on"),
    _latest_request.answered_at.label("request_answered_at"),
    _latest_request.response.label("request_response"),
)


def petition_rows(statement: Select) -> Select:
    """``statement`` (a select of petitions: its conditions and order) selecting
    ``PETITION_ROW_COLUMNS``: each petition's organization, advocate and assignee, and its
    latest information request (the highest id, as ``Petition.information_request``) with
    who asked, joined in the same query."""
    latest_id = (
        select(func.max(InformationRequest.id))
        .where(InformationRequest.petition_id == Petition.id)
        .correlate(Petition)
        .scalar_subquery()
    )
    return (
        statement.with_only_columns(*PETITION_ROW_COLUMNS)
        .select_from(Petition)
        .outerjoin(Organization, Organization.id == Petition.organization_id)
        .outerjoin(_advocate, _advocate.id == Petition.advocate_id)
        .outerjoin(_assignee, _assignee.id == Petition.assignee_id)
        .outerjoin(_latest_request, _latest_request.id == latest_id)
        .outerjoin(_asker, _asker.id == _latest_request.asked_by_id)
    )


#: Every petition's rows (``petition_rows``): their 80 columns and five joins, built once. A
#: list page adds its conditions and order to it (``queue_rows``) rather than build them again.
ALL_PETITION_ROWS = petition_rows(select(Petition))


def queue_rows(statement: Select) -> Select:
    """``petition_rows(statement)`` for a select of petitions that has only conditions and an
    order (``queries.queue_query``'s), built on ``ALL_PETITION_ROWS``: the same SQL, in half
    the time."""
    rows = ALL_PETITION_ROWS
    if statement.whereclause is not None:
        rows = rows.where(statement.whereclause)
    return rows.order_by(*statement._order_by_clauses)


def _petition_values(petition: Petition) -> dict:
    """A loaded petition by the names of ``PETITION_ROW_COLUMNS``."""
    # The loaded columns sit in the instance's __dict__ (getattr only for one not loaded).
    loaded = petition.__dict__
    values = {
        name: loaded[name] if name in loaded else getattr(petition, name)
        for name in PETITION_COLUMNS
    }
    assignee = petition.assignee
    request = petition.information_request
    values.update(
        organization_name=petition.organization.name,
        advocate_email=petition.advocate.email,
        assignee_email=assignee.email if assignee is not None else None,
    )
    if request is None:
        values.update(dict.fromkeys(REQUEST_VALUES))
    else:
        values.update(
            request_id=request.id,
            request_asked=request.asked,
            request_asked_by=request.asked_by.email,
            request_asked_at=request.asked_at,
            request_due_on=request.due_on,
            request_answered_at=request.answered_at,
            request_response=request.response,
        )
    return values


class PetitionWriter:
    """Writes petitions as one viewer may see them, at one moment.

    What the viewer may see, the display time zone and today's date are settled once, when
    the writer is made, not once per petition: a list page writes 25 petitions of 41 fields.
    """

    def __init__(self, viewer: User):
        self.shows_assignee = permissions.can_view_assignee(viewer)
        # Referrals are staff-only: an advocate always reads null.
        self.shows_referrals = permissions.can_view_referrals(viewer)
        self.zone = clock.display_zone()
        self.today = clock.today()

    def _days(self, start: datetime, end: datetime | None = None) -> int:
        return clock.calendar_days(start, end, self.zone, self.today)

    def write(self, petition: Petition) -> dict:
        """A loaded petition (its organization, advocate, assignee and information
        requests are read)."""
        return self.write_row(_petition_values(petition))

    def write_row(self, values: Mapping) -> dict:
        """A petition as one of ``petition_rows``' rows (or a mapping with their names).

        Written in PETITION_FIELDS' order as it goes (a list page writes 25 × 55 values):
        the editable fields read at once, the dates and amounts among them then rewritten in
        their places."""
        stage = values["stage"]
        stage_entered_at = values["stage_entered_at"]
        answered_at = values["request_answered_at"]
        document = {"case_number": values["case_number"], "kind": values["kind"], "stage": stage}
        document.update(zip(_EDITABLE_AFTER_KIND, _read_editable_after_kind(values), strict=True))
        for name, write in _REWRITTEN_EDITABLE:
            value = document[name]
            if value is not None:
                document[name] = write(value)
        document["waiver_approved"] = values["waiver_approved_at"] is not None
        document["organization"] = values["organization_name"]
        document["advocate"] = values["advocate_email"]
        document["assignee"] = values["assignee_email"] if self.shows_assignee else None
        document["version"] = values["version"]
        document["created_at"] = timestamp(values["created_at"])
        document["updated_at"] = timestamp(values["updated_at"])
        # How the case ended and what a grant gave (null while open; the relief's details
        # null unless it has them).
        document["disposition"] = values["disposition"]
        document["relief"] = values["relief"]
        document["commuted_sentence"] = values["commuted_sentence"]
        document["new_release_date"] = _plain(values["new_release_date"])
        document["remission_amount"] = json_value(values["remission_amount"])
        document["terms"] = values["relief_terms"]
        document["received_at"] = timestamp(values["received_at"])
        document["stage_entered_at"] = timestamp(stage_entered_at)
        # Petition.days_pending and days_in_stage, on this writer's clock.
        document["days_pending"] = self._days(values["received_at"], values["decided_at"])
        document["days_in_stage"] = self._days(stage_entered_at)
        document["information_request"] = (
            None
            if values["request_id"] is None
            else {
                "asked": values["request_asked"],
                "asked_by": values["request_asked_by"],
                "asked_at": timestamp(values["request_asked_at"]),
                "due_on": values["request_due_on"].isoformat(),
                "answered_at": timestamp(answered_at),
                "response": values["request_response"],
            }
        )
        document["information_provided"] = information_provided(
            stage, answered_at, stage_entered_at
        )
        document["referral_overdue"] = (
            referral_overdue(values["referral_due_on"], self.today)
            if self.shows_referrals
            else None
        )
        return document


def petition_json(petition: Petition, viewer: User) -> dict:
    """The petition as the viewer may see it (who works a case is for staff only)."""
    return PetitionWriter(viewer).write(petition)


def related_json(petition: Petition) -> dict:
    """Another petition of the same petitioner, in brief: what it asked and how it ended."""
    return {
        "case_number": petition.case_number,
        "kind": petition.kind,
        "stage": petition.stage,
        "created_at": timestamp(petition.created_at),
        "decided_at": timestamp(petition.decided_at),
    }


def referral_json(referral) -> dict:
    return {
        "id": referral.id,
        "agency": referral.agency,
        "agency_name": referral.agency_name,
        "sent_on": referral.sent_on.isoformat(),
        "due_on": referral.due_on.isoformat(),
        "answered_on": _plain(referral.answered_on),
        "summary": referral.summary,
        "overdue": referral.overdue,
    }


def recommendation_json(recommendation) -> dict:
    """One staff recommendation (internal)."""
    return {
        "id": recommendation.id,
        "recommendation": recommendation.recommendation,
        "memo": recommendation.memo,
        "author": recommendation.author.email,
        "created_at": timestamp(recommendation.created_at),
    }


#: What a case's history keeps from advocates in an entry's details (internal judgements).
INTERNAL_DETAILS = ("against_recommendation",)


def entry_json(entry, viewer: User | None = None) -> dict:
    """One entry of a case's history (for an advocate, without internal details)."""
    shows_internal = viewer is None or permissions.can_view_internal_history(viewer)
    return _entry_json(entry, shows_internal)


def history_json(entries, viewer: User) -> list[dict]:
    """A case's entries, as ``entry_json`` writes them (the viewer's rights settled once)."""
    shows_internal = permissions.can_view_internal_history(viewer)
    return [_entry_json(entry, shows_internal) for entry in entries]


_entry_actor = aliased(User)
#: What a history entry's JSON shows, as columns: the entry's, and its actor's e-mail.
HISTORY_COLUMNS = (
    AuditEntry.id,
    AuditEntry.action,
    AuditEntry.created_at,
    _entry_actor.email.label("actor_email"),
    AuditEntry.from_stage,
    AuditEntry.to_stage,
    AuditEntry.reason,
    AuditEntry.changes,
    AuditEntry.details,
)


def history_rows(statement: Select) -> Select:
    """``statement`` (a select of a case's audit entries: its conditions) selecting
    ``HISTORY_COLUMNS``, oldest first: no entry or user objects."""
    return (
        statement.with_only_columns(*HISTORY_COLUMNS)
        .select_from(AuditEntry)
        .outerjoin(_entry_actor, _entry_actor.id == AuditEntry.actor_id)
        .order_by(AuditEntry.id)
    )


def history_rows_json(rows) -> list[dict]:
    """The entries of ``history_rows`` as ``entry_json`` writes them for a viewer who sees
    the internal history (its details whole, and every actor as they are)."""
    return [
        {
            "id": row.id,
            "action": row.action,
            "created_at": timestamp(row.created_at),
            "actor": row.actor_email,
            "from_stage": row.from_stage,
            "to_stage": row.to_stage,
            "reason": row.reason,
            "changes": row.changes,
            "details": row.details,
        }
        for row in rows
    ]


def _entry_json(entry, shows_internal: bool) -> dict:
    details = entry.details
    if details and not shows_internal:
        details = {k: v for k, v in details.items() if k not in INTERNAL_DETAILS}
    actor = entry.actor
    return {
        "id": entry.id,
        "action": entry.action,
        "created_at": timestamp(entry.created_at),
        "actor": actor.email if actor is not None else None,
        "from_stage": entry.from_stage,
        "to_stage": entry.to_stage,
        "reason": entry.reason,
        "changes": entry.changes,
        "details": details,
    }


def json_response(document, status: int = 200) -> Response:
    """The document as an application/json response, written by pydantic-core's encoder
    (already a dependency, through pydantic) rather than the standard library's: a list
    page writes a thousand values. Keys keep the order they were written in (the
    petition's fields in PETITION_FIELDS order); text is UTF-8, not \\u-escaped."""
    return current_app.response_class(
        to_json(document) + b"\n", status=status, mimetype="application/json"
    )


# --- reading requests ---------------------------------------------------------------------------


#: How deeply a JSON body may nest objects and arrays (the body itself is level 1). No body
#: of this API needs more than 3; the limit keeps every walk over a body short and shallow.
MAX_JSON_DEPTH = 32
TOO_DEEP = f"The JSON is nested more than {MAX_JSON_DEPTH} levels deep."


def _unstorable(text: str) -> str | None:
    """Why no database column can hold this text (NUL, a lone surrogate), or None."""
    if "\x00" in text:
        return NUL_CHARACTER
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "Contains an invalid Unicode character."
    return None


def _members(value) -> list:
    if isinstance(value, dict):
        return [*value.keys(), *value.values()]
    return list(value) if isinstance(value, list) else []


def _unstorable_members(body: dict) -> dict[str, str]:
    """{member: why} for the members of the body holding unstorable text anywhere; 400 when
    the body is nested too deeply.

    A loop over an explicit stack, not recursion: no body can exhaust the interpreter's.
    """
    refused = {}
    for name, value in body.items():
        stack = [(name, 2), (value, 2)]  # the body is level 1, its members' values level 2
        while stack:
            item, depth = stack.pop()
            if isinstance(item, str):
                if (why := _unstorable(item)) is not None:
                    refused[str(name)] = why
            elif isinstance(item, dict | list):
                if depth > MAX_JSON_DEPTH:
                    raise MalformedRequest(TOO_DEEP)
                stack.extend((member, depth + 1) for member in _members(item))
    return refused


def json_object() -> dict:
    """The request body as a JSON object: 415 if not JSON, 400 if malformed or nested too
    deeply, 422 naming each member that holds text no database can store."""
    if not request.is_json:
        raise UnsupportedMediaType("Send the body as JSON (Content-Type: application/json).")
    try:
        body = json.loads(request.get_data(cache=False))
    except RecursionError:
        raise MalformedRequest(TOO_DEEP) from None
    except ValueError:
        raise MalformedRequest(_("The body is not valid JSON.")) from None
    if not isinstance(body, dict):
        raise MalformedRequest(_("The body must be a JSON object."))
    refused = _unstorable_members(body)
    if refused:
        raise ValidationFailed(dict(sorted(refused.items())))
    return body


def queue_filters(viewer: User, raw: Mapping) -> QueueFilters:
    """The list filters (stage, kind, q, assignee) of a query string or a decision's JSON
    ``filter``, read by the queue's own parser; 422 naming each invalid one.

    ``stage`` may be given several times (a list in JSON), ``pending`` naming every stage
    not yet decided; ``assignee`` is an e-mail, ``me`` or ``none``, for staff only (403).
    """
    return filters.parse(raw, viewer, filters.API)


def _is_number(text: str) -> bool:
    """ASCII digits only, and few enough to fit any integer column."""
    return text.isascii() and text.isdigit() and len(text) <= 15


def page_limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    if not _is_number(raw) or not 1 <= int(raw) <= MAX_LIMIT:
        raise ValidationFailed({"limit": f"A whole number from 1 to {MAX_LIMIT}."})
    return int(raw)


def encode_cursor(petition: Petition) -> str:
    """An opaque position after this petition in (created_at, id) order."""
    position = f"{petition.created_at.astimezone(UTC).isoformat()}|{petition.id}"
    return base64.urlsafe_b64encode(position.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, _bar, petition_id = text.partition("|")
        created_at = datetime.fromisoformat(moment)
        if created_at.tzinfo is None or not _is_number(petition_id):
            raise ValueError(text)
        return created_at.astimezone(UTC), int(petition_id)
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError):
        raise MalformedRequest(
            _("The cursor is not one this API gave; start without it.")
        ) from None


def notification_json(notification, case_number: str) -> dict:
    """One notification as the API shows it: what happened to which case, and when."""
    from tracker.notifications import services as notifications

    return {
        "id": notification.id,
        "kind": notification.kind,
        "case_number": case_number,
        "message": notifications.message_text(notification.kind, case_number),
        "url": url_for("api.get_petition", case_number=case_number),
        "created_at": timestamp(notification.created_at),
        "read_at": timestamp(notification.read_at),
    }
