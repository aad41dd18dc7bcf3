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
from tracker.deadlines.models import InformationRequest, Referral, Reminder
from tracker.petitions.models import CaseNumberCounter, Note, Petition

__all__ = [
    "AuditChainHead",
    "AuditEntry",
    "ApiToken",
    "AuditVerification",
    "CaseNumberCounter",
    "InformationRequest",
    "LoginThrottle",
    "Note",
    "Organization",
    "Petition",
    "Referral",
    "Reminder",
    "RecoveryCode",
    "SecurityEventWindow",
    "User",
    "UserSession",
]
