"""Demo data for a fresh clone: made through the services, so every case has its history."""

import random
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from tracker.auth import services as auth_services
from tracker.auth.models import User
from tracker.errors import PermissionDenied
from tracker.extensions import db
from tracker.petitions import services as petition_services
from tracker.petitions.outcomes import Outcome
from tracker.workflow import CLOSE_DISPOSITIONS

ORGANIZATIONS = ("Justice Forward Project", "Second Chance Clemency Clinic")
#: Demo accounts only: seed-demo refuses to run in production.
DEMO_USERS = (
    ("advocate", "advocate@example.org", "Alex Advocate", ORGANIZATIONS[0]),
    ("advocate", "advocate2@example.org", "Bea Advocate", ORGANIZATIONS[1]),
    ("reviewer", "reviewer@example.org", "Riley Reviewer", None),
    ("reviewer", "reviewer2@example.org", "Sam Reviewer", None),
    ("supervisor", "supervisor@example.org", "Sky Supervisor", None),
)
FIRST_NAMES = (
    "Maria",
    "James",
    "Keisha",
    "Luis",
    "Darnell",
    "Ana",
    "Robert",
    "Tamika",
    "Wei",
    "Jose",
    "Angela",
    "Michael",
    "Rosa",
    "Terrence",
    "Linda",
    "Marcus",
)
LAST_NAMES = (
    "Johnson",
    "Garcia",
    "Williams",
    "Nguyen",
    "Brown",
    "Martinez",
    "Davis",
    "Lopez",
    "Wilson",
    "Jackson",
    "Thompson",
    "Rivera",
    "Harris",
    "Clark",
)
OFFENSES = (
    "Conspiracy to distribute 50 grams or more of cocaine base (21 U.S.C. § 846)",
    "Possession with intent to distribute methamphetamine (21 U.S.C. § 841(a)(1))",
    "Wire fraud (18 U.S.C. § 1343)",
    "Felon in possession of a firearm (18 U.S.C. § 922(g)(1))",
    "Conspiracy to distribute marijuana (21 U.S.C. § 846)",
    "Bank robbery (18 U.S.C. § 2113(a))",
)
COURTS = (
    "District of Maryland",
    "Eastern District of Texas",
    "Southern District of Florida",
    "Northern District of Illinois",
    "Western District of Virginia",
    "Eastern District of Missouri",
)
SENTENCES = (
    "Life imprisonment",
    "360 months' imprisonment",
    "240 months' imprisonment",
    "120 months' imprisonment, 5 years' supervised release",
    "87 months' imprisonment",
    "36 months' probation",
)
GROUNDS = (
    "Sentenced under mandatory minimums since reduced by the First Step Act; "
    "exemplary prison record and a job offer on release.",
    "Completed his sentence in 2009 and has since led a reentry mentoring program; "
    "a pardon would let him hold a commercial license.",
    "Terminal illness; the warden supports release.",
    "Would receive a far shorter sentence today; served over 20 years with no infractions.",
)
#: How the demo cases end up: (stage path, share of cases).
PATHS = (
    ((), 0.3),
    (("start_review",), 0.25),
    (("start_review", "grant"), 0.15),
    (("start_review", "deny"), 0.15),
    (("start_review", "return_for_information"), 0.1),
    (("start_review", "deny", "reopen"), 0.05),
    (("start_review", "close"), 0.03),
    (("withdraw",), 0.02),
)


def _random_petition(rng: random.Random) -> dict:
    kind = rng.choice(("commutation", "commutation", "pardon"))
    born = date(1960, 1, 1) + timedelta(days=rng.randrange(0, 35 * 365))
    sentenced = born + timedelta(days=rng.randrange(19 * 365, 40 * 365))
    sentenced = min(sentenced, date.today() - timedelta(days=400))
    in_custody = kind == "commutation"
    return {
        "kind": kind,
        "petitioner_name": f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
        "register_number": f"{rng.randrange(10000, 99999)}-{rng.randrange(0, 999):03d}"
        if in_custody or rng.random() < 0.5
        else None,
        "date_of_birth": born,
        "offenses": rng.choice(OFFENSES),
        "sentencing_court": rng.choice(COURTS),
        "sentence": rng.choice(SENTENCES),
        "sentence_date": sentenced,
        "custody_status": rng.choice(("in_prison", "home_confinement"))
        if in_custody
        else rng.choice(("released", "supervised_release")),
        "projected_release_date": sentenced + timedelta(days=rng.randrange(3000, 9000))
        if in_custody
        else None,
        "grounds": rng.choice(GROUNDS),
    } | _federal_facts(rng, kind, sentenced)


FACILITIES = (
    "FCI Cumberland",
    "FCI Aliceville",
    "USP Atlanta",
    "FPC Bryan",
    "FMC Carswell",
    "FCI Terminal Island",
)
JUDGES = (
    "Hon. Catherine Blake",
    "Hon. Marvin Garbis",
    "Hon. Ruben Castillo",
    "Hon. Norman Moon",
    "Hon. Kathleen Williams",
)
STATUTES = {
    "drug": ["21 U.S.C. § 846", "21 U.S.C. § 841(a)(1)"],
    "fraud": ["18 U.S.C. § 1343"],
    "firearms": ["18 U.S.C. § 922(g)(1)"],
    "violent": ["18 U.S.C. § 2113(a)"],
}


def _federal_facts(rng: random.Random, kind: str, sentenced: date) -> dict:
    """The federal forms' facts (issue 11), consistent with the kind: a pardon applicant was
    released long enough ago to be eligible; a commutation applicant is still serving, with a
    projected release in the future."""
    today = date.today()
    category = rng.choice(tuple(STATUTES))
    facts = {
        "docket_number": f"{rng.randrange(1, 9)}:{sentenced.year % 100:02d}-cr-"
        f"{rng.randrange(10, 999):05d}",
        "sentencing_judge": rng.choice(JUDGES),
        "statutes": STATUTES[category],
        "offense_category": category,
        "nonviolent": category != "violent",
        "conviction_by": rng.choice(("plea", "plea", "plea", "trial")),
        "conviction_date": sentenced - timedelta(days=rng.randrange(60, 200)),
        "custody_start_date": sentenced - timedelta(days=rng.randrange(0, 300)),
        "fine_amount": rng.choice((None, Decimal("0.00"), Decimal("2500.00"), Decimal("10000"))),
        "representative": "Alex Advocate, Esq.",
        "contact_email": None,
        "contact_phone": f"(410) 555-{rng.randrange(0, 9999):04d}",
    }
    if kind == "pardon":
        # Sentenced twelve years ago or more, released nine or more: eligible however long
        # ago (within the demo's three years) the case was filed.
        sentenced = min(sentenced, today - timedelta(days=12 * 366))
        facts["sentence_date"] = sentenced
        facts["conviction_date"] = sentenced - timedelta(days=rng.randrange(60, 200))
        facts["custody_start_date"] = sentenced - timedelta(days=rng.randrange(0, 300))
        released = min(
            sentenced + timedelta(days=rng.randrange(300, 3000)), today - timedelta(days=9 * 366)
        )
        released = max(released, sentenced)
        facts |= {
            "relief_sought": "full_pardon",
            "custody_start_date": min(facts["custody_start_date"], released),
            "release_date": released,
            "supervision_end_date": released + timedelta(days=3 * 365),
            "financial_obligations_paid": True,
            "bop_facility": rng.choice(FACILITIES),
        }
    else:
        facts |= {
            "relief_sought": rng.choice(("commutation_time_served", "commutation_reduced")),
            "bop_facility": rng.choice(FACILITIES),
            "projected_release_date": today + timedelta(days=rng.randrange(200, 6000)),
            "financial_obligations_paid": False,
        }
    return facts


@contextmanager
def _clock(moment: datetime):
    """Write the demo's cases as if at ``moment`` (case numbers, time stamps, history), so
    that the demo's cases are of different ages; moments only move forward."""
    config = current_app.config
    previous = config.get("CLOCK")
    # tracker.clock is the one "now" of the case services and the audit log: time stamps,
    # the clocks' columns, due dates and audit entries all follow it.
    config["CLOCK"] = lambda: moment
    try:
        yield
    finally:
        config["CLOCK"] = previous


def _three_years_of_moments(rng: random.Random, count: int) -> list[datetime]:
    """``count`` submission times over the last three years, oldest first."""
    now = datetime.now(UTC)
    start = now - timedelta(days=3 * 365)
    return sorted(
        start + timedelta(seconds=rng.randrange(0, 3 * 365 * 86400 - 86400 * 30))
        for _ in range(count)
    )


#: How many petitions ``_petitioner_stories`` files.
STORY_PETITIONS = 3


def _petitioner_stories(rng, advocate, reviewer, supervisor):
    """A petitioner denied, then filing again after the waiting period; and a pardon filed
    within the waiting period with a waiver the supervisor approved, then granted."""
    now = datetime.now(UTC)
    first = _random_petition(rng) | {
        "kind": "commutation",
        "register_number": "31415-926",
        "petitioner_name": "Denise Okafor",
        "relief_sought": "commutation_time_served",
        "custody_status": "in_prison",
        "release_date": None,
        "supervision_end_date": None,
        "projected_release_date": date.today() + timedelta(days=4000),
    }
    with _clock(now - timedelta(days=int(2.9 * 365))):
        denied = petition_services.submit_petition(advocate, first)
    with _clock(now - timedelta(days=int(2.8 * 365))):
        petition_services.apply_transition(denied, reviewer, "start_review")
        petition_services.apply_transition(
            denied, reviewer, "deny", "Insufficient showing of rehabilitation at this time."
        )
    with _clock(now - timedelta(days=int(0.5 * 365))):
        petition_services.submit_petition(
            advocate,
            first
            | {
                "grounds": "Since the denial: completed a drug treatment program and an "
                "apprenticeship; the warden now supports release.",
            },
        )
    released = (now - timedelta(days=3 * 365)).date()
    pardon = _random_petition(rng) | {
        "kind": "pardon",
        "register_number": "27182-818",
        "petitioner_name": "Tomas Reyes",
        "custody_status": "released",
        "projected_release_date": None,
        "sentence_date": released - timedelta(days=5 * 365),
        "custody_start_date": released - timedelta(days=5 * 365),
        "conviction_date": released - timedelta(days=5 * 365 + 90),
        "release_date": released,
        "supervision_end_date": None,
        "relief_sought": "full_pardon",
        "waiver_requested": True,
        "waiver_justification": "Offered a position as a licensed nurse that requires a pardon "
        "before the five-year waiting period ends.",
    }
    with _clock(now - timedelta(days=20)):
        waiver_case = petition_services.submit_petition(advocate, pardon)
    with _clock(now - timedelta(days=10)):
        petition_services.apply_transition(waiver_case, reviewer, "start_review")
        petition_services.apply_transition(
            waiver_case,
            supervisor,
            "approve_waiver",
            "Exceptional circumstances: the job offer is documented.",
        )


def _pick_path(rng: random.Random) -> tuple[str, ...]:
    roll, total = rng.random(), 0.0
    for path, share in PATHS:
        total += share
        if roll < total:
            return path
    return ()


def seed_demo(petition_count: int = 50):
    """Create the demo organizations, users and petitions; None when they already exist."""
    if current_app.config["ENV_NAME"] == "production":
        raise PermissionDenied(_("seed-demo refuses to run in production."))
    if db.session.scalar(select(User).where(User.email == DEMO_USERS[0][1])) is not None:
        return None
    organizations = {
        name: auth_services.find_organization(name) or auth_services.create_organization(None, name)
        for name in ORGANIZATIONS
    }
    users, credentials = {}, []
    for role, email, name, organization in DEMO_USERS:
        password = f"demo-{role}-password"
        users[email] = auth_services.create_user(
            None,
            email=email,
            name=name,
            role=role,
            password=password,
            organization=organizations.get(organization),
        )
        credentials.append((role, email, password))
    rng = random.Random(2026)
    advocates = [users["advocate@example.org"], users["advocate2@example.org"]]
    reviewers = [users["reviewer@example.org"], users["reviewer2@example.org"]]
    supervisor = users["supervisor@example.org"]
    stories = petition_count >= STORY_PETITIONS  # the stories are part of the count
    limit = petition_count - (STORY_PETITIONS if stories else 0)
    shown = _seed_every_disposition(rng, advocates, reviewers[0], supervisor, limit)
    random_count = limit - shown
    moments = _three_years_of_moments(rng, random_count)
    for index in range(random_count):
        # Each case is written at its own moment of the last three years, oldest first.
        with _clock(moments[index]):
            petition = petition_services.submit_petition(
                rng.choice(advocates), _random_petition(rng)
            )
            reviewer = rng.choice(reviewers)
            path = _pick_path(rng)
            if path:
                petition_services.assign_petition(petition, reviewer, reviewer)
            for action in path:
                actor = supervisor if action == "reopen" else reviewer
                reason = {
                    "grant": "Meets the criteria of the commutation initiative.",
                    "deny": "Insufficient showing of rehabilitation at this time.",
                    "return_for_information": "Please add the institutional disciplinary record.",
                    "reopen": "New information from the warden.",
                    "close": "The petitioner is no longer in federal custody.",
                }.get(action)
                _recommend_before(petition, action, reviewer, supervisor, rng)
                outcome = _demo_outcome(petition, action, rng)
                petition_services.apply_transition(petition, actor, action, reason, outcome=outcome)
            if path and rng.random() < 0.4:
                petition_services.add_note(
                    petition,
                    reviewer,
                    "Requested the presentence report from the court.",
                    "internal",
                )
            if path and rng.random() < 0.3:
                petition_services.add_note(
                    petition, reviewer, "We received the support letters, thank you.", "shared"
                )
    if stories:
        _petitioner_stories(rng, advocates[0], reviewers[0], supervisor)
    _home_confinement_act(supervisor)
    return credentials


def _home_confinement_act(supervisor) -> None:
    """A recorded act (issue 14): the commutations under review of people on home
    confinement, granted time served at once; cases it could not grant are listed on its
    entry. Nothing when the demo has no such case (a small ``--petitions``)."""
    from tracker.acts import services as acts

    act = acts.draft_act(
        supervisor,
        {
            "title": "Commutations for people placed on home confinement during the pandemic",
            "signed_on": date(2024, 12, 12),
            "authority": "President",
            "relief": "commutation_time_served",
            "terms": "The term of supervised release imposed by the court remains.",
            "note": "People placed on home confinement under the CARES Act who have "
            "shown they can succeed in their communities.",
        },
    )
    filters = {"stage": "under_review", "kind": "commutation", "custody_status": "home_confinement"}
    if (
        acts.add_cases_by_filter(act, supervisor, filters)
        and acts.preview(act, supervisor).included
    ):
        acts.record_act(act, supervisor)


# --- dispositions, reliefs, recommendations ------------------------------------------------------

COMMUTATION_RELIEFS = ("commutation_time_served", "commutation_reduced", "remission", "respite")
#: A close's reason for each disposition, as an office would write it.
CLOSE_REASONS = {
    "closed_without_action": "Closed without presidential action at the end of the term.",
    "ineligible": "Not eligible: the petitioner has not completed the waiting period.",
    "deceased": "The Bureau of Prisons reports the petitioner died in custody.",
    "moot": "Moot: the sentencing court reduced the sentence under § 3582(c)(1)(A).",
}


def _demo_outcome(
    petition, action: str, rng: random.Random, relief: str | None = None
) -> Outcome | None:
    """A relief that fits the kind (a commutation's new release date lies ahead, so no
    granted commutation is "in prison" past its release), or a close's disposition."""
    if action == "close":
        return Outcome(disposition=rng.choice(CLOSE_DISPOSITIONS))
    if action != "grant":
        return None
    if petition.kind == "pardon":
        return Outcome(relief="full_pardon", terms="Full and unconditional pardon.")
    relief = relief or rng.choice(COMMUTATION_RELIEFS)
    if relief == "commutation_reduced":
        release = date.today() + timedelta(days=rng.randrange(60, 700))
        return Outcome(
            relief=relief,
            commuted_sentence="180 months' imprisonment",
            new_release_date=release,
            terms="The term of supervised release remains.",
        )
    if relief == "remission":
        amount = Decimal(rng.randrange(500, 50_000)).quantize(Decimal("0.01"))
        return Outcome(relief=relief, remission_amount=amount, terms="Remission of the fine.")
    if relief == "respite":
        return Outcome(relief=relief, terms="Reprieve of 90 days for medical treatment.")
    return Outcome(relief=relief, terms="Release on the completion of reentry planning.")


def _recommend_before(petition, action: str, reviewer, supervisor, rng: random.Random) -> None:
    """A staff attorney's recommendation, then sometimes a supervisor's, before a decision;
    now and then the decision goes against the latest (the history marks it)."""
    if action not in ("grant", "deny"):
        return
    agrees = "favorable" if action == "grant" else "unfavorable"
    petition_services.add_recommendation(
        petition, reviewer, agrees, "The record supports this outcome; see the memo file."
    )
    if rng.random() < 0.3:
        latest = rng.choice((agrees, "no_position", "favorable", "unfavorable"))
        petition_services.add_recommendation(
            petition, supervisor, latest, "Supervisor's review of the staff recommendation."
        )


def _seed_every_disposition(rng: random.Random, advocates, reviewer, supervisor, limit: int):
    """One case per way of closing, a withdrawal by the advocate, and a grant of each relief
    (of the kind it fits), so the demo shows every one whatever the dice; at most ``limit``
    cases (of the demo's count). Returns how many it made."""
    endings = [("close", disposition) for disposition in CLOSE_REASONS]
    endings += [("withdraw", "withdrawn")]
    endings += [("grant", relief) for relief in ("full_pardon", *COMMUTATION_RELIEFS)]
    for action, ending in endings[:limit]:
        kind = "pardon" if ending == "full_pardon" else "commutation"
        values = _random_petition(rng)
        while action == "grant" and values["kind"] != kind:
            values = _random_petition(rng)
        advocate = rng.choice(advocates)
        petition = petition_services.submit_petition(advocate, values)
        if action == "withdraw":
            reason = "The petitioner asked in writing to withdraw the petition."
            petition_services.apply_transition(petition, advocate, "withdraw", reason)
            continue
        petition_services.apply_transition(petition, reviewer, "start_review")
        if action == "close":
            outcome = Outcome(disposition=ending)
            petition_services.apply_transition(
                petition, reviewer, "close", CLOSE_REASONS[ending], outcome=outcome
            )
            continue
        _recommend_before(petition, "grant", reviewer, supervisor, rng)
        outcome = _demo_outcome(petition, "grant", rng, ending)
        petition_services.apply_transition(
            petition, supervisor, "grant", "Meets the criteria.", outcome=outcome
        )
    return min(limit, len(endings))
