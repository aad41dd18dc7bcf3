"""Demo data for a fresh clone: made through the services, so every case has its history."""

import random
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import select

from tracker.auth import services as auth_services
from tracker.auth.models import User
from tracker.errors import PermissionDenied
from tracker.extensions import db
from tracker.petitions import services as petition_services

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
COURTS = ("District of Maryland", "Eastern District of Texas", "Southern District of Florida",
          "Northern District of Illinois", "Western District of Virginia",
          "Eastern District of Missouri")  # fmt: skip
SENTENCES = ("Life imprisonment", "360 months' imprisonment", "240 months' imprisonment",
             "120 months' imprisonment, 5 years' supervised release",
             "87 months' imprisonment", "36 months' probation")  # fmt: skip
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
        if in_custody or rng.random() < 0.5 else None,
        "date_of_birth": born,
        "offenses": rng.choice(OFFENSES),
        "sentencing_court": rng.choice(COURTS),
        "sentence": rng.choice(SENTENCES),
        "sentence_date": sentenced,
        "custody_status": rng.choice(("in_prison", "home_confinement"))
        if in_custody else rng.choice(("released", "supervised_release")),
        "projected_release_date": sentenced + timedelta(days=rng.randrange(3000, 9000))
        if in_custody else None,
        "grounds": rng.choice(GROUNDS),
    }  # fmt: skip


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
        raise PermissionDenied("seed-demo refuses to run in production.")
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
            None, email=email, name=name, role=role, password=password,
            organization=organizations.get(organization),
        )  # fmt: skip
        credentials.append((role, email, password))
    rng = random.Random(2026)
    advocates = [users["advocate@example.org"], users["advocate2@example.org"]]
    reviewers = [users["reviewer@example.org"], users["reviewer2@example.org"]]
    supervisor = users["supervisor@example.org"]
    for _ in range(petition_count):
        petition = petition_services.submit_petition(rng.choice(advocates), _random_petition(rng))
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
            }.get(action)  # fmt: skip
            petition_services.apply_transition(petition, actor, action, reason)
        if path and rng.random() < 0.4:
            petition_services.add_note(
                petition, reviewer, "Requested the presentence report from the court.", "internal"
            )
        if path and rng.random() < 0.3:
            petition_services.add_note(
                petition, reviewer, "We received the support letters, thank you.", "shared"
            )
    return credentials
