"""The summary behind the dashboards and the statistics (``tracker.dashboards.summary``): kept
in the same transaction as each change, it equals a recount from scratch after any history —
submissions, single and bulk transitions, reopenings, corrected kinds — and
``flask dashboards verify`` reports any drift."""

from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from tests.conftest import petition_values, unique_register_number
from tracker.cli import dashboards_group
from tracker.dashboards import queries, summary
from tracker.dashboards.models import MonthTally, StageTally
from tracker.errors import DomainError
from tracker.extensions import db
from tracker.petitions import services as petition_services
from tracker.petitions.models import Petition
from tracker.petitions.outcomes import Outcome

RELIEF_FOR = {"pardon": "full_pardon", "commutation": "commutation_time_served"}
PARDON_FIELDS = {"custody_status": "released", "projected_release_date": None}


def _values(kind: str) -> dict:
    values = petition_values(kind=kind, register_number=unique_register_number())
    return values | PARDON_FIELDS if kind == "pardon" else values


def _outcome(kind: str, action: str, disposition: str) -> Outcome | None:
    if action == "grant":
        return Outcome(relief=RELIEF_FOR[kind])
    if action == "close":
        return Outcome(disposition=disposition)
    return None


steps = st.lists(
    st.tuples(
        st.integers(0, 24 * 90),  # hours the clock moves first
        st.sampled_from(
            [
                "submit",
                "start_review",
                "return_for_information",
                "grant",
                "deny",
                "close",
                "withdraw",
                "reopen",
                "bulk_start_review",
                "bulk_deny",
                "correct_kind",
            ]
        ),
        st.integers(0, 5),
        st.sampled_from(["pardon", "commutation"]),
        st.sampled_from(["closed_without_action", "moot", "deceased"]),
    ),
    max_size=25,
)


def _take(action, petition, people, disposition):
    kind = petition.kind
    if action == "correct_kind":
        new_kind = "pardon" if kind == "commutation" else "commutation"
        values = {"kind": new_kind, **(PARDON_FIELDS if new_kind == "pardon" else {})}
        petition_services.update_petition(petition, people["supervisor"], values, None)
    elif action.startswith("bulk_"):
        petition_services.decide_petitions(
            people["supervisor"],
            action.removeprefix("bulk_"),
            "Reason.",
            {petition.case_number: None},
        )
    else:
        actor = people["advocate"] if action == "withdraw" else people["supervisor"]
        outcome = _outcome(kind, action, disposition)
        petition_services.apply_transition(petition, actor, action, "Reason.", outcome=outcome)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=steps)
def test_the_summary_equals_a_recount_after_any_history(
    app_ctx, make_user, make_organization, moving_clock, steps
):
    people = {
        "advocate": make_user("advocate", organization=make_organization()),
        "supervisor": make_user("supervisor"),
    }
    moving_clock.moment = datetime(2024, 9, 25, 12, tzinfo=UTC)
    db.session.expire_all()  # ids are handed out again after a rolled-back example
    example = db.session.begin_nested()
    petitions = []
    try:
        for hours, action, index, kind, disposition in steps:
            moving_clock.moment += timedelta(hours=hours)
            step = db.session.begin_nested()
            try:
                if action == "submit":
                    petitions.append(
                        petition_services.submit_petition(people["advocate"], _values(kind))
                    )
                elif petitions:
                    _take(action, petitions[index % len(petitions)], people, disposition)
                else:
                    raise DomainError("nothing to act on")
            except DomainError:
                step.rollback()
                continue
            step.commit()
        assert summary.drift() == []
        # And what the dashboard shows is what the petitions say, counted here.
        counted = Counter(
            (stage, kind)
            for stage, kind in db.session.execute(select(Petition.stage, Petition.kind))
        )
        shown = {key: n for key, n in queries.cases_by_stage_and_kind().items() if n}
        assert shown == dict(counted)
    finally:
        example.rollback()


def test_a_reopened_case_leaves_its_decisions_month(
    app_ctx, make_petition, make_user, moving_clock
):
    """The months count the cases as they stand: a reopened case is no longer decided."""
    supervisor = make_user("supervisor")
    petition = make_petition("denied")
    decided = queries.received_and_decided_per_month()[-1].decided
    petition_services.apply_transition(petition, supervisor, "reopen", "New facts.")
    assert queries.received_and_decided_per_month()[-1].decided == decided - 1
    assert summary.drift() == []


def test_a_kind_corrected_with_the_information_asked_for_moves_in_the_summary(
    app_ctx, make_petition, make_user, moving_clock
):
    petition = make_petition("information_requested")
    petition_services.apply_transition(
        petition,
        petition.advocate,
        "provide_information",
        response="It is a pardon.",
        corrections={"kind": "pardon", **PARDON_FIELDS},
    )
    assert petition.kind == "pardon"
    assert summary.drift() == []
    assert queries.cases_by_stage_and_kind().get(("under_review", "pardon")) == 1


def test_verify_reports_drift_and_rebuild_repairs_it(app, app_ctx, make_petition):
    make_petition("under_review")
    make_petition("denied")
    runner = app.test_cli_runner()
    clean = runner.invoke(dashboards_group, ["verify"])
    assert clean.exit_code == 0, clean.output
    assert "equals a recount" in clean.output

    db.session.execute(
        update(StageTally).where(StageTally.stage == "denied").values(cases=StageTally.cases + 5)
    )
    db.session.execute(update(MonthTally).where(MonthTally.measure == "submitted").values(cases=0))
    drifted = runner.invoke(dashboards_group, ["verify"])
    assert drifted.exit_code == 1
    assert "summary rows differ from a recount" in drifted.output
    assert "cases in denied" in drifted.output
    assert "submitted, " in drifted.output

    rebuilt = runner.invoke(dashboards_group, ["rebuild"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert summary.drift() == []
    total = db.session.scalar(select(func.sum(StageTally.cases)))
    assert total == db.session.scalar(select(func.count()).select_from(Petition))
