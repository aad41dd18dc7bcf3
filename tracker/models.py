"""Imports every model so that SQLAlchemy and Alembic see the whole schema."""

from tracker.audit.models import AuditChainHead, AuditEntry, AuditVerification
from tracker.auth.models import ApiToken, Organization, RecoveryCode, User, UserSession
from tracker.petitions.models import CaseNumberCounter, Note, Petition

__all__ = [
    "AuditChainHead",
    "AuditEntry",
    "ApiToken",
    "AuditVerification",
    "CaseNumberCounter",
    "Note",
    "Organization",
    "Petition",
    "RecoveryCode",
    "User",
    "UserSession",
]
