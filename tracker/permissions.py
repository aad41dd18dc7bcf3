"""Named rules: who may see and do what. Views, the API, templates and services all ask here.

Each rule is a function ``can_<what>(user, *subject) -> bool`` registered with its refusal
message, so the rule and what a refused user is told live in one place:

- Python asks ``require(can_edit_petition, user, petition)``, which raises PermissionDenied
  (403) with the rule's message; a view asks once, before reading the body (so a role that
  may not act learns that before any 422), and the service asks again for other callers.
- Templates ask ``can("edit_petition", petition)`` for the current user.

Which role may move a case between which stages is the workflow table's rule
(``tracker.workflow``); nothing outside these two modules tests a role or a stage.
"""

from collections.abc import Callable

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from tracker.errors import PermissionDenied
from tracker.workflow import Stage

#: Every rule by name (without ``can_``): what ``can(...)`` in templates looks up.
RULES: dict[str, Callable[..., bool]] = {}


def rule(message: str | Callable[..., str]):
    """Register a rule with the message a refused user reads (text, or built from the
    rule's arguments)."""

    def register(check):
        check.message = message
        RULES[check.__name__.removeprefix("can_")] = check
        return check

    return register


def refusal_message(check, user, *subject) -> str:
    message = check.message
    # In the request's language; str() so that what is audited is text, not a lazy string.
    return str(message(user, *subject) if callable(message) else message)


def require(check, user, *subject) -> None:
    """Raise PermissionDenied (403) with the rule's message unless the rule allows it."""
    if not check(user, *subject):
        raise PermissionDenied(refusal_message(check, user, *subject))


# --- cases ---------------------------------------------------------------------------------------


# --- account -------------------------------------------------------------------------------------


@rule(_l("API tokens are for staff's tools and for those who already use one."))
def can_offer_api_tokens(user, holds_tokens: bool = False) -> bool:
    """The account page offers API tokens to staff, and to anyone who already holds one (an
    advocate's import script); the token pages themselves stay open to every user."""
    return user.is_staff or holds_tokens


@rule(_l("Only reviewers and supervisors see every organization's cases."))
def can_view_all_petitions(user) -> bool:
    """Staff see every organization's cases."""
    return user.is_staff


@rule(lambda user, petition: _("No case %(case)s.", case=petition.case_number))
def can_view_petition(user, petition) -> bool:
    """Staff see every case; an advocate sees their own organization's cases only."""
    if user.is_staff:
        return True
    return user.is_advocate and petition.organization_id == user.organization_id


def _edit_refusal(user, petition) -> str:
    return _(
        "Case %(case)s is now %(stage)s, so it can no longer be edited by you.",
        case=petition.case_number,
        stage=Stage(petition.stage).label.lower(),
    )


@rule(_edit_refusal)
def can_edit_petition(user, petition) -> bool:
    """Advocates fix their cases while received; staff correct them until decided."""
    if not can_view_petition(user, petition):
        return False
    if user.is_advocate:
        return petition.stage == Stage.RECEIVED
    return not Stage(petition.stage).is_decided


@rule(_l("Only an advocate of an active organization may submit petitions."))
def can_submit_petition(user) -> bool:
    return user.is_advocate and user.organization is not None and user.organization.active


@rule(_l("Only reviewers and supervisors take cases."))
def can_take_cases(user) -> bool:
    return user.is_staff


@rule(lambda user, petition: _("You may not take case %(case)s.", case=petition.case_number))
def can_take_petition(user, petition) -> bool:
    """A reviewer may take an undecided case nobody works on; taking a colleague's case is
    a reassignment, which is a supervisor's (who may take any undecided case)."""
    if not user.is_staff or Stage(petition.stage).is_decided or petition.assignee_id == user.id:
        return False
    return petition.assignee_id is None or can_reassign_petitions(user)


@rule(_l("Only a supervisor may assign a case to someone else."))
def can_assign_petitions(user) -> bool:
    """Assigning work to others is a supervisor's job."""
    return user.is_supervisor


@rule(lambda user, petition: _("Case %(case)s cannot be assigned now.", case=petition.case_number))
def can_assign_petition(user, petition) -> bool:
    """A supervisor assigns an undecided case (a decided one is reopened first)."""
    return can_assign_petitions(user) and not Stage(petition.stage).is_decided


@rule(_l("A reviewer's case is reassigned by a supervisor."))
def can_reassign_petitions(user) -> bool:
    """Taking over or reassigning a case a colleague works on is a supervisor's job."""
    return user.is_supervisor


@rule(_l("Cases are assigned to active reviewers or supervisors."))
def can_be_assigned(user) -> bool:
    """Who may work cases (``user`` is the assignee here)."""
    return user.is_staff and user.active


@rule(_l("Only reviewers and supervisors write notes."))
def can_write_notes(user) -> bool:
    return user.is_staff


@rule(_l("Only reviewers and supervisors record recommendations."))
def can_recommend(user) -> bool:
    """Recommendations and their memos are internal: staff write and read them."""
    return user.is_staff


@rule(lambda user, petition: _("Case %(case)s is not under review.", case=petition.case_number))
def can_recommend_on(user, petition) -> bool:
    """A recommendation is recorded while the case is under review."""
    return can_recommend(user) and petition.stage == Stage.UNDER_REVIEW


@rule(_l("Only reviewers and supervisors see who works a case."))
def can_view_assignee(user) -> bool:
    """Who works a case (the assignee, the assignee filter) is for staff only."""
    return user.is_staff


@rule(_l("Internal notes, edits and assignments are for reviewers and supervisors."))
def can_view_internal_history(user) -> bool:
    """Internal notes, edits, assignments: staff only."""
    return user.is_staff


@rule(_l("Only reviewers and supervisors decide cases."))
def can_work_queue(user) -> bool:
    """The queue of every case, and bulk decisions over it."""
    return user.is_staff


# --- documents -----------------------------------------------------------------------------------


def awaits_advocate(petition) -> bool:
    """The case waits on its advocate: received (not yet under review), or information is
    requested of them."""
    return petition.stage in (Stage.RECEIVED, Stage.INFORMATION_REQUESTED)


def _attach_refusal(user, petition) -> str:
    return _(
        "Documents are attached to case %(case)s by its advocates only while it is received "
        "or information is requested of them.",
        case=petition.case_number,
    )


@rule(_attach_refusal)
def can_attach_document(user, petition) -> bool:
    """Staff attach at any time; an advocate while the case waits on them."""
    if not can_view_petition(user, petition):
        return False
    if user.is_staff:
        return True
    return user.is_advocate and awaits_advocate(petition)


@rule(lambda user, document: _("No document %(number)s.", number=document.id))
def can_view_document(user, document) -> bool:
    """Who may see the case, and for an internal document staff only."""
    if not can_view_petition(user, document.petition):
        return False
    return user.is_staff or document.visibility == "shared"


@rule(_l("Only reviewers and supervisors attach internal documents for staff only."))
def can_choose_document_visibility(user) -> bool:
    """Staff choose shared or internal; what an advocate attaches is shared (a presentence
    report excepted: it is internal whoever attaches it)."""
    return user.is_staff


@rule(_l("Referrals to other agencies are for reviewers and supervisors."))
def can_view_referrals(user) -> bool:
    """Referrals are staff-only: the office does not disclose a pending case's stage."""
    return user.is_staff


@rule(
    lambda user, petition: _(
        "You may not change the referrals or deadlines of case %(case)s.",
        case=petition.case_number,
    )
)
def can_manage_referrals(user, petition) -> bool:
    """Staff open and answer referrals and move information-request due dates."""
    return user.is_staff and can_view_petition(user, petition)


@rule(_l("Only the petition's advocate answers an information request."))
def can_answer_information_requests(user) -> bool:
    """An advocate of an active organization answers their cases' information requests
    (which case is theirs is checked with the case, like every transition)."""
    return can_submit_petition(user)


# --- clemency acts (issue 14) --------------------------------------------------------------------


@rule("Clemency acts are for reviewers and supervisors.")
def can_view_acts(user) -> bool:
    """Staff see acts and their cases; an advocate sees only that their case was granted by
    an act (on the case)."""
    return user.is_staff


@rule("Only a supervisor drafts and records clemency acts.")
def can_manage_acts(user) -> bool:
    """Drafting an act, adding its cases and recording it (which grants them) is a
    supervisor's, as reopening is."""
    return user.is_supervisor


# --- numbers: statistics and dashboards ----------------------------------------------------------


@rule("The office's statistics are for reviewers and supervisors; the public page has the counts.")
def can_view_statistics(user) -> bool:
    """The fiscal-year table with its per-month chart (the public page needs no sign-in)."""
    return user.is_staff


@rule("The office's dashboard is for reviewers and supervisors.")
def can_view_staff_dashboard(user) -> bool:
    """Every organization's numbers, each reviewer's load, the oldest and overdue cases."""
    return user.is_staff


@rule("The dashboard shows an advocate's own organization's cases.")
def can_view_organization_dashboard(user) -> bool:
    """An advocate's dashboard: their organization's cases only."""
    return user.is_advocate and user.organization_id is not None


@rule("There is no dashboard for this account.")
def can_view_dashboard(user) -> bool:
    """Some dashboard: the office's or the organization's."""
    return can_view_staff_dashboard(user) or can_view_organization_dashboard(user)


# --- people and the audit log --------------------------------------------------------------------


@rule(_l("Eligibility findings are for reviewers and supervisors."))
def can_view_eligibility(user) -> bool:
    """Staff see each eligibility rule's result on a case (issue 11)."""
    return user.is_staff


@rule(_l("The audit log is for supervisors."))
def can_view_audit_log(user) -> bool:
    return user.is_supervisor


@rule(_l("The access log is for supervisors."))
def can_view_access_log(user) -> bool:
    """The read log: who read which case, the access log page and the unusual access report."""
    return user.is_supervisor


@rule(_l("Failed e-mail deliveries are for supervisors."))
def can_view_failed_notifications(user) -> bool:
    return user.is_supervisor


@rule(_l("Only a supervisor manages users and organizations."))
def can_manage_users(user) -> bool:
    return user.is_supervisor


def second_factor_required(user) -> bool:
    """Staff must sign in with a second factor (``user`` is the account concerned)."""
    return user.is_staff


def can_sign_in(user) -> bool:
    """An active account; an advocate's organization must be active too (pages, API tokens,
    sessions already open)."""
    if not user.active:
        return False
    return not user.is_advocate or (user.organization is not None and user.organization.active)
