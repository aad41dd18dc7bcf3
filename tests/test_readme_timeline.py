"""The README's case timeline is what a reviewer's case page shows (issue 12: "the README
shows the case timeline a reviewer sees, with referrals and an information request").

The case of the README is built here through the services with a fixed clock, its page is
read as its reviewer reads it, and the history's entries, as text, must be the README's
block under "The timeline a reviewer sees" line for line. Change the page, and this test
prints the block to paste.
"""

import re
import textwrap
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser

from tests.conftest import petition_values, unique_register_number
from tests.test_time import FixedClock
from tests.test_time import fixed_clock as fixed_clock  # the fixture
from tracker.deadlines import services as deadlines
from tracker.deadlines.models import Referral
from tracker.extensions import db
from tracker.petitions import services as petition_services
from tracker.petitions.outcomes import Outcome

#: Monday 2026-01-05 15:02 UTC: 10:02 in New York, the display time zone.
START = datetime(2026, 1, 5, 15, 2, tzinfo=UTC)
README_HEADING = "The timeline a reviewer sees on a case that waited on the FBI and on the advocate"


def build_case(clock: FixedClock, make_user):
    advocate = make_user("advocate", name="Ana Advocate", email="ana@clinic.example")
    reviewer = make_user("reviewer", name="Rita Reviewer", email="rita@pardon.example")
    supervisor = make_user("supervisor", name="Sam Supervisor", email="sam@pardon.example")
    clock.moment = START
    values = petition_values(register_number=unique_register_number())
    petition = petition_services.submit_petition(advocate, values)
    db.session.commit()

    def at(days: int, hour: int, minute: int = 0):
        clock.moment = START.replace(hour=hour, minute=minute) + timedelta(days=days)

    at(2, 14, 15)
    petition_services.assign_petition(petition, reviewer, reviewer)
    at(2, 14, 20)
    petition_services.apply_transition(petition, reviewer, "start_review")
    at(2, 14, 40)
    fbi = deadlines.open_referral(petition, reviewer, {"agency": "fbi"})
    us_attorney = deadlines.open_referral(petition, reviewer, {"agency": "us_attorney"})
    at(8, 16)
    petition_services.apply_transition(
        petition,
        reviewer,
        "return_for_information",
        "Please send the latest BOP progress report.",
        due_on=date(2026, 2, 12),
    )
    db.session.commit()
    at(22, 20, 30)
    petition_services.apply_transition(
        petition,
        advocate,
        "provide_information",
        response="The report of January is attached.",
        corrections={"sentencing_court": "District of Maryland (Baltimore)"},
    )
    at(46, 15)
    deadlines.change_referral(
        us_attorney, petition, reviewer, {"answered": True, "summary": "No objection."}
    )
    at(120, 15)
    deadlines.change_referral(
        fbi, petition, reviewer, {"due_on": "2026-06-30", "reason": "FBI asked for time"}
    )
    at(176, 11)
    deadlines.record_reminders()
    at(180, 17)
    petition_services.apply_transition(
        petition,
        supervisor,
        "grant",
        "Rehabilitation shown; the sentence is disproportionate today.",
        outcome=Outcome(relief="commutation_time_served"),
        close_referrals_reason="Answered by phone; record to follow.",
    )
    db.session.commit()
    assert db.session.get(Referral, fbi.id).answered_on is not None
    return petition, reviewer, (fbi.id, us_attorney.id)


class _Timeline(HTMLParser):
    """The text of each entry of the history's list (``ol.timeline``), nested lists included."""

    def __init__(self):
        super().__init__()
        self.depth, self.entries = 0, []

    def handle_starttag(self, tag, attrs):
        if tag == "ol" and ("class", "timeline") in attrs:
            self.depth = 1
        elif self.depth and tag in ("ol", "ul"):
            self.depth += 1
        elif self.depth == 1 and tag == "li":
            self.entries.append("")

    def handle_endtag(self, tag):
        if self.depth and tag in ("ol", "ul"):
            self.depth -= 1

    def handle_data(self, data):
        if self.depth and self.entries:
            self.entries[-1] += " " + data


def timeline_lines(page: str) -> list[str]:
    """The history's entries as one line of text each (tags dropped, spaces collapsed)."""
    parser = _Timeline()
    parser.feed(page)
    return [" ".join(entry.split()) for entry in parser.entries]


def readme_block() -> list[str]:
    """The README's entries: each starts at the line's start, indented lines continue it."""
    with open("README.md", encoding="utf-8") as readme:
        text = readme.read()
    block = text.split(README_HEADING, 1)[1].split("```", 2)[1]
    entries = []
    for line in block.splitlines()[1:]:
        if line.startswith(" ") and entries:
            entries[-1] += " " + line.strip()
        elif line.strip():
            entries.append(line.strip())
    return [" ".join(entry.split()) for entry in entries]


def as_readme_block(entries: list[str]) -> str:
    return "\n".join(
        textwrap.fill(entry, width=96, subsequent_indent="    ", break_on_hyphens=False)
        for entry in entries
    )


def test_the_readme_timeline_is_the_reviewers_case_page(fixed_clock, client, auth, make_user):
    petition, reviewer, referral_ids = build_case(fixed_clock, make_user)
    assert auth.login(reviewer).destination
    page = client.get(f"/petitions/{petition.case_number}").get_data(as_text=True)
    # Numbers that depend on what the database held before (PostgreSQL's sequences) are
    # written as in the README.
    numbers = {petition.case_number: "CP-2026-000042"}
    numbers |= {f"#{id_}:": f"#{n}:" for n, id_ in enumerate(referral_ids, start=12)}
    shown = [
        re.sub("|".join(map(re.escape, numbers)), lambda m: numbers[m[0]], line)
        for line in timeline_lines(page)
    ]
    expected = as_readme_block(shown)
    assert readme_block() == shown, f"The README's block should read:\n{expected}"
