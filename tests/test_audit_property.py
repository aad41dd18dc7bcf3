"""Property: whatever users try, each case's history replays to exactly its current state."""

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import petition_values, unique_register_number
from tracker.audit import services as audit
from tracker.audit.replay import case_entries, current_state, replay
from tracker.errors import DomainError
from tracker.extensions import db
from tracker.petitions import services as petition_services
from tracker.petitions.outcomes import Outcome
from tracker.workflow import CASE_ACTIONS, TRANSITIONS

ACTORS = ("advocate_a", "advocate_b", "reviewer", "reviewer2", "supervisor")
EDITS = {
    "sentence": st.sampled_from(["120 months", "240 months", "Life", ""]),
    "register_number": st.sampled_from(["12345-678", "99999-001", "bad", None]),
    "petitioner_name": st.text(min_size=0, max_size=12),
    "date_of_birth": st.dates(min_value=date(1940, 1, 1), max_value=date(2030, 1, 1)),
    "kind": st.sampled_from(["pardon", "commutation", "amnesty"]),
    "custody_status": st.sampled_from(["in_prison", "released", "on_the_moon"]),
    "release_date": st.sampled_from([date(2024, 2, 29), date(2010, 1, 1), None]),
    "waiver_requested": st.sampled_from([True, False, None]),
}

#: What a transition may ask to record: nothing, dispositions, reliefs that fit a pardon or a
#: commutation, and ones that fit neither or are incomplete.
OUTCOMES = (
    None,
    Outcome(disposition="deceased"),
    Outcome(disposition="withdrawn"),
    Outcome(relief="full_pardon", terms="None."),
    Outcome(relief="commutation_reduced", new_release_date=date(2027, 6, 30)),
    Outcome(relief="remission", remission_amount=Decimal("1500.00")),
    Outcome(relief="remission"),
)

steps = st.lists(
    st.one_of(
        st.tuples(
            st.just("transition"),
            st.sampled_from(ACTORS),
            st.integers(0, 2),
            st.sampled_from([t.name for t in (*TRANSITIONS, *CASE_ACTIONS)]),
            st.sampled_from(["Reason given.", ""]),
            st.sampled_from(OUTCOMES),
        ),
        st.tuples(
            st.just("recommend"),
            st.sampled_from(ACTORS),
            st.integers(0, 2),
            st.sampled_from(["favorable", "unfavorable", "no_position", "maybe"]),
        ),
        st.tuples(
            st.just("edit"),
            st.sampled_from(ACTORS),
            st.integers(0, 2),
            st.sampled_from(sorted(EDITS)).flatmap(
                lambda name: st.tuples(st.just(name), EDITS[name])
            ),
        ),
        st.tuples(
            st.just("assign"),
            st.sampled_from(ACTORS),
            st.integers(0, 2),
            st.sampled_from(ACTORS + (None,)),
        ),
        st.tuples(
            st.just("note"),
            st.sampled_from(ACTORS),
            st.integers(0, 2),
            st.sampled_from(["internal", "shared"]),
        ),
    ),
    max_size=30,
)


@pytest.fixture
def cast(make_user, make_organization):
    org_a, org_b = make_organization(), make_organization()
    return {
        "advocate_a": make_user("advocate", organization=org_a),
        "advocate_b": make_user("advocate", organization=org_b),
        "reviewer": make_user("reviewer"),
        "reviewer2": make_user("reviewer"),
        "supervisor": make_user("supervisor"),
    }


def attempt(step, cast, petitions):
    kind, actor_name, index, *rest = step
    actor, petition = cast[actor_name], petitions[index]
    if kind == "transition":
        action, reason, outcome = rest
        if action == "submit":
            petitions.append(petition_services.submit_petition(actor, petition_values()))
        else:
            petition_services.apply_transition(petition, actor, action, reason, outcome=outcome)
    elif kind == "recommend":
        petition_services.add_recommendation(petition, actor, rest[0], "A memo.")
    elif kind == "edit":
        ((name, value),) = rest
        petition_services.update_petition(petition, actor, {name: value}, petition.version)
    elif kind == "assign":
        assignee = cast[rest[0]] if rest[0] else None
        petition_services.assign_petition(petition, actor, assignee)
    else:
        petition_services.add_note(petition, actor, "A note.", rest[0])


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=steps)
def test_history_replays_to_current_state(app_ctx, cast, steps):
    petitions = [
        petition_services.submit_petition(
            cast["advocate_a"], petition_values(register_number=unique_register_number())
        ),
        # A pardon filed within the waiting period, with a waiver request: its grant waits
        # for approve_waiver.
        petition_services.submit_petition(
            cast["advocate_a"],
            petition_values(
                kind="pardon",
                register_number=unique_register_number(),
                projected_release_date=None,
                custody_status="released",
                release_date=date(2024, 2, 29),
                waiver_requested=True,
                waiver_justification="Terminal illness.",
            ),
        ),
        petition_services.submit_petition(
            cast["advocate_b"], petition_values(register_number=unique_register_number())
        ),
    ]
    db.session.commit()
    for step in steps:
        savepoint = db.session.begin_nested()
        try:
            attempt(step, cast, petitions)
        except DomainError:
            savepoint.rollback()
        else:
            savepoint.commit()
    db.session.commit()
    db.session.expire_all()
    for petition in petitions:
        assert replay(case_entries(petition)) == current_state(petition), petition.case_number
    result = audit.verify_chain()
    assert result.intact, result.message


@pytest.mark.parametrize(
    ("ending", "actor_name", "outcome"),
    [
        ("close", "reviewer", Outcome(disposition="closed_without_action")),
        ("withdraw", "advocate_a", None),
    ],
)
def test_a_case_ended_while_information_is_requested_replays(
    app_ctx, cast, ending, actor_name, outcome
):
    """Closing or withdrawing a case that waits for information, then reopening it, replays
    to its state; the unanswered request no longer holds the case."""
    petition = petition_services.submit_petition(
        cast["advocate_a"], petition_values(register_number=unique_register_number())
    )
    reviewer = cast["reviewer"]
    petition_services.apply_transition(petition, reviewer, "start_review")
    petition_services.apply_transition(petition, reviewer, "return_for_information", "Report?")
    petition_services.apply_transition(
        petition, cast[actor_name], ending, "No answer came.", outcome=outcome
    )
    db.session.commit()
    db.session.expire_all()
    assert petition.stage == "closed" and petition.open_information_request is None
    assert replay(case_entries(petition)) == current_state(petition)

    petition_services.apply_transition(petition, cast["supervisor"], "reopen", "Answer came.")
    db.session.commit()
    db.session.expire_all()
    assert petition.stage == "under_review" and petition.disposition is None
    assert replay(case_entries(petition)) == current_state(petition)
