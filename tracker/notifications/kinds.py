"""Who hears what: one row per audited action that notifies someone.

``audiences`` maps who hears it — the petition's ``advocate``, its ``assignee``, or the
``subject``: the one person the entry names (its ``subject_user_id``) — to the side the
actor must be on for them to hear it (None: whoever acted). Nobody is told of their own
action, and deactivated users are told nothing.

A reminder is for the person it names, and for nobody else: the reminders command
(``tracker.deadlines.services.record_reminders``) appends one entry per person — the
assignee, the advocate for their information request, the supervisors for a case nobody
works — so each is told of their own reminder once, and an advocate is never told of
staff's reminders (an old case's, a referral's). Actions added by other parts
(closure, the information loop, documents, reminders) are declared here already; they
notify as soon as something appends their audit entry.
"""

from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l

ADVOCATE = "advocate"
ASSIGNEE = "assignee"
SUBJECT = "subject"
STAFF_SIDE = "staff"
ADVOCATE_SIDE = "advocate"


@dataclass(frozen=True)
class Kind:
    action: str
    #: What the account page's e-mail preference reads.
    label: str
    #: What happened, as a sentence with the case number in ``%(case)s`` (no final stop):
    #: never a name or a detail of the case.
    sentence: str
    audiences: dict[str, str | None] = field(default_factory=dict)
    #: Only entries whose details say visibility "shared" notify (documents).
    shared_only: bool = False


KINDS: dict[str, Kind] = {
    kind.action: kind
    for kind in (
        Kind("grant", _l("A decision: granted"), _l("Case %(case)s was granted"), {ADVOCATE: None}),
        Kind("deny", _l("A decision: denied"), _l("Case %(case)s was denied"), {ADVOCATE: None}),
        Kind("close", _l("A case closed"), _l("Case %(case)s was closed"), {ADVOCATE: None}),
        Kind(
            "withdraw", _l("A case withdrawn"), _l("Case %(case)s was withdrawn"), {ADVOCATE: None}
        ),
        Kind(
            "return_for_information",
            _l("A request for information"),
            _l("Case %(case)s was returned to you: information is requested"),
            {ADVOCATE: None},
        ),
        Kind(
            "note_shared",
            _l("A note shared with you"),
            _l("Case %(case)s has a new note shared with you"),
            {ADVOCATE: None},
        ),
        Kind(
            "document_uploaded",
            _l("A new shared document"),
            _l("Case %(case)s has a new shared document"),
            {ADVOCATE: STAFF_SIDE, ASSIGNEE: ADVOCATE_SIDE},
            shared_only=True,
        ),
        Kind(
            "assign",
            _l("A case assigned to you"),
            _l("Case %(case)s was assigned to you"),
            {ASSIGNEE: None},
        ),
        Kind(
            "provide_information",
            _l("Information provided by the advocate"),
            _l("Case %(case)s has the information the advocate was asked for"),
            {ASSIGNEE: None},
        ),
        Kind(
            "reminder",
            _l("A reminder of something due or overdue"),
            _l("Case %(case)s has something due or overdue: a reminder"),
            {SUBJECT: None},
        ),
    )
}


def kinds_for(user) -> list[Kind]:
    """The kinds a user can receive, for their e-mail preferences (by their side)."""
    audience = ASSIGNEE if user.is_staff else ADVOCATE
    return [
        kind for kind in KINDS.values() if audience in kind.audiences or SUBJECT in kind.audiences
    ]
