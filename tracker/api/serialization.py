"""The API's JSON: petitions and history entries out; request bodies, filters and cursors in.

People are named by e-mail, dates are ISO 8601 (``2024-12-31``), time stamps RFC 3339 in
UTC (``2026-01-31T14:05:09.123456Z``). Request bodies are read here (JSON, nesting, text a
database can store) and checked by the models of ``tracker.api.bodies``.
"""

import base64
import binascii
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal

from flask import Response, current_app, json, request, url_for
from flask_babel import gettext as _
from pydantic_core import to_json
from werkzeug.exceptions import UnsupportedMediaType

from tracker import clock, permissions
from tracker.api.problems import MalformedRequest
from tracker.audit.services import json_value
from tracker.auth.models import User
from tracker.errors import ValidationFailed
from tracker.petitions import filters
from tracker.petitions.fields import DATE_FIELDS, DECIMAL_FIELDS, NUL_CHARACTER
from tracker.petitions.filters import QueueFilters
from tracker.petitions.models import EDITABLE_FIELDS, Petition

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


def _editable_values(petition: Petition) -> dict:
    # The loaded columns sit in the instance's __dict__: read there, a page of petitions skips
    # the attribute descriptor per field (getattr only for one not loaded, which loads it).
    loaded = petition.__dict__
    document = {}
    for name, write in EDITABLE_WRITERS:
        value = loaded[name] if name in loaded else getattr(petition, name)
        document[name] = value if write is None or value is None else write(value)
    return document


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
        # clock.days_between with this writer's zone and today: calendar days in the
        # display time zone, to ``end`` or to today.
        end_day = end.astimezone(self.zone).date() if end is not None else self.today
        return (end_day - start.astimezone(self.zone).date()).days

    def write(self, petition: Petition) -> dict:
        document = {"case_number": petition.case_number}
        document.update(_editable_values(petition))
        assignee = petition.assignee if self.shows_assignee else None
        due_on = petition.referral_due_on
        document.update(
            stage=petition.stage,
            waiver_approved=petition.waiver_approved_at is not None,
            organization=petition.organization.name,
            advocate=petition.advocate.email,
            assignee=assignee.email if assignee is not None else None,
            version=petition.version,
            created_at=timestamp(petition.created_at),
            updated_at=timestamp(petition.updated_at),
            received_at=timestamp(petition.received_at),
            stage_entered_at=timestamp(petition.stage_entered_at),
            # Petition.days_pending and days_in_stage, on this writer's clock.
            days_pending=self._days(petition.received_at, petition.decided_at),
            days_in_stage=self._days(petition.stage_entered_at),
            information_request=information_request_json(petition.information_request),
            information_provided=petition.information_provided,
            # Petition.referral_overdue, on this writer's clock.
            referral_overdue=(due_on is not None and due_on < self.today)
            if self.shows_referrals
            else None,
            # How the case ended and what a grant gave (null while open; the relief's details
            # null unless it has them).
            disposition=petition.disposition,
            relief=petition.relief,
            commuted_sentence=petition.commuted_sentence,
            new_release_date=_plain(petition.new_release_date),
            remission_amount=json_value(petition.remission_amount),
            terms=petition.relief_terms,
        )
        return {name: document[name] for name in PETITION_FIELDS}


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


def information_request_json(request) -> dict | None:
    """The case's latest information request, open or answered (null when none)."""
    if request is None:
        return None
    return {
        "asked": request.asked,
        "asked_by": request.asked_by.email,
        "asked_at": timestamp(request.asked_at),
        "due_on": request.due_on.isoformat(),
        "answered_at": timestamp(request.answered_at),
        "response": request.response,
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
