"""Imports every model so that SQLAlchemy and Alembic see the whole schema."""

from tracker.audit.models import (
    AuditChainHead,
    AuditEntry,
    AuditVerification,
    SecurityEventWindow,
)
from tracker.auth.models import (
    ApiToken,
    LoginThrottle,
    Organization,
    RecoveryCode,
    User,
    UserSession,
)
from tracker.notifications.models import EmailOptOut, Notification
from tracker.petitions.models import CaseNumberCounter, Note, Petition

__all__ = [
    "AuditChainHead",
    "AuditEntry",
    "ApiToken",
    "AuditVerification",
    "CaseNumberCounter",
    "EmailOptOut",
    "LoginThrottle",
    "Note",
    "Notification",
    "Organization",
    "Petition",
    "RecoveryCode",
    "SecurityEventWindow",
    "User",
    "UserSession",
]
