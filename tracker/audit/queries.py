"""Reading the audit log: its listing (``tracker.listing``), whose filters and keyset pages
stay fast at millions of rows."""

from tracker.audit.models import AuditEntry
from tracker.listing import Listing

#: Filtered by actor, case, action and dates; each row shows its actor, user and case.
AUDIT_LOG = Listing(
    AuditEntry,
    person=AuditEntry.actor_id,
    choice=AuditEntry.action,
    shown=(AuditEntry.actor, AuditEntry.subject_user, AuditEntry.petition),
)
