"""The petition lifecycle, declared once as data.

received → under_review → granted | denied | closed, with ``return_for_information``
asking the advocate for information (*information_requested*, answered by
``provide_information``), ``withdraw`` and ``close`` ending a case without a decision on its
merits (its ``disposition`` says how), and ``reopen`` undoing any ending. Pages,
the API, bulk decisions and the README's diagram all read this table; a stage
changes only through ``tracker.petitions.services.decide_petitions`` (of which
``apply_transition`` is the one-case form), which checks the move here first.
"""

from dataclasses import dataclass
from enum import StrEnum

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from tracker.errors import DomainError, PermissionDenied


class Stage(StrEnum):
    RECEIVED = "received"
    UNDER_REVIEW = "under_review"
    #: Returned to the advocate with an open information request (issue 12).
    INFORMATION_REQUESTED = "information_requested"
    GRANTED = "granted"
    DENIED = "denied"
    #: Ended without a decision on the merits: withdrawn, or closed by the office.
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return STAGE_LABELS[self]

    @property
    def is_decided(self) -> bool:
        """Decided or closed: the case is finished (no edits, no assignment, not pending)."""
        return self in DECIDED_STAGES


#: What people read for each stage (the API and the database keep the codes).
STAGE_LABELS = {
    Stage.RECEIVED: _l("Received"),
    Stage.UNDER_REVIEW: _l("Under review"),
    Stage.INFORMATION_REQUESTED: _l("Information requested"),
    Stage.GRANTED: _l("Granted"),
    Stage.DENIED: _l("Denied"),
    Stage.CLOSED: _l("Closed"),
}
#: The final stages: a case here has a disposition, a time and a person who ended it.
DECIDED_STAGES = frozenset({Stage.GRANTED, Stage.DENIED, Stage.CLOSED})
#: The ``pending`` filter: every stage a case waits in (not decided nor closed).
PENDING_STAGES = frozenset(s for s in Stage if s not in DECIDED_STAGES)

#: How a case ended, by the stage it ended in (``petition.disposition``; null while open).
DISPOSITIONS: dict[str, str] = {
    "granted": _l("Granted"),
    "denied": _l("Denied"),
    "withdrawn": _l("Withdrawn by the petitioner"),
    "closed_without_action": _l("Closed without presidential action"),
    "ineligible": _l("Closed: the petitioner is ineligible"),
    "deceased": _l("Closed: the petitioner died"),
    "moot": _l("Closed: moot"),
}
#: The dispositions ``close`` may record (``withdraw`` records ``withdrawn``).
CLOSE_DISPOSITIONS = ("closed_without_action", "ineligible", "deceased", "moot")

#: What a grant gives, and the kinds of petition each relief fits. ``unspecified`` is what
#: an API grant without a relief records (clients older than reliefs); it fits every kind.
RELIEFS: dict[str, tuple[str, tuple[str, ...]]] = {
    "full_pardon": (_l("Full pardon"), ("pardon",)),
    "commutation_time_served": (_l("Commutation to time served"), ("commutation",)),
    "commutation_reduced": (_l("Commutation: sentence reduced"), ("commutation",)),
    "remission": (_l("Remission of a fine or restitution"), ("commutation",)),
    "respite": (_l("Respite (reprieve)"), ("commutation",)),
    "unspecified": (_l("Relief not recorded"), ("pardon", "commutation")),
}
UNSPECIFIED_RELIEF = "unspecified"
#: The reliefs a grant may name (``unspecified`` is only ever recorded, never chosen).
KINDS_OF_RELIEF = tuple(name for name in RELIEFS if name != UNSPECIFIED_RELIEF)


def relief_fits(relief: str, kind: str) -> bool:
    return kind in RELIEFS[relief][1]


class Role(StrEnum):
    ADVOCATE = "advocate"
    REVIEWER = "reviewer"
    SUPERVISOR = "supervisor"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]

    @property
    def is_staff(self) -> bool:
        return self in STAFF_ROLES

    @property
    def article(self) -> str:
        return "An" if self.value[0] in "aeiou" else "A"


STAFF_ROLES = frozenset({Role.REVIEWER, Role.SUPERVISOR})
ROLE_LABELS = {
    Role.ADVOCATE: _l("Advocate"),
    Role.REVIEWER: _l("Reviewer"),
    Role.SUPERVISOR: _l("Supervisor"),
}


@dataclass(frozen=True)
class Transition:
    """One move of the lifecycle: who may take it, from where, to where."""

    name: str
    label: str
    sources: frozenset[Stage]
    #: None for an action that keeps the stage (``CASE_ACTIONS``).
    target: Stage | None
    roles: frozenset[Role]
    reason_required: bool
    #: Bootstrap colour of the button that offers it.
    style: str = "primary"
    #: The dispositions it may record (the first unless the request names one); none: the
    #: case is open after it (``reopen`` clears the disposition and the relief).
    dispositions: tuple[str, ...] = ()


TRANSITIONS: tuple[Transition, ...] = (
    Transition(
        "submit",
        _l("Submit"),
        frozenset(),
        Stage.RECEIVED,
        frozenset({Role.ADVOCATE}),
        reason_required=False,
    ),
    Transition(
        "start_review",
        _l("Start review"),
        frozenset({Stage.RECEIVED}),
        Stage.UNDER_REVIEW,
        STAFF_ROLES,
        reason_required=False,
    ),
    # The information-request loop (issue 12): the reason is what is asked; the advocate
    # answers with a response (and field corrections), back to the same reviewer.
    Transition(
        "return_for_information",
        _l("Return for information"),
        frozenset({Stage.UNDER_REVIEW}),
        Stage.INFORMATION_REQUESTED,
        STAFF_ROLES,
        reason_required=True,
        style="warning",
    ),
    Transition(
        "provide_information",
        _l("Provide information"),
        frozenset({Stage.INFORMATION_REQUESTED}),
        Stage.UNDER_REVIEW,
        frozenset({Role.ADVOCATE}),
        reason_required=False,
    ),
    Transition(
        "grant",
        _l("Grant"),
        frozenset({Stage.UNDER_REVIEW}),
        Stage.GRANTED,
        STAFF_ROLES,
        reason_required=True,
        style="success",
        dispositions=("granted",),
    ),
    Transition(
        "deny",
        _l("Deny"),
        frozenset({Stage.UNDER_REVIEW}),
        Stage.DENIED,
        STAFF_ROLES,
        reason_required=True,
        style="danger",
        dispositions=("denied",),
    ),
    # The advocate withdraws their organization's case at any stage it waits in, an open
    # information request included; staff do it on the petitioner's written request (the
    # reason should say so, but a withdrawal needs no reason).
    Transition(
        "withdraw",
        _l("Withdraw"),
        PENDING_STAGES,
        Stage.CLOSED,
        frozenset(Role),
        reason_required=False,
        style="secondary",
        dispositions=("withdrawn",),
    ),
    # Staff close a case at any stage it waits in: typically an information request left
    # unanswered past its due date (closed_without_action, issue 12), or a petitioner who
    # died while it was open. The request then stays unanswered in the history.
    Transition(
        "close",
        _l("Close"),
        PENDING_STAGES,
        Stage.CLOSED,
        STAFF_ROLES,
        reason_required=True,
        style="secondary",
        dispositions=CLOSE_DISPOSITIONS,
    ),
    Transition(
        "reopen",
        _l("Reopen"),
        DECIDED_STAGES,
        Stage.UNDER_REVIEW,
        frozenset({Role.SUPERVISOR}),
        reason_required=True,
        style="secondary",
    ),
)

TRANSITIONS_BY_NAME: dict[str, Transition] = {t.name: t for t in TRANSITIONS}

#: Actions on an open case that keep its stage, declared here so that this module stays the
#: one place saying who may take which action: ``approve_waiver`` (issue 11) sets aside the
#: eligibility rules a case breaks, so that it may be granted.
CASE_ACTIONS: tuple[Transition, ...] = (
    Transition(
        "approve_waiver",
        _l("Approve eligibility waiver"),
        frozenset({Stage.RECEIVED, Stage.UNDER_REVIEW}),
        None,
        frozenset({Role.SUPERVISOR}),
        reason_required=True,
        style="secondary",
    ),
)
CASE_ACTIONS_BY_NAME: dict[str, Transition] = {a.name: a for a in CASE_ACTIONS}
#: Transitions that move an existing petition (``submit`` creates one instead).
PETITION_TRANSITIONS = tuple(t for t in TRANSITIONS if t.sources)


class WorkflowError(DomainError):
    """A move the workflow refuses; ``status`` is the HTTP answer for it."""


class UnknownTransition(WorkflowError):
    status = 400


class TransitionForbidden(WorkflowError, PermissionDenied):
    status = 403


class WrongStage(WorkflowError):
    status = 409

    def __init__(self, message: str, *, current_stage: str):
        super().__init__(message)
        self.current_stage = current_stage


class ReasonRequired(WorkflowError):
    status = 422


def get_transition(name: str) -> Transition:
    """The transition or case action with this name (400 for an unknown one)."""
    try:
        return TRANSITIONS_BY_NAME.get(name) or CASE_ACTIONS_BY_NAME[name]
    except KeyError:
        raise UnknownTransition(_("Unknown action '%(action)s'.", action=name)) from None


def check_role(transition: Transition, role: Role) -> None:
    """Raise TransitionForbidden (403) unless the role may ever take this action."""
    if role not in transition.roles:
        raise TransitionForbidden(
            _(
                "The role %(role)s may not take the action '%(action)s'.",
                role=role.value,
                action=transition.name,
            )
        )


def check_move(transition: Transition, role: Role, stage: Stage) -> None:
    """Raise the WorkflowError that refuses this role the move from this stage.

    The role is checked before the stage so that a role that may never take the
    action learns that (403) rather than the case's stage (409).
    """
    check_role(transition, role)
    if stage not in transition.sources:
        raise WrongStage(
            _(
                "The action '%(action)s' cannot be taken: the case is now '%(stage)s' (%(code)s).",
                action=transition.name,
                stage=stage.label.lower(),
                code=stage.value,
            ),
            current_stage=stage.value,
        )


def check_transition(transition: Transition, role: Role, stage: Stage, reason: str | None) -> None:
    """Raise the WorkflowError that refuses this move, or return when it is allowed:
    ``check_move``, then the written reason the transition may require (422)."""
    check_move(transition, role, stage)
    if transition.reason_required and not (reason or "").strip():
        raise ReasonRequired(
            _("The action '%(action)s' requires a written reason.", action=transition.name)
        )


def transitions_for(role: Role) -> list[Transition]:
    """The transitions this role may take on some case (the bulk action choices)."""
    return [t for t in PETITION_TRANSITIONS if role in t.roles]


def allowed_case_actions(stage: Stage, role: Role) -> list[Transition]:
    """The stage-keeping actions (``CASE_ACTIONS``) this role may take in this stage."""
    return [a for a in CASE_ACTIONS if stage in a.sources and role in a.roles]


def allowed_transitions(stage: Stage, role: Role) -> list[Transition]:
    """The transitions this role may take on a petition in this stage, in table order."""
    return [t for t in PETITION_TRANSITIONS if stage in t.sources and role in t.roles]


def mermaid_diagram() -> str:
    """The lifecycle as a Mermaid state diagram (the README embeds this output)."""
    lines = ["stateDiagram-v2"]
    for t in TRANSITIONS:
        roles = ", ".join(sorted(r.value for r in t.roles))
        reason = "; reason" if t.reason_required else ""
        if not t.sources:
            lines.append(f"    [*] --> {t.target.value}: {t.name} ({roles})")
        for source in sorted(t.sources):
            lines.append(f"    {source.value} --> {t.target.value}: {t.name} ({roles}{reason})")
    return "\n".join(lines)
