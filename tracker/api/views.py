"""The JSON API, /api/v1: thin views over the same services and rules as the pages.

Each view reads the request, calls one service and answers JSON (the request pipeline,
``tracker.pipeline``, commits the work of those marked ``@writes``); every
refusal is a problem+json document (see ``tracker.api.problems``). Authentication is a
personal bearer token (``tracker.api.auth``); the description of the API is at
/api/v1/openapi.json, and readable at /api/v1/docs.
"""

import functools
import re
from types import SimpleNamespace

from flask import Blueprint, g, jsonify, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import Select, bindparam, select, tuple_
from sqlalchemy.orm import joinedload
from werkzeug.exceptions import PreconditionRequired, UnsupportedMediaType

from tracker import clock, permissions, pipeline
from tracker.api import auth, bodies, openapi, problems, serialization
from tracker.audit.models import AuditEntry
from tracker.deadlines import services as deadlines
from tracker.deadlines.models import InformationRequest, Referral
from tracker.errors import DomainError, NotFound, ValidationFailed
from tracker.extensions import db
from tracker.forms import parse_id
from tracker.kept import Kept
from tracker.petitions import importing, petitioners, queries, services
from tracker.petitions.fields import CASE_NUMBER
from tracker.petitions.models import Petition
from tracker.readlog import services as readlog
from tracker.statistics import queries as statistics_queries
from tracker.workflow import get_transition

blueprint = Blueprint("api", __name__, url_prefix=auth.API_PREFIX)
blueprint.before_app_request(auth.shield_api_requests)
blueprint.before_request(auth.require_token)
blueprint.before_request(
    auth.check_query(
        {
            "api.list_petitions": (*serialization.FILTER_NAMES, "limit", "cursor"),
            "api.list_notifications": ("limit", "cursor", "unread"),
            "api.statistics": ("fiscal_year",),
            "api.public_statistics": ("fiscal_year",),
        }
    )
)
problems.register(blueprint)


class VersionNotNamed(DomainError):
    """An If-Match header that names no version of the case at all."""

    status = 412


# --- helpers ------------------------------------------------------------------------------------


#: What a petition's JSON shows beyond the case row, its organization and advocate, loaded in
#: the same query (a case has a handful of information requests at most; its referrals are
#: not read: the overdue flag is the case's own referral_due_on).
PETITION_JSON_LOADS = (
    joinedload(Petition.assignee),
    joinedload(Petition.information_requests).joinedload(InformationRequest.asked_by),
)


#: A case as a row of what its JSON shows (``serialization.petition_rows``), in one query
#: built once: GET /petitions/<case> reads no petition, user or request objects.
CASE_ROW = serialization.petition_rows(
    select(Petition).where(Petition.case_number == bindparam("case_number"))
)


#: What a case's history needs of the case: its id, and what the object-level check and the
#: read log read.
CASE_KEYS = select(Petition.id, Petition.organization_id, Petition.assignee_id).where(
    Petition.case_number == bindparam("case_number")
)


def _visible_row(statement, case_number: str):
    """The case as a row of ``statement`` (CASE_ROW, CASE_KEYS) if the caller may see it,
    else None: the caller then asks ``_petition``, whose service gives every case view's
    answer to a missing case or another organization's, and audits the refusal (the same
    work for both)."""
    if not CASE_NUMBER.match(case_number):
        return None
    # Core on the session's connection: the result's description is kept with the compiled
    # statement, where the session's ORM execution makes it and a processor per column anew
    # on every call (on SQLite 2.5 times the cost of the case's 60-column row).
    row = db.session.connection().execute(statement, {"case_number": case_number}).one_or_none()
    if row is None or not permissions.can_view_petition(g.api_user, row):
        return None
    return row


def _petition(case_number: str, loads=()) -> Petition:
    """The caller's case by number; 404 when there is none or it is another organization's."""
    if not CASE_NUMBER.match(case_number):
        raise NotFound(_("No case %(case)s.", case=case_number))
    return services.get_visible_petition(g.api_user, case_number, loads=loads)


def _petition_response(petition: Petition, status: int = 200):
    """The petition as JSON with its version as the ETag.

    Built by the view, before the pipeline commits: the commit expires the petition, and
    reading it again afterwards could show (and name the ETag of) a change another request
    committed in between, e.g. a grant answered with the stage of the reopen that followed.
    """
    return _case_response(
        serialization.petition_json(petition, g.api_user), petition.version, status
    )


def _case_response(document: dict, version: int, status: int = 200):
    """A case's JSON with its version as the ETag."""
    response = serialization.json_response(document, status)
    response.set_etag(str(version))
    return response


def _expected_version(petition: Petition, *, required: bool) -> int | None:
    """The version named by If-Match (the ETag we gave); None for '*' or, if allowed, none."""
    if not request.headers.get("If-Match"):
        if required:
            raise PreconditionRequired(
                f'Send If-Match with the version you read (ETag "{petition.version}").'
            )
        return None
    if request.if_match.star_tag:
        return None
    tags = request.if_match.as_set()
    if any(tag and re.fullmatch(r"-?[0-9]{1,9}", tag) and int(tag) < 1 for tag in tags):
        # Versions start at 1; a lower one is a malformed request, not a stale read.
        raise problems.MalformedRequest(
            _(
                'If-Match names a version below 1; send the ETag of case %(case)s ("%(version)s").',
                case=petition.case_number,
                version=petition.version,
            )
        )
    versions = {
        int(tag) for tag in tags if tag and tag.isascii() and tag.isdigit() and len(tag) <= 9
    }
    if not versions:
        raise VersionNotNamed(
            _(
                'If-Match names no version of case %(case)s; send its ETag ("%(version)s").',
                case=petition.case_number,
                version=petition.version,
            )
        )
    # Several tags: the request holds if any is current; the service re-checks under lock.
    return petition.version if petition.version in versions else max(versions)


def _refuse_unknown_fields(body: dict, known: tuple[str, ...]) -> None:
    unknown = {name: _("Unknown field.") for name in body if name not in known}
    if unknown:
        raise ValidationFailed(unknown)


# --- petitions ----------------------------------------------------------------------------------


@blueprint.get("/petitions")
def list_petitions():
    """The cases the caller may see, oldest first, filtered, a page at a time."""
    filters = serialization.queue_filters(g.api_user, request.args)
    limit = serialization.page_limit(request.args.get("limit"))
    position = None
    if request.args.get("cursor"):
        position = serialization.decode_cursor(request.args["cursor"])
    rows = _list_rows(g.api_user, filters, limit, position)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = serialization.encode_cursor(rows[-1])
    writer = serialization.PetitionWriter(g.api_user)
    return serialization.json_response(
        {"items": [writer.write_row(row._mapping) for row in rows], "next_cursor": next_cursor}
    )


#: List pages' statements kept by ``_list_rows``.
_kept_lists = Kept()
#: A page after a cursor: the cursor's (created_at, id), bound when the statement is run.
_AFTER_CURSOR = tuple_(Petition.created_at, Petition.id) > tuple_(
    bindparam("after_created_at", type_=Petition.created_at.type),
    bindparam("after_id", type_=Petition.id.type),
)


def _list_rows(viewer, filters, limit: int, position) -> list:
    """A list page's rows (``serialization.queue_rows``: what the JSON shows, in one query),
    after ``position`` (a cursor's (created_at, id)) if given, one more than ``limit``.

    Building the statement of 60 columns and five joins, and SQLAlchemy's cache key of it,
    cost as much as writing its rows: a staff member's unsearched list is kept per process,
    keyed by the filters, the viewer's permissions and the day, as the web queue's first
    pages are (``queries.web_queue_page``), its cursor a bound parameter. Kept only when any
    staff member with those permissions would be shown the same: no search, no "assigned to
    me", no organization of the viewer's; the statement holds the filters' values, never a
    row.
    """
    parameters = {}
    if position is not None:
        parameters = {"after_created_at": position[0], "after_id": position[1]}

    def build() -> Select:
        statement = serialization.queue_rows(queries.queue_query(viewer, filters, load_flags=False))
        if position is not None:
            statement = statement.where(_AFTER_CURSOR)
        return statement.limit(limit + 1)

    kept = (
        permissions.can_view_all_petitions(viewer)
        and filters.q is None
        and filters.assignee != "me"
    )
    if not kept:
        return db.session.execute(build(), parameters).all()
    key = (
        filters,
        permissions.can_view_assignee(viewer),
        permissions.can_view_referrals(viewer),
        limit,
        position is None,
        db.session.get_bind().dialect.name,
        clock.today(),
    )
    # Read through the session's connection (Core): the kept statement is its compiled
    # form's own, and Core reads its rows faster than the ORM does.
    return db.session.connection().execute(_kept_lists.get(key, build), parameters).all()


@blueprint.post("/petitions")
@pipeline.writes
def create_petition():
    """An advocate submits a petition for their organization: 201 with its Location."""
    permissions.require(permissions.can_submit_petition, g.api_user)
    values = bodies.petition_values(bodies.PetitionCreate)
    petition = services.submit_petition(g.api_user, values)
    response = _petition_response(petition, 201)
    response.headers["Location"] = url_for("api.get_petition", case_number=petition.case_number)
    return response


@blueprint.get("/petitions/<case_number>")
def get_petition(case_number):
    """One case, with its version as the ETag (the read is logged)."""
    row = _visible_row(CASE_ROW, case_number)
    if row is None:
        petition = _petition(case_number, PETITION_JSON_LOADS)
        readlog.record_read("case_api", petition)
        return _petition_response(petition)
    readlog.record_read("case_api", row)
    return _case_response(
        serialization.PetitionWriter(g.api_user).write_row(row._mapping), row.version
    )


@blueprint.patch("/petitions/<case_number>")
@pipeline.writes
def update_petition(case_number):
    """Change some fields; If-Match must carry the version read (412 if it is stale)."""
    petition = _petition(case_number)
    expected_version = _expected_version(petition, required=True)
    permissions.require(permissions.can_edit_petition, g.api_user, petition)
    values = bodies.petition_values(bodies.PetitionPatch)
    services.update_petition(petition, g.api_user, values, expected_version)
    return _petition_response(petition)


@blueprint.post("/petitions/<case_number>/transitions")
@pipeline.writes
def transition_petition(case_number):
    """Take a workflow action; 403 for a role that may not, 409 from the wrong stage."""
    petition = _petition(case_number)
    body = bodies.read(bodies.TransitionRequest)
    expected_version = _expected_version(petition, required=False)
    services.apply_transition(
        petition,
        g.api_user,
        body.action,
        body.reason,
        expected_version,
        body.outcome(),
        **body.extra(),
    )
    return _petition_response(petition)


@blueprint.get("/petitions/<case_number>/related")
def related_petitions(case_number):
    """The petitioner's other petitions the caller may see (an advocate: their
    organization's), oldest first, each with its stage (its outcome once decided)."""
    petition = _petition(case_number)
    related = petitioners.related_petitions(petition, g.api_user)
    return {"items": [serialization.related_json(other) for other in related]}


@functools.cache
def _staff_history() -> Select:
    """A case's whole history (staff's rule) as the JSON's rows, the case a parameter
    (``petition_id``): built once per process, as building the statement and its cache key
    cost about a tenth of the answer."""
    return serialization.history_rows(queries._history_statement(bindparam("petition_id"), True))


@functools.cache
def _staff_history_by_number() -> Select:
    """A case's whole history (staff's rule) as the JSON's rows, each with the case's keys
    (what the object-level check and the read log read), the case a parameter by number
    (``case_number``): one statement where reading the case's keys and then its history
    were two. A case's history has at least its submission, so no row means no such case."""
    return (
        serialization.history_rows(queries._history_statement(Petition.id, True))
        .add_columns(
            Petition.id.label("case_id"),
            Petition.organization_id.label("case_organization_id"),
            Petition.assignee_id.label("case_assignee_id"),
        )
        .join(Petition, Petition.id == AuditEntry.petition_id)
        .where(Petition.case_number == bindparam("case_number"))
    )


def _staff_history_response(case_number: str):
    """The history of a case the caller (staff) may see in one statement, or None: the
    caller then takes the general path, which answers a missing or refused case."""
    if not CASE_NUMBER.match(case_number):
        return None
    rows = (
        db.session.connection()
        .execute(_staff_history_by_number(), {"case_number": case_number})
        .all()
    )
    if not rows:
        return None
    case = SimpleNamespace(
        id=rows[0].case_id,
        organization_id=rows[0].case_organization_id,
        assignee_id=rows[0].case_assignee_id,
    )
    if not permissions.can_view_petition(g.api_user, case):
        return None
    readlog.record_read("history_api", case)
    return serialization.json_response({"items": serialization.history_rows_json(rows)})


@blueprint.get("/petitions/<case_number>/history")
def petition_history(case_number):
    """The case's audit entries the caller may see, oldest first."""
    internal = permissions.can_view_internal_history(g.api_user)
    answer = _staff_history_response(case_number) if internal else None
    if answer is not None:
        return answer
    petition = _visible_row(CASE_KEYS, case_number) or _petition(case_number)
    readlog.record_read("history_api", petition)
    if internal:
        # Staff see every entry as it is: rows of what the JSON shows, no entry objects.
        rows = db.session.connection().execute(_staff_history(), {"petition_id": petition.id})
        items = serialization.history_rows_json(rows)
    else:
        # An advocate's entries pass through the advocate rule (queries.timeline).
        items = serialization.history_json(queries.timeline(petition, g.api_user), g.api_user)
    return serialization.json_response({"items": items})


@blueprint.get("/petitions/<case_number>/recommendations")
def list_recommendations(case_number):
    """The case's recommendations, oldest first (staff only: 403 for advocates)."""
    petition = _petition(case_number)
    permissions.require(permissions.can_recommend, g.api_user)
    return {"items": [serialization.recommendation_json(r) for r in petition.recommendations]}


@blueprint.post("/petitions/<case_number>/recommendations")
@pipeline.writes
def add_recommendation(case_number):
    """Record a recommendation on a case under review: 201; 403 for advocates, 409 when the
    case is not under review, 422 naming a bad member."""
    petition = _petition(case_number)
    permissions.require(permissions.can_recommend, g.api_user)
    body = bodies.read(bodies.RecommendationRequest)
    recommendation = services.add_recommendation(
        petition, g.api_user, body.recommendation, body.memo
    )
    return serialization.recommendation_json(recommendation), 201


# --- referrals (staff only) --------------------------------------------------------------------


@blueprint.get("/petitions/<case_number>/referrals")
def list_referrals(case_number):
    """The case's referrals, oldest first; 403 for an advocate."""
    petition = _petition(case_number)  # another organization's case: 404 first
    permissions.require(permissions.can_view_referrals, g.api_user)
    return {"items": [serialization.referral_json(r) for r in petition.referrals]}


@blueprint.post("/petitions/<case_number>/referrals")
@pipeline.writes
def create_referral(case_number):
    """Refer the case to an agency: 201 with the referral."""
    petition = _petition(case_number)
    permissions.require(permissions.can_view_referrals, g.api_user)
    body = bodies.read(bodies.ReferralCreate)
    referral = deadlines.open_referral(petition, g.api_user, body.model_dump(exclude_unset=True))
    return serialization.referral_json(referral), 201


@blueprint.patch("/referrals/<int:id>")
@pipeline.writes
def update_referral(id):  # noqa: A002  (the issue's URL names it {id})
    """Answer or extend a referral; 404 when there is none."""
    permissions.require(permissions.can_view_referrals, g.api_user)
    referral = db.session.get(Referral, id) if id < 2**31 else None
    if referral is None:
        raise NotFound(_("No referral %(number)s.", number=id))
    petition = db.session.get(Petition, referral.petition_id)
    body = bodies.read(bodies.ReferralPatch)
    deadlines.change_referral(referral, petition, g.api_user, body.model_dump(exclude_unset=True))
    return serialization.referral_json(referral)


# --- bulk ---------------------------------------------------------------------------------------


def _uploaded_file() -> bytes:
    """The import's file: the body (CSV or .xlsx) or a multipart upload's field 'file'."""
    if request.mimetype in ("text/csv", importing.XLSX_MEDIA_TYPE):
        return request.get_data(cache=False)
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            message = _("Attach the CSV or .xlsx file as the form field 'file'.")
            raise ValidationFailed({"file": message})
        return upload.read()
    raise UnsupportedMediaType(
        "Send the CSV (Content-Type: text/csv) or the .xlsx workbook (Content-Type: "
        f"{importing.XLSX_MEDIA_TYPE}) as the body, or either as the field 'file' of a "
        "multipart/form-data upload."
    )


@blueprint.post("/petitions/import")
@pipeline.writes
def import_petitions():
    """An advocate imports a CSV or .xlsx file of petitions, all or nothing: 201 with the case
    numbers."""
    permissions.require(permissions.can_submit_petition, g.api_user)
    rows = importing.read_file(_uploaded_file())
    case_numbers = services.import_petitions(g.api_user, rows)
    return {"imported": len(case_numbers), "case_numbers": case_numbers}, 201


def _selected_versions(body: bodies.DecisionRequest) -> dict[str, int | None]:
    """The cases a decision is for: {case number: version expected, or None for any}."""
    selector = body.selector()
    if selector == "case_numbers":
        return dict.fromkeys(body.case_numbers)
    if selector == "versions":
        return dict(body.versions)
    selection = body.filter
    _refuse_unknown_fields(selection, serialization.FILTER_NAMES)
    filters = serialization.queue_filters(g.api_user, selection)
    matching = queries.queue_query(g.api_user, filters).with_only_columns(Petition.case_number)
    case_numbers = db.session.scalars(matching.limit(services.MAX_BULK_DECISIONS + 1)).all()
    return dict.fromkeys(case_numbers)


@blueprint.post("/decisions")
@pipeline.writes
def decide_petitions():
    """One transition for many cases, all or nothing: 200 with each case's new version."""
    permissions.require(permissions.can_work_queue, g.api_user)
    body = bodies.read(bodies.DecisionRequest)
    versions = _selected_versions(body)
    decided = services.decide_petitions(
        g.api_user, body.action, body.reason, versions, body.outcome(), **body.extra()
    )
    stage = get_transition(body.action).target.value
    return {
        "action": body.action,
        "count": len(decided),
        "items": [
            {"case_number": number, "stage": stage, "version": version}
            for number, version in decided.items()
        ],
    }


# --- statistics (issue 14) -----------------------------------------------------------------------


@blueprint.get("/statistics")
def statistics():
    """The fiscal year's counts per kind, as the Office of the Pardon Attorney publishes them
    (staff; the current fiscal year when none is named)."""
    permissions.require(permissions.can_view_statistics, g.api_user)
    year = statistics_queries.parse_fiscal_year(
        request.args.get("fiscal_year"), empty_is_current=False
    )
    return statistics_queries.year_counts(year).as_json()


@blueprint.get("/public/statistics")
def public_statistics():
    """The same counts for anyone, without a token: counts only, never a name, case number
    or organization. Limited per client address like the rest of the API."""
    year = statistics_queries.parse_fiscal_year(
        request.args.get("fiscal_year"), empty_is_current=False
    )
    return statistics_queries.public_json(year)


# --- description --------------------------------------------------------------------------------


@blueprint.get("/openapi.json")
def openapi_document():
    """The OpenAPI 3.1 description of this API (no token needed)."""
    return jsonify(openapi.document())


@blueprint.get("/docs")
def docs():
    """The same description as a readable page."""
    return render_template("api/docs.html", spec=openapi.document())


# --- notifications ------------------------------------------------------------------------------


@blueprint.get("/notifications")
def list_notifications():
    """The caller's notifications, newest first, a page at a time, with the unread count."""
    from tracker.notifications import services as notifications

    limit = serialization.page_limit(request.args.get("limit"))
    unread = request.args.get("unread")
    if unread not in (None, "true", "false"):
        raise ValidationFailed({"unread": "true or false."})
    cursor = request.args.get("cursor")
    before_id = None
    if cursor is not None:
        before_id = parse_id(cursor) if cursor.isascii() and cursor.isdigit() else None
        if before_id is None:  # ids a database integer can hold only (PostgreSQL: else a 500)
            raise problems.MalformedRequest(
                "The cursor is not one this API gave; start without it."
            )
    rows = notifications.user_notifications(
        g.api_user, limit=limit + 1, before_id=before_id, unread_only=unread == "true"
    )
    next_cursor = str(rows[limit - 1][0].id) if len(rows) > limit else None
    return {
        "items": [
            serialization.notification_json(notification, case_number)
            for notification, case_number in rows[:limit]
        ],
        "unread_count": notifications.unread_count(g.api_user),
        "next_cursor": next_cursor,
    }
