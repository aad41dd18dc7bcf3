"""One path per write: a single transition is a bulk decision of one, a submission is an
import of one row. The whole role × transition × stage table runs over the four interfaces
that move a case, and they must agree cell by cell."""

import pytest

from tests.conftest import csrf_token, petition_values
from tests.helpers import (
    API_OUTCOME_MEMBERS,
    audit_entries,
    form_with,
    petition_row,
    web_outcome_fields,
)
from tests.test_workflow import (
    ACTIONS,
    ALLOWED,
    DISPOSITION_AFTER,
    ROLES,
    ROLES_ALLOWED,
    STAGES,
)
from tracker.extensions import db
from tracker.petitions import importing, services
from tracker.petitions.outcomes import OUTCOME_COLUMNS

pytest_plugins = ["tests.api_fixtures"]

REASON = "Reviewed the full record."


def web_single(client, api, petition, action):
    page = f"/petitions/{petition.case_number}"
    return client.post(
        f"{page}/transition",
        data={
            "transition-action": action,
            "transition-reason": REASON,
            "transition-version": petition.version,
            "transition-csrf_token": csrf_token(client, page),
            **web_outcome_fields(action),
        },
    ).status_code


def web_bulk(client, api, petition, action):
    """The queue's form → the confirmation page → apply, as a browser posts them."""
    confirm = client.post(
        "/petitions/bulk",
        data={
            "csrf_token": csrf_token(client, "/account/password"),
            "case_numbers": [petition.case_number],
            "action": action,
            "reason": REASON,
            **web_outcome_fields(action, prefix=""),
        },
    )
    if confirm.status_code != 200:
        return confirm.status_code
    apply = form_with(confirm, "selection")
    return client.post(apply.action, data=apply.fields).status_code


def api_single(client, api, petition, action):
    return api.post(
        f"/api/v1/petitions/{petition.case_number}/transitions",
        json={"action": action, "reason": REASON, **API_OUTCOME_MEMBERS.get(action, {})},
    ).status_code


def api_bulk(client, api, petition, action):
    return api.post(
        "/api/v1/decisions",
        json={
            "action": action,
            "reason": REASON,
            "case_numbers": [petition.case_number],
            **API_OUTCOME_MEMBERS.get(action, {}),
        },
    ).status_code


INTERFACES = {
    "web single": web_single,
    "web bulk": web_bulk,
    "api single": api_single,
    "api bulk": api_bulk,
}


def outcome(petition, status: int, entries_before: int) -> dict:
    """What a request did to the case: its answer, the row after, the entries written."""
    row = petition_row(petition.id)
    written = audit_entries(petition_id=petition.id, category="case")[entries_before:]
    decided = row["decided_at"] is not None
    return {
        "status": "ok" if status in (200, 302) else status,
        "stage": row["stage"],
        "version": row["version"],
        "decision": (decided, row["decided_by_id"], row["decision_reason"]),
        "outcome": {name: row[name] for name in OUTCOME_COLUMNS},
        "decided when updated": decided and row["decided_at"] == row["updated_at"],
        "entries": [
            (e.action, e.actor_id, e.from_stage, e.to_stage, e.reason, e.changes, e.details)
            for e in written
        ],
    }


#: provide_information is one case's answer by its advocate (a response, corrections): no bulk
#: form offers it and advocates have no bulk decisions, so it has no four interfaces to compare;
#: tests/test_workflow.py and tests/test_time.py cover it.
SHARED_ACTIONS = tuple(action for action in ACTIONS if action != "provide_information")


@pytest.mark.parametrize("stage", STAGES, ids=lambda s: s.value)
@pytest.mark.parametrize("action", SHARED_ACTIONS)
@pytest.mark.parametrize("role", ROLES)
def test_the_four_interfaces_agree_on_every_cell(
    client, auth, api_as, make_user, make_petition, role, action, stage
):
    user = make_user(role)
    assert auth.login(user).destination
    api = api_as(user=user)
    outcomes = {}
    for name, send in INTERFACES.items():
        petition = make_petition(stage=stage, organization=user.organization)
        entries_before = len(audit_entries(petition_id=petition.id, category="case"))
        status = send(client, api, petition, action)
        outcomes[name] = outcome(petition, status, entries_before)

    target = ALLOWED.get((role, action, stage.value))
    expected_status = "ok" if target else 403 if role not in ROLES_ALLOWED[action] else 409
    first = outcomes["web single"]
    assert first["status"] == expected_status
    assert first["stage"] == (target or stage.value)
    assert [entry[0] for entry in first["entries"]] == ([action] if target else [])
    if target in ("granted", "denied", "closed"):
        assert first["decision"] == (True, user.id, REASON) and first["decided when updated"]
        assert first["outcome"]["disposition"] == DISPOSITION_AFTER[action]
    if role == "advocate":
        # Bulk decisions are staff's: an advocate withdraws one case at a time.
        for name in ("web bulk", "api bulk"):
            assert outcomes.pop(name)["status"] == 403, name
            assert outcomes.pop(name, None) is None
    for name, found in outcomes.items():
        assert found == first, name


def test_a_submission_is_an_import_of_one_row(app_ctx, make_user):
    """The same columns and the same 'submit' entry, but for the import's source and line."""
    advocate = make_user("advocate")
    submitted = services.submit_petition(advocate, petition_values(register_number="11111-111"))
    values = petition_values(register_number="22222-222")
    csv = ",".join(values) + "\n" + ",".join(f'"{value}"' for value in values.values())
    [case_number] = services.import_petitions(advocate, importing.read_csv(csv))
    db.session.commit()
    imported = services.get_visible_petition(advocate, case_number)

    def columns(petition):
        row = petition_row(petition.id)
        assert row["created_at"] == row["updated_at"]
        skip = (
            "id",
            "case_number",
            "register_number",
            "petitioner_key",
            "search_text",  # holds the case and register numbers, which differ
            "created_at",
            "updated_at",
            "received_at",
            "stage_entered_at",
        )
        return {name: value for name, value in row.items() if name not in skip}

    def entry(petition):
        [found] = audit_entries(petition_id=petition.id)
        details = dict(found.details)
        assert details.pop("case_number") == petition.case_number
        changes = dict(found.changes)
        changes.pop("register_number")
        return (found.action, found.actor_id, found.from_stage, found.to_stage, changes, details)

    assert columns(submitted) == columns(imported)
    assert entry(submitted)[:5] == entry(imported)[:5]
    assert entry(submitted)[5] == {"version": 1}
    assert entry(imported)[5] == {"version": 1, "source": "csv_import", "line": 2}
