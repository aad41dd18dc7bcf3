"""Imports every model so that SQLAlchemy and Alembic see the whole schema."""

from tracker.acts.models import Act, ActCase
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
from tracker.dashboards.models import MonthTally, OpenDayTally, StageTally
from tracker.deadlines.models import InformationRequest, Referral, Reminder
from tracker.documents.models import Document
from tracker.notifications.models import EmailOptOut, Notification
from tracker.petitions.models import CaseNumberCounter, Note, Petition
from tracker.readlog.models import ReadLogEntry

__all__ = [
    "Act",
    "ActCase",
    "AuditChainHead",
    "AuditEntry",
    "ApiToken",
    "AuditVerification",
    "MonthTally",
    "OpenDayTally",
    "StageTally",
    "CaseNumberCounter",
    "Document",
    "EmailOptOut",
    "InformationRequest",
    "LoginThrottle",
    "Note",
    "Notification",
    "Organization",
    "Petition",
    "ReadLogEntry",
    "Referral",
    "Reminder",
    "RecoveryCode",
    "SecurityEventWindow",
    "User",
    "UserSession",
]
