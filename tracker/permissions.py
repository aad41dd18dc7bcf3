"""Named rules: who may see and do what. Views, the API, templates and services all ask here."""

from tracker.workflow import Stage


def can_view_all_petitions(user) -> bool:
    """Staff see every organization's cases."""
    return user.is_staff


def can_view_petition(user, petition) -> bool:
    """Staff see every case; an advocate sees their own organization's cases only."""
    if user.is_staff:
        return True
    return user.is_advocate and petition.organization_id == user.organization_id


def can_edit_petition(user, petition) -> bool:
    """Advocates fix their cases while received; staff correct them until decided."""
    if not can_view_petition(user, petition):
        return False
    if user.is_advocate:
        return petition.stage == Stage.RECEIVED
    return not Stage(petition.stage).is_decided


def can_submit_petition(user) -> bool:
    return user.is_advocate and user.organization is not None and user.organization.active


def can_take_petition(user, petition) -> bool:
    """A reviewer may take an undecided case nobody works on; taking a colleague's case is
    a reassignment, which is a supervisor's (who may take any undecided case)."""
    if not user.is_staff or Stage(petition.stage).is_decided or petition.assignee_id == user.id:
        return False
    return petition.assignee_id is None or user.is_supervisor


def can_assign_petitions(user) -> bool:
    """Assigning work to others (and reassigning it) is a supervisor's job."""
    return user.is_supervisor


def can_write_notes(user) -> bool:
    return user.is_staff


def can_view_internal_history(user) -> bool:
    """Internal notes, edits, assignments: staff only."""
    return user.is_staff


def can_view_audit_log(user) -> bool:
    return user.is_supervisor


def can_manage_users(user) -> bool:
    return user.is_supervisor


def can_work_queue(user) -> bool:
    return user.is_staff


def can_sign_in(user) -> bool:
    """An active account; an advocate's organization must be active too (pages, API tokens,
    sessions already open)."""
    if not user.active:
        return False
    return not user.is_advocate or (user.organization is not None and user.organization.active)
