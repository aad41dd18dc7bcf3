"""The OpenAPI 3.1 description of /api/v1, built from the same definitions as the code.

The request bodies' schemas are generated from the pydantic models that check them
(``tracker.api.bodies``, themselves built from ``tracker.petitions.fields`` and the workflow
table); enumerations, lengths and patterns elsewhere come from the same places, so the
document cannot drift from the code. tests/test_api_openapi.py checks its paths against
the blueprint's routes and runs schemathesis against it. /api/v1/docs renders this same
document as a page.
"""

from functools import cache

from tracker.api import bodies
from tracker.api.serialization import (
    DEFAULT_LIMIT,
    MAX_JSON_DEPTH,
    MAX_LIMIT,
    MAX_QUERY_LENGTH,
    PETITION_FIELDS,
)
from tracker.deadlines.models import AGENCIES
from tracker.documents.models import (
    ACCEPTED_CONTENT_TYPES,
    DESCRIPTION_MAX_LENGTH,
    DOCUMENT_TYPES,
    DOCUMENT_VISIBILITIES,
)
from tracker.notifications.kinds import KINDS as NOTIFICATION_KINDS
from tracker.petitions.fields import (
    CASE_NUMBER_PATTERN,
    CUSTODY_STATUSES,
    EDITABLE_FIELDS,
    KINDS,
    OFFENSE_CATEGORIES,
)
from tracker.petitions.filters import DATE_FILTERS, STAGE_CHOICES
from tracker.petitions.importing import MAX_IMPORT_ROWS, XLSX_MEDIA_TYPE
from tracker.petitions.models import RECOMMENDATIONS
from tracker.workflow import CASE_ACTIONS, DISPOSITIONS, PETITION_TRANSITIONS, RELIEFS, Stage

DOCUMENT_CONTENT_TYPES = tuple(ACCEPTED_CONTENT_TYPES)

INTRODUCTION = """\
The clemency tracker's JSON API. It acts with the same rules as the web pages: an advocate \
sees and submits their organization's petitions; reviewers and supervisors work every case \
and take the workflow's actions.

Authenticate every request with a personal API token: create one on your profile page \
(API tokens), or ask an operator (flask --app tracker create-token EMAIL --name NAME). \
Send it as 'Authorization: Bearer <token>'. The token acts with its user's role and \
organization; it stops working when revoked or when the user is deactivated, changes role \
or has their password reset. The session cookie of the web pages is never accepted here.

Cases are named by their case number (CP-2026-000123), people by e-mail. Dates are ISO 8601 \
(2024-12-31); time stamps are RFC 3339 in UTC.

Every case has a version, raised by each change; it is the ETag of the case. Send it back \
in If-Match to change the case: a stale version is refused with 412 and changes nothing.

Errors are application/problem+json (RFC 9457): 400 malformed request, 401 no or bad token, \
403 not allowed, 404 no such case (or another organization's), 409 conflict (wrong stage; a \
bulk decision some of whose cases cannot take the action), 412 stale version, 413 body too \
large, 415 wrong content type, 422 invalid fields (an "errors" list of {field, message}), \
428 If-Match missing."""


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _petition_schema(writable_properties: dict) -> dict:
    properties = {"case_number": {"type": "string", "pattern": CASE_NUMBER_PATTERN}}
    properties |= writable_properties
    properties |= {
        "stage": {"type": "string", "enum": [s.value for s in Stage]},
        "organization": {"type": "string", "description": "The submitting organization."},
        "advocate": {"type": "string", "description": "E-mail of the submitting advocate."},
        "assignee": {
            "type": ["string", "null"],
            "description": "E-mail of the reviewer working the case; always null for advocates.",
        },
        "waiver_approved": {
            "type": "boolean",
            "description": "A supervisor approved a waiver of the eligibility rules "
            "(approve_waiver).",
        },
        "version": {"type": "integer", "minimum": 1, "description": "Also the ETag."},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
        "received_at": {"type": "string", "format": "date-time"},
        "stage_entered_at": {"type": "string", "format": "date-time"},
        "days_pending": {
            "type": "integer",
            "description": "Calendar days from receipt to the decision, or to today "
            "(in the office's time zone).",
        },
        "days_in_stage": {"type": "integer", "description": "Calendar days in this stage."},
        "information_request": {
            "oneOf": [{"type": "null"}, _ref("InformationRequest")],
            "description": "The latest information request, open or answered.",
        },
        "information_provided": {
            "type": "boolean",
            "description": "Back under review because the advocate answered.",
        },
        "referral_overdue": {
            "type": ["boolean", "null"],
            "description": "An open referral is past due; always null for advocates.",
        },
        "disposition": {
            "type": ["string", "null"],
            "enum": [*DISPOSITIONS, None],
            "description": "How the case ended; null while it is open.",
        },
        "relief": {
            "type": ["string", "null"],
            "enum": [*RELIEFS, None],
            "description": "What a grant gave (unspecified: relief not recorded); null "
            "unless granted.",
        },
        "commuted_sentence": {"type": ["string", "null"]},
        "new_release_date": {"type": ["string", "null"], "format": "date"},
        "remission_amount": {
            "type": ["string", "null"],
            "description": 'Dollars remitted, e.g. "1500.00".',
        },
        "terms": {"type": ["string", "null"], "description": "Conditions of the grant."},
    }
    return {
        "type": "object",
        "properties": {name: properties[name] for name in PETITION_FIELDS},
        "required": list(PETITION_FIELDS),
        "additionalProperties": False,
    }


def _request_schemas() -> dict:
    """The request bodies, generated from their pydantic models (tracker.api.bodies)."""
    schemas = bodies.json_schemas()
    # A decision's filter is read by the queue-filter parser, as GET /petitions' query is.
    schemas["DecisionRequest"]["properties"]["filter"] = {
        "type": "object",
        "properties": _filter_properties(in_query=False),
        "additionalProperties": False,
    }
    return schemas


def _schemas() -> dict:
    action = {"type": "string", "enum": list(bodies.ACTIONS), "description": "A workflow action."}
    requests = _request_schemas()
    return {
        "Petition": _petition_schema(requests["PetitionCreate"]["properties"]),
        "PetitionCreate": requests["PetitionCreate"],
        "PetitionPatch": requests["PetitionPatch"],
        "PetitionList": {
            "type": "object",
            "properties": {
                "items": {"type": "array", "items": _ref("Petition")},
                "next_cursor": {
                    "type": ["string", "null"],
                    "description": "Pass as cursor for the next page; null on the last page.",
                },
            },
            "required": ["items", "next_cursor"],
            "additionalProperties": False,
        },
        "TransitionRequest": requests["TransitionRequest"],
        "RelatedPetitions": {
            "type": "object",
            "properties": {
                "items": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "case_number": {"type": "string", "pattern": CASE_NUMBER_PATTERN},
                            "kind": {"type": "string", "enum": list(KINDS)},
                            "stage": {"type": "string", "enum": [s.value for s in Stage]},
                            "created_at": {"type": "string", "format": "date-time"},
                            "decided_at": {"type": ["string", "null"], "format": "date-time"},
                        },
                        "required": ["case_number", "kind", "stage", "created_at", "decided_at"],
                        "additionalProperties": False,
                    },
                }
            },
            "required": ["items"],
            "additionalProperties": False,
        },
        "ReferralCreate": requests["ReferralCreate"],
        "ReferralPatch": requests["ReferralPatch"],
        "InformationRequest": {
            "type": "object",
            "properties": {
                "asked": {"type": "string"},
                "asked_by": {"type": "string", "description": "E-mail of who asked."},
                "asked_at": {"type": "string", "format": "date-time"},
                "due_on": {"type": "string", "format": "date"},
                "answered_at": {"type": ["string", "null"], "format": "date-time"},
                "response": {"type": ["string", "null"]},
            },
            "required": ["asked", "asked_by", "asked_at", "due_on", "answered_at", "response"],
            "additionalProperties": False,
        },
        "Referral": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "agency": {"type": "string", "enum": list(AGENCIES)},
                "agency_name": {"type": ["string", "null"]},
                "sent_on": {"type": "string", "format": "date"},
                "due_on": {"type": "string", "format": "date"},
                "answered_on": {"type": ["string", "null"], "format": "date"},
                "summary": {"type": ["string", "null"]},
                "overdue": {"type": "boolean"},
            },
            "required": [
                "id",
                "agency",
                "agency_name",
                "sent_on",
                "due_on",
                "answered_on",
                "summary",
                "overdue",
            ],
            "additionalProperties": False,
        },
        "ReferralList": {
            "type": "object",
            "properties": {"items": {"type": "array", "items": _ref("Referral")}},
            "required": ["items"],
            "additionalProperties": False,
        },
        "HistoryEntry": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "action": {"type": "string"},
                "created_at": {"type": "string", "format": "date-time"},
                "actor": {"type": ["string", "null"], "description": "E-mail (null: system)."},
                "from_stage": {"type": ["string", "null"]},
                "to_stage": {"type": ["string", "null"]},
                "reason": {"type": ["string", "null"]},
                "changes": {
                    "type": ["object", "null"],
                    "description": "Changed fields: {field: [old, new]}.",
                },
                "details": {"type": ["object", "null"]},
            },
            "required": [
                "id",
                "action",
                "created_at",
                "actor",
                "from_stage",
                "to_stage",
                "reason",
                "changes",
                "details",
            ],
            "additionalProperties": False,
        },
        "History": {
            "type": "object",
            "properties": {"items": {"type": "array", "items": _ref("HistoryEntry")}},
            "required": ["items"],
            "additionalProperties": False,
        },
        "RecommendationRequest": requests["RecommendationRequest"],
        "Recommendation": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "recommendation": {"type": "string", "enum": list(RECOMMENDATIONS)},
                "memo": {"type": "string"},
                "author": {"type": "string", "description": "E-mail."},
                "created_at": {"type": "string", "format": "date-time"},
            },
            "required": ["id", "recommendation", "memo", "author", "created_at"],
            "additionalProperties": False,
        },
        "RecommendationList": {
            "type": "object",
            "properties": {"items": {"type": "array", "items": _ref("Recommendation")}},
            "required": ["items"],
            "additionalProperties": False,
        },
        "DecisionRequest": requests["DecisionRequest"],
        "DecisionResult": {
            "type": "object",
            "properties": {
                "action": action,
                "count": {"type": "integer"},
                "items": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "case_number": {"type": "string"},
                            "stage": {"type": "string", "enum": [s.value for s in Stage]},
                            "version": {"type": "integer"},
                        },
                        "required": ["case_number", "stage", "version"],
                        "additionalProperties": False,
                    },
                },
            },
            "required": ["action", "count", "items"],
            "additionalProperties": False,
        },
        "ImportResult": {
            "type": "object",
            "properties": {
                "imported": {"type": "integer"},
                "case_numbers": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["imported", "case_numbers"],
            "additionalProperties": False,
        },
        **_document_schemas(),
        **_statistics_schemas(),
        "NotificationList": {
            "type": "object",
            "properties": {
                "items": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "integer"},
                            "kind": {"type": "string", "enum": list(NOTIFICATION_KINDS)},
                            "case_number": {"type": "string"},
                            "message": {"type": "string"},
                            "url": {"type": "string", "description": "The case in this API."},
                            "created_at": {"type": "string", "format": "date-time"},
                            "read_at": {
                                "type": ["string", "null"],
                                "format": "date-time",
                                "description": "null: unread.",
                            },
                        },
                        "required": [
                            "id",
                            "kind",
                            "case_number",
                            "message",
                            "url",
                            "created_at",
                            "read_at",
                        ],
                        "additionalProperties": False,
                    },
                },
                "unread_count": {"type": "integer"},
                "next_cursor": {
                    "type": ["string", "null"],
                    "description": "Pass as cursor for the next (older) page; null on the last.",
                },
            },
            "required": ["items", "unread_count", "next_cursor"],
            "additionalProperties": False,
        },
        "Problem": {
            "type": "object",
            "description": "RFC 9457 problem details, with this API's extension members.",
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "errors": {
                    "type": "array",
                    "description": "422: each invalid field (and, for a CSV import, its line).",
                    "items": {
                        "type": "object",
                        "properties": {
                            "field": {"type": ["string", "null"]},
                            "message": {"type": "string"},
                            "line": {"type": "integer"},
                            "column": {
                                "type": ["string", "null"],
                                "description": "Import: the spreadsheet's column (A, B, …).",
                            },
                            "value": {
                                "type": ["string", "null"],
                                "description": "Import: the value found in the file.",
                            },
                        },
                        "required": ["field", "message"],
                    },
                },
                "offenders": {
                    "type": "array",
                    "description": "Bulk decision refused: each case that stopped it, and why "
                    "(problem: not_found, changed, wrong_stage or referrals_open).",
                    "items": {
                        "type": "object",
                        "properties": {
                            "case_number": {"type": "string"},
                            "problem": {"type": "string"},
                            "message": {"type": "string"},
                            "stage": {"type": "string"},
                            "version": {"type": "integer"},
                        },
                        "required": ["case_number", "problem", "message"],
                    },
                },
                "current_stage": {"type": "string", "description": "409 from a transition."},
                "open_case": {
                    "type": ["string", "null"],
                    "description": "409 on submission: the petitioner's open case (null when it "
                    "is another organization's).",
                },
                "eligibility": {
                    "type": "array",
                    "description": "422 on submission: each eligibility rule the petition "
                    "breaks (send waiver_requested and waiver_justification to file it anyway).",
                    "items": {
                        "type": "object",
                        "properties": {
                            "rule": {"type": "string"},
                            "eligible_on": {"type": ["string", "null"], "format": "date"},
                            "message": {"type": "string"},
                        },
                        "required": ["rule", "eligible_on", "message"],
                    },
                },
                "current_version": {"type": "integer", "description": "412: the case's version."},
            },
            "required": ["type", "title", "status", "detail"],
        },
    }


def _document_schemas() -> dict:
    nullable_time = {"type": ["string", "null"], "format": "date-time"}
    properties = {
        "id": {"type": "integer"},
        "document_type": {"type": "string", "enum": list(DOCUMENT_TYPES)},
        "visibility": {"type": "string", "enum": list(DOCUMENT_VISIBILITIES)},
        "filename": {"type": "string", "description": "The uploaded file's name (display only)."},
        "size": {"type": "integer", "description": "Bytes."},
        "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "content_type": {"type": "string", "enum": list(DOCUMENT_CONTENT_TYPES)},
        "uploaded_by": {"type": "string", "description": "E-mail of the uploader."},
        "uploaded_at": {"type": "string", "format": "date-time"},
        "description": {"type": ["string", "null"]},
        "superseded_by": {
            "type": ["integer", "null"],
            "description": "The id of the document that supersedes this one, if any.",
        },
        "superseded_at": nullable_time,
        "content_url": {"type": "string", "description": "Where to download the content."},
    }
    return {
        "Document": {
            "type": "object",
            "properties": properties,
            "required": list(properties),
            "additionalProperties": False,
        },
        "DocumentList": {
            "type": "object",
            "properties": {"items": {"type": "array", "items": _ref("Document")}},
            "required": ["items"],
            "additionalProperties": False,
        },
        "DocumentUpload": {
            "type": "object",
            "properties": {
                "file": {"type": "string", "format": "binary"},
                "document_type": {"type": "string", "enum": list(DOCUMENT_TYPES)},
                "visibility": {
                    "type": "string",
                    "enum": list(DOCUMENT_VISIBILITIES),
                    "description": "shared (the advocate's organization and staff) or internal "
                    "(staff only; advocates attach shared documents). A presentence report is "
                    "internal whoever attaches it.",
                },
                "description": {"type": "string", "maxLength": DESCRIPTION_MAX_LENGTH},
                "supersedes": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "The id of a document of the case this one replaces.",
                },
            },
            "required": ["file", "document_type", "visibility"],
        },
    }


def _filter_properties(*, in_query: bool) -> dict:
    """The list filters: as query parameters (stage repeated for several), or as the JSON
    ``filter`` of a decision (stage a string or a list)."""
    stage = {"type": "string", "enum": list(STAGE_CHOICES)}
    stages = {"type": "array", "items": stage, "minItems": 1}
    return {
        "stage": {
            **(stages if in_query else {"anyOf": [stage, stages]}),
            "description": "One stage or several; 'pending': every stage not decided or closed.",
        },
        "kind": {"type": "string", "enum": list(KINDS)},
        "older_than_days": {
            "type": "string",
            "pattern": "^[0-9]{1,5}$",
            "description": "Received more than this many calendar days ago (0 to 36500).",
        },
        "referral_overdue": {
            "type": "string",
            "enum": ["true", "false"],
            "description": "true: only cases with an overdue referral (staff only).",
        },
        "custody_status": {"type": "string", "enum": list(CUSTODY_STATUSES)},
        "offense_category": {"type": "string", "enum": list(OFFENSE_CATEGORIES)},
        "nonviolent": {
            "type": "string",
            "enum": ["true", "false"],
            "description": "true: recorded as non-violent; false: recorded as violent.",
        },
        **{
            name: {
                "type": "string",
                "format": "date",
                "description": f"{name.rsplit('_', 1)[0].replace('_', ' ').capitalize()} "
                f"{'on or after' if name.endswith('_from') else 'on or before'} this day.",
            }
            for name in DATE_FILTERS
        },
        "q": {
            "type": "string",
            "maxLength": MAX_QUERY_LENGTH,
            "description": "Case number, register number, or part of the petitioner's name.",
        },
        "assignee": {
            "type": "string",
            "description": "E-mail of a reviewer or supervisor, 'me' or 'none' (staff only).",
        },
    }


PROBLEM_DESCRIPTIONS = {
    "400": "Malformed request (not JSON, not an object, nested more than "
    f"{MAX_JSON_DEPTH} levels, a broken cursor, a NUL character, an If-Match naming a "
    "version below 1).",
    "401": "No token, or an unknown or revoked one, or its user is deactivated.",
    "403": "Your role may not do this.",
    "404": "No such case, or it is another organization's.",
    "409": "Conflict: the case is in the wrong stage (current_stage names it), the "
    "petitioner already has an open petition (open_case names it when it is yours to see), "
    "a grant awaits a waiver, or a decision while referrals are open (the detail names them; "
    "send close_referrals_reason).",
    "412": "Stale version: the case changed since you read it; nothing was changed.",
    "413": "The body is too large.",
    "415": "Wrong content type.",
    "422": "Invalid fields: see errors.",
    "428": "Send If-Match with the version you read.",
}


def _responses(success: dict, *problems: str) -> dict:
    responses = dict(success)
    for status in ("400", "401", *problems):
        responses[status] = {
            "description": PROBLEM_DESCRIPTIONS[status],
            "content": {"application/problem+json": {"schema": _ref("Problem")}},
        }
    return responses


def _json_body(schema_name: str, *media_types: str) -> dict:
    return {
        "required": True,
        "content": {media: {"schema": _ref(schema_name)} for media in media_types},
    }


ETAG_HEADER = {"ETag": {"description": "The case's version.", "schema": {"type": "string"}}}


def _petition_response(description: str, **headers) -> dict:
    return {
        "description": description,
        "headers": ETAG_HEADER | headers,
        "content": {"application/json": {"schema": _ref("Petition")}},
    }


def _json_response(description: str, schema_name: str) -> dict:
    content = {"application/json": {"schema": _ref(schema_name)}}
    return {"description": description, "content": content}


CASE_NUMBER_PARAMETER = {
    "name": "case_number",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": CASE_NUMBER_PATTERN},
    "description": "The case number, e.g. CP-2026-000123.",
}


def _if_match(required: bool) -> dict:
    return {
        "name": "If-Match",
        "in": "header",
        "required": required,
        "schema": {"type": "string"},
        "description": 'The version (ETag) you read, e.g. "3".',
    }


def _describe(transition) -> str:
    """One action as the docs state it: name (from → to; roles; reason)."""
    sources = ", ".join(sorted(s.value for s in transition.sources))
    roles = ", ".join(sorted(r.value for r in transition.roles))
    reason = "; reason required" if transition.reason_required else ""
    target = transition.target.value if transition.target else "same stage"
    return f"{transition.name} ({sources} → {target}; {roles}{reason})"


def _paths() -> dict:
    list_parameters = [
        {"name": name, "in": "query", "required": False, "schema": schema}
        for name, schema in _filter_properties(in_query=True).items()
    ] + [
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "schema": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_LIMIT,
                "default": DEFAULT_LIMIT,
            },
        },
        {
            "name": "cursor",
            "in": "query",
            "required": False,
            "schema": {"type": "string"},
            "description": "next_cursor of the previous page.",
        },
    ]
    return {
        "/petitions": {
            "get": {
                "operationId": "listPetitions",
                "summary": "List the cases you may see",
                "description": "Oldest first, a page at a time: follow next_cursor until null.",
                "parameters": list_parameters,
                "responses": _responses(
                    {"200": _json_response("A page of cases.", "PetitionList")}, "403", "422"
                ),
            },
            "post": {
                "operationId": "createPetition",
                "summary": "Submit a petition (advocates)",
                "description": "Creates the case in stage received for your organization.",
                "requestBody": _json_body("PetitionCreate", "application/json"),
                "responses": _responses(
                    {
                        "201": _petition_response(
                            "The new case.",
                            Location={
                                "description": "The case's URL.",
                                "schema": {"type": "string"},
                            },
                        )
                    },
                    "403",
                    "409",
                    "413",
                    "415",
                    "422",
                ),
            },
        },
        "/petitions/{case_number}": {
            "parameters": [CASE_NUMBER_PARAMETER],
            "get": {
                "operationId": "getPetition",
                "summary": "Read a case",
                "responses": _responses({"200": _petition_response("The case.")}, "404"),
            },
            "patch": {
                "operationId": "updatePetition",
                "summary": "Change a case's fields",
                "description": "Advocates while the case is received; reviewers and supervisors "
                "until it is decided. Send only the fields to change, and If-Match.",
                "parameters": [_if_match(required=True)],
                "requestBody": _json_body(
                    "PetitionPatch", "application/json", "application/merge-patch+json"
                ),
                "responses": _responses(
                    {"200": _petition_response("The changed case.")},
                    "403",
                    "404",
                    "409",
                    "412",
                    "413",
                    "415",
                    "422",
                    "428",
                ),
            },
        },
        "/petitions/{case_number}/referrals": {
            "parameters": [CASE_NUMBER_PARAMETER],
            "get": {
                "operationId": "listReferrals",
                "summary": "The case's referrals to other agencies (staff)",
                "responses": _responses(
                    {"200": _json_response("Oldest first.", "ReferralList")}, "403", "404"
                ),
            },
            "post": {
                "operationId": "createReferral",
                "summary": "Refer the case to an agency (staff)",
                "description": "sent_on defaults to today, due_on to the agency's period after "
                "it (FBI 120 days, others 30; configurable).",
                "requestBody": _json_body("ReferralCreate", "application/json"),
                "responses": _responses(
                    {"201": _json_response("The referral.", "Referral")},
                    "403",
                    "404",
                    "409",
                    "413",
                    "415",
                    "422",
                ),
            },
        },
        "/referrals/{id}": {
            "parameters": [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
            ],
            "patch": {
                "operationId": "updateReferral",
                "summary": "Answer or extend a referral (staff)",
                "description": "Answer: answered_on (or answered: true for today) and a "
                "summary. Extend: a later due_on with a reason. 409 once answered.",
                "requestBody": _json_body("ReferralPatch", "application/json"),
                "responses": _responses(
                    {"200": _json_response("The referral.", "Referral")},
                    "403",
                    "404",
                    "409",
                    "413",
                    "415",
                    "422",
                ),
            },
        },
        "/petitions/{case_number}/transitions": {
            "parameters": [CASE_NUMBER_PARAMETER],
            "post": {
                "operationId": "transitionPetition",
                "summary": "Take a workflow action",
                "description": "Actions: "
                + ", ".join(map(_describe, (*PETITION_TRANSITIONS, *CASE_ACTIONS)))
                + ". approve_waiver keeps the stage; a grant of a case that breaks an "
                "eligibility rule is refused with 409 until it is taken. If-Match is optional "
                "here.",
                "parameters": [_if_match(required=False)],
                "requestBody": _json_body("TransitionRequest", "application/json"),
                "responses": _responses(
                    {"200": _petition_response("The case in its new stage.")},
                    "403",
                    "404",
                    "409",
                    "412",
                    "413",
                    "415",
                    "422",
                ),
            },
        },
        "/petitions/{case_number}/related": {
            "parameters": [CASE_NUMBER_PARAMETER],
            "get": {
                "operationId": "relatedPetitions",
                "summary": "Other petitions by the same petitioner",
                "description": "The petitioner is identified by register number, or without one "
                "by name and date of birth. Advocates see only their organization's petitions.",
                "responses": _responses(
                    {"200": _json_response("The other petitions.", "RelatedPetitions")}, "404"
                ),
            },
        },
        "/petitions/{case_number}/recommendations": {
            "parameters": [CASE_NUMBER_PARAMETER],
            "get": {
                "operationId": "listRecommendations",
                "summary": "The case's recommendations (staff)",
                "responses": _responses(
                    {"200": _json_response("Oldest first.", "RecommendationList")}, "403", "404"
                ),
            },
            "post": {
                "operationId": "addRecommendation",
                "summary": "Recommend on a case under review (staff)",
                "description": "favorable, unfavorable or no_position, with an internal memo. "
                "A decision against the latest one is marked in the history.",
                "requestBody": _json_body("RecommendationRequest", "application/json"),
                "responses": _responses(
                    {"201": _json_response("The recommendation.", "Recommendation")},
                    "403",
                    "404",
                    "409",
                    "413",
                    "415",
                    "422",
                ),
            },
        },
        "/petitions/{case_number}/history": {
            "parameters": [CASE_NUMBER_PARAMETER],
            "get": {
                "operationId": "petitionHistory",
                "summary": "Read a case's history",
                "description": "The audit entries you may see, oldest first (advocates: the "
                "submission, the stage changes with their reasons, shared notes).",
                "responses": _responses({"200": _json_response("The history.", "History")}, "404"),
            },
        },
        "/petitions/import": {
            "post": {
                "operationId": "importPetitions",
                "summary": "Import petitions from a CSV or .xlsx file (advocates)",
                "description": "The first line names the columns: the writable fields "
                f"({', '.join(EDITABLE_FIELDS)}) or their labels. CSV in UTF-8 (comma, "
                "semicolon or tab separated) or an .xlsx workbook's first sheet; coded values "
                "by code or label, dates as 2024-12-31, 12/31/2024 or spreadsheet dates. "
                f"At most {MAX_IMPORT_ROWS} rows. "
                "All or nothing: if any row is bad, nothing is imported and errors lists "
                "every problem with its line. A petitioner with an open petition (any "
                "organization's), a register number repeated in the file, or a petition that "
                "breaks an eligibility rule without a waiver request is a bad row.",
                "requestBody": {
                    "required": True,
                    "content": {
                        "text/csv": {"schema": {"type": "string"}},
                        XLSX_MEDIA_TYPE: {
                            "schema": {"type": "string", "contentEncoding": "binary"}
                        },
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "file": {
                                        "type": "string",
                                        "description": "A CSV or .xlsx file.",
                                    }
                                },
                                "required": ["file"],
                            },
                        },
                    },
                },
                "responses": _responses(
                    {"201": _json_response("Every row was imported.", "ImportResult")},
                    "403",
                    "413",
                    "415",
                    "422",
                ),
            },
        },
        **_document_paths(),
        "/notifications": {
            "get": {
                "operationId": "listNotifications",
                "summary": "Your notifications, newest first",
                "description": "What happened to which case (never a name or case detail), "
                "and how many are unread. Marking read is done in the app.",
                "parameters": [
                    list_parameters[-2],
                    {
                        "name": "cursor",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "pattern": "^[0-9]{1,10}$"},
                        "description": "next_cursor of the previous page.",
                    },
                    {
                        "name": "unread",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": ["true", "false"]},
                        "description": "true: only the unread ones.",
                    },
                ],
                "responses": _responses(
                    {"200": _json_response("A page of notifications.", "NotificationList")},
                    "422",
                ),
            },
        },
        **_statistics_paths(),
        "/decisions": {
            "post": {
                "operationId": "decidePetitions",
                "summary": "Take one action on many cases (reviewers, supervisors)",
                "description": "All or nothing: if any case cannot take the action now, "
                "nothing changes and offenders lists each case and why (409; 412 when "
                "they all changed since the versions you gave). Each case gets its own "
                "audit entry.",
                "requestBody": _json_body("DecisionRequest", "application/json"),
                "responses": _responses(
                    {"200": _json_response("Every case took the action.", "DecisionResult")},
                    "403",
                    "409",
                    "412",
                    "413",
                    "415",
                    "422",
                ),
            },
        },
    }


def _statistics_schemas() -> dict:
    from tracker.petitions.fields import KINDS
    from tracker.statistics.queries import COLUMN_LABELS, COLUMNS

    counts = {
        "type": "object",
        "properties": {
            name: {"type": "integer", "minimum": 0, "description": COLUMN_LABELS[name]}
            for name in COLUMNS
        },
        "required": list(COLUMNS),
        "additionalProperties": False,
    }
    # pending_start and pending_end are never negative in a real history; the schema says
    # only that each is a whole number, since a history imported with gaps could make one so.
    for name in ("pending_start", "pending_end"):
        counts["properties"][name] = {"type": "integer", "description": COLUMN_LABELS[name]}
    return {
        "KindCounts": counts,
        "PublicStatistics": {
            "allOf": [_ref("Statistics")],
            "type": "object",
            "properties": {
                "acts": {
                    "type": "array",
                    "description": "The clemency acts signed in the year: counts only.",
                    "items": {
                        "type": "object",
                        "properties": {
                            "title": {"type": "string"},
                            "signed_on": {"type": "string", "format": "date"},
                            "relief": {"type": "string"},
                            "count": {"type": "integer", "minimum": 0},
                        },
                        "required": ["title", "signed_on", "relief", "count"],
                    },
                },
            },
            "required": ["fiscal_year", "kinds", "acts"],
        },
        "Statistics": {
            "type": "object",
            "properties": {
                "fiscal_year": {"type": "integer"},
                "kinds": {
                    "type": "object",
                    "properties": {kind: _ref("KindCounts") for kind in KINDS},
                    "required": list(KINDS),
                    "additionalProperties": False,
                },
            },
            "required": ["fiscal_year", "kinds"],
        },
    }


FISCAL_YEAR_PARAMETER = {
    "name": "fiscal_year",
    "in": "query",
    "required": False,
    "schema": {"type": "integer", "minimum": 1900, "maximum": 9999},
    "description": "Fiscal year N: October 1 of N−1 to September 30 of N, in the office's "
    "time zone. Default: the current one; at most next year (422 beyond).",
}


def _statistics_paths() -> dict:
    description = (
        "Per kind: pending at the start, received, granted, denied, closed without "
        "presidential action, other closures (withdrawn, deceased, moot, ineligible), "
        "reopened and pending at the end, counted from the case history (a reopened case "
        "counts as reopened, not as a new receipt)."
    )
    return {
        "/statistics": {
            "get": {
                "operationId": "statistics",
                "summary": "A fiscal year's statistics (reviewers, supervisors)",
                "description": description,
                "parameters": [FISCAL_YEAR_PARAMETER],
                "responses": _responses(
                    {"200": _json_response("The year's counts per kind.", "Statistics")},
                    "403",
                    "422",
                ),
            },
        },
        "/public/statistics": {
            "get": {
                "operationId": "publicStatistics",
                "summary": "A fiscal year's statistics, public (no token)",
                "description": description + " Counts only: never a name, case number or "
                "organization.",
                "security": [],
                "parameters": [FISCAL_YEAR_PARAMETER],
                "responses": _responses(
                    {
                        "200": _json_response(
                            "The year's counts per kind, and its acts.", "PublicStatistics"
                        )
                    },
                    "422",
                ),
            },
        },
    }


DOCUMENT_ID_PARAMETER = {
    "name": "document_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
}


def _document_paths() -> dict:
    return {
        "/petitions/{case_number}/documents": {
            "parameters": [CASE_NUMBER_PARAMETER],
            "get": {
                "operationId": "listDocuments",
                "summary": "List a case's documents",
                "description": "The documents you may see, oldest first (advocates: shared "
                "ones); superseded documents stay, with superseded_by set.",
                "responses": _responses(
                    {"200": _json_response("The documents.", "DocumentList")}, "404"
                ),
            },
            "post": {
                "operationId": "uploadDocument",
                "summary": "Attach a document",
                "description": "PDF, PNG or JPEG, judged from the content (never the name or "
                "the declared type), at most MAX_DOCUMENT_BYTES (20 MiB by default). "
                "Advocates attach while the case is received (or information is requested "
                "of them); reviewers and supervisors at any time. With supersedes, the named "
                "document is marked superseded (never deleted).",
                "requestBody": {
                    "required": True,
                    "content": {"multipart/form-data": {"schema": _ref("DocumentUpload")}},
                },
                "responses": _responses(
                    {
                        "201": {
                            "description": "The document.",
                            "headers": {
                                "Location": {
                                    "description": "Its content.",
                                    "schema": {"type": "string"},
                                }
                            },
                            "content": {"application/json": {"schema": _ref("Document")}},
                        }
                    },
                    "403",
                    "404",
                    "409",
                    "413",
                    "415",
                    "422",
                ),
            },
        },
        "/documents/{document_id}/content": {
            "parameters": [DOCUMENT_ID_PARAMETER],
            "get": {
                "operationId": "documentContent",
                "summary": "Download a document",
                "description": "As an attachment, with the content type judged at upload. "
                "404 for a document you may not see.",
                "responses": _responses(
                    {
                        "200": {
                            "description": "The document's bytes.",
                            "content": {
                                media: {"schema": {"type": "string", "format": "binary"}}
                                for media in DOCUMENT_CONTENT_TYPES
                            },
                        }
                    },
                    "404",
                ),
            },
        },
    }


# --- clemency acts (issue 14) -------------------------------------------------------------------

ACT_ID_PARAMETER = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer"},
    "description": "The act's id.",
}
EXCLUSION_REASONS = [
    "not_found",
    "not_under_review",
    "relief_does_not_fit_kind",
    "ineligible_without_waiver",
    "open_referral",
]


def _act_schemas() -> dict:
    requests = _request_schemas()
    act_filter = {
        "type": "object",
        "properties": _filter_properties(in_query=False),
        "additionalProperties": False,
    }
    requests["ActCasesRequest"]["properties"]["filter"] = act_filter
    nullable_text = {"type": ["string", "null"]}
    act_properties = {
        "id": {"type": "integer"},
        "title": {"type": "string"},
        "signed_on": {"type": "string", "format": "date"},
        "authority": {"type": "string"},
        "relief": {"type": "string", "enum": list(RELIEFS)},
        "terms": nullable_text,
        "note": nullable_text,
        "state": {"type": "string", "enum": ["draft", "recorded"]},
        "cases": {"type": "integer", "description": "How many cases the act holds."},
        "granted": {"type": ["integer", "null"], "description": "Granted at recording."},
        "created_by": {"type": "string", "description": "E-mail."},
        "created_at": {"type": "string", "format": "date-time"},
        "recorded_by": {"type": ["string", "null"], "description": "E-mail."},
        "recorded_at": {"type": ["string", "null"], "format": "date-time"},
        "url": {"type": "string"},
    }
    act = {
        "type": "object",
        "properties": act_properties,
        "required": list(act_properties),
        "additionalProperties": False,
    }
    case_numbers = {"type": "array", "items": {"type": "string", "pattern": CASE_NUMBER_PATTERN}}
    with_cases = {
        **act,
        "properties": act_properties | {"case_numbers": case_numbers},
        "required": [*act_properties, "case_numbers"],
    }
    return {
        "ActCreate": requests["ActCreate"],
        "ActCasesRequest": requests["ActCasesRequest"],
        "ActRecordRequest": requests["ActRecordRequest"],
        "Act": act,
        "ActWithCases": with_cases,
        "ActList": {
            "type": "object",
            "properties": {"items": {"type": "array", "items": _ref("Act")}},
            "required": ["items"],
            "additionalProperties": False,
        },
        "ActCasesAdded": {
            "type": "object",
            "properties": {
                "added": {"type": "integer", "description": "Cases new to the act."},
                "cases": {"type": "integer", "description": "The act's cases now."},
            },
            "required": ["added", "cases"],
            "additionalProperties": False,
        },
        "ActPreview": {
            "type": "object",
            "properties": {
                "included": {"type": "integer", "description": "Cases recording would grant."},
                "excluded": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "case_number": {"type": "string", "pattern": CASE_NUMBER_PATTERN},
                            "reason": {"type": "string", "enum": EXCLUSION_REASONS},
                            "message": {"type": "string"},
                        },
                        "required": ["case_number", "reason", "message"],
                        "additionalProperties": False,
                    },
                },
            },
            "required": ["included", "excluded"],
            "additionalProperties": False,
        },
    }


def _act_paths() -> dict:
    json_body = _json_body
    return {
        "/acts": {
            "get": {
                "operationId": "listActs",
                "summary": "Clemency acts (staff)",
                "description": "The latest signed first.",
                "responses": _responses({"200": _json_response("The acts.", "ActList")}, "403"),
            },
            "post": {
                "operationId": "createAct",
                "summary": "Draft a clemency act (supervisors)",
                "requestBody": json_body("ActCreate", "application/json"),
                "responses": _responses(
                    {
                        "201": {
                            **_json_response("The draft act, with its id.", "Act"),
                            "headers": {
                                "Location": {
                                    "description": "The act's URL.",
                                    "schema": {"type": "string"},
                                }
                            },
                        }
                    },
                    "403",
                    "413",
                    "415",
                    "422",
                ),
            },
        },
        "/acts/{id}": {
            "parameters": [ACT_ID_PARAMETER],
            "get": {
                "operationId": "getAct",
                "summary": "One clemency act and its cases (staff)",
                "responses": _responses(
                    {"200": _json_response("The act.", "ActWithCases")}, "403", "404"
                ),
            },
        },
        "/acts/{id}/cases": {
            "parameters": [ACT_ID_PARAMETER],
            "post": {
                "operationId": "addActCases",
                "summary": "Add cases to a draft act (supervisors)",
                "description": 'By the queue\'s filters ({"filter": {…}}) or by register '
                'numbers ({"register_numbers": […]}; each must name a case, else 422 naming '
                "its position as line). A case already in the act counts once. 409 once recorded.",
                "requestBody": json_body("ActCasesRequest", "application/json"),
                "responses": _responses(
                    {"200": _json_response("How many were added.", "ActCasesAdded")},
                    "403",
                    "404",
                    "409",
                    "413",
                    "415",
                    "422",
                ),
            },
        },
        "/acts/{id}/preview": {
            "parameters": [ACT_ID_PARAMETER],
            "get": {
                "operationId": "previewAct",
                "summary": "What recording the act would grant, and what not and why (staff)",
                "responses": _responses(
                    {"200": _json_response("The preview.", "ActPreview")}, "403", "404"
                ),
            },
        },
        "/acts/{id}/record": {
            "parameters": [ACT_ID_PARAMETER],
            "post": {
                "operationId": "recordAct",
                "summary": "Record the act: grant every included case, all or nothing "
                "(supervisors)",
                "description": "Each case is granted the act's relief and terms, with a history "
                "entry naming the act; excluded cases leave the act. 409 when already recorded, "
                "when no case can be granted, or when expected_included differs from the preview.",
                "requestBody": {
                    "required": False,
                    "content": {"application/json": {"schema": _ref("ActRecordRequest")}},
                },
                "responses": _responses(
                    {
                        "200": _json_response(
                            "The recorded act and the cases it granted.", "ActWithCases"
                        )
                    },
                    "403",
                    "404",
                    "409",
                    "413",
                    "415",
                    "422",
                ),
            },
        },
    }


@cache
def document() -> dict:
    """The OpenAPI 3.1 document (the same object each call: do not change it)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Clemency Tracker API",
            "version": "1",
            "description": INTRODUCTION,
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearerToken": []}],
        "paths": _paths() | _act_paths(),
        "components": {
            "securitySchemes": {
                "bearerToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A personal API token (ct_…), from your profile page.",
                },
            },
            "schemas": _schemas() | _act_schemas(),
        },
    }
