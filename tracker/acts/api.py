"""Clemency acts on the JSON API (/api/v1/acts), on the API's blueprint: thin views over
``tracker.acts.services``. Staff read acts; supervisors draft, add cases and record; an
advocate is refused (403), as for referrals."""

from flask import g, request, url_for

from tracker import permissions, pipeline
from tracker.acts import services
from tracker.acts.models import Act
from tracker.api import bodies
from tracker.api.serialization import timestamp
from tracker.api.views import blueprint


def act_json(act: Act, cases: int) -> dict:
    """An act as the API shows it."""
    return {
        "id": act.id,
        "title": act.title,
        "signed_on": act.signed_on.isoformat(),
        "authority": act.authority,
        "relief": act.relief,
        "terms": act.terms,
        "note": act.note,
        "state": act.state,
        "cases": cases,
        "granted": act.granted_count,
        "created_by": act.created_by.email,
        "created_at": timestamp(act.created_at),
        "recorded_by": act.recorded_by.email if act.recorded_by else None,
        "recorded_at": timestamp(act.recorded_at),
        "url": url_for("api.get_act", id=act.id),
    }


@blueprint.get("/acts")
def list_acts():
    """Every act, the latest signed first (staff; 403 for advocates)."""
    return {"items": [act_json(act, cases) for act, cases in services.list_acts(g.api_user)]}


@blueprint.post("/acts")
@pipeline.writes
def create_act():
    """A supervisor drafts an act: 201 with its id (and Location)."""
    permissions.require(permissions.can_manage_acts, g.api_user)
    body = bodies.read(bodies.ActCreate)
    act = services.draft_act(g.api_user, body.model_dump())
    response = act_json(act, 0)
    return response, 201, {"Location": response["url"]}


@blueprint.get("/acts/<int:id>")
def get_act(id):  # noqa: A002  (the issue's URL names it {id})
    """One act, with the case numbers of its cases."""
    act = services.get_act(g.api_user, id)
    case_numbers = [petition.case_number for petition in services.act_cases(act)]
    return act_json(act, len(case_numbers)) | {"case_numbers": case_numbers}


@blueprint.post("/acts/<int:id>/cases")
@pipeline.writes
def add_act_cases(id):  # noqa: A002
    """Add cases to a draft act by the queue's filters or by register numbers: 200 with how
    many were new and the act's count; 409 once recorded; 422 naming each bad filter or
    register number."""
    act = services.get_act(g.api_user, id)
    permissions.require(permissions.can_manage_acts, g.api_user)
    body = bodies.read(bodies.ActCasesRequest)
    if body.selector() == "filter":
        added = services.add_cases_by_filter(act, g.api_user, body.filter)
    else:
        numbers = [
            services.RegisterNumber(position, value)
            for position, value in enumerate(body.register_numbers, 1)
        ]
        added = services.add_cases_by_register_numbers(act, g.api_user, numbers)
    return {"added": added, "cases": services.case_count(act)}


@blueprint.get("/acts/<int:id>/preview")
def preview_act(id):  # noqa: A002
    """What recording would do: {"included": N, "excluded": [{case_number, reason, message}]}."""
    act = services.get_act(g.api_user, id)
    return services.preview(act, g.api_user).as_json()


@blueprint.post("/acts/<int:id>/record")
@pipeline.writes
def record_act(id):  # noqa: A002
    """Record the act, granting every included case at once: 200; 409 if already recorded
    (or if the preview changed from ``expected_included``)."""
    act = services.get_act(g.api_user, id)
    permissions.require(permissions.can_manage_acts, g.api_user)
    expected = None
    if request.get_data(cache=True):  # the body is optional
        expected = bodies.read(bodies.ActRecordRequest).expected_included
    decided = services.record_act(act, g.api_user, expected)
    return act_json(act, len(decided)) | {"case_numbers": sorted(decided)}
