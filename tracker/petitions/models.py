"""Petitions for clemency, their notes, and the case-number counters."""

from datetime import date, datetime
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from tracker import clock
from tracker.auth.models import Organization, User
from tracker.database import UTCDateTime, utcnow
from tracker.deadlines.models import InformationRequest, Referral
from tracker.extensions import db
from tracker.petitions.fields import (  # noqa: F401  (re-exported: the names of the fields)
    CONVICTION_BY,
    CUSTODY_STATUSES,
    EDITABLE_FIELDS,
    FIELD_LABELS,
    KINDS,
    OFFENSE_CATEGORIES,
    RELIEFS_SOUGHT,
    max_length,
)
from tracker.petitions.search import _search_text_default
from tracker.workflow import CLOSE_DISPOSITIONS, DISPOSITIONS, RELIEFS, Stage

STAGE_VALUES = tuple(s.value for s in Stage)
#: The open stages as SQL, word for word what the dashboards' queries say (``OPEN_STAGES``),
#: so that both databases see that a partial index over the open cases answers them.
OPEN_STAGES_SQL = "stage IN ({})".format(
    ", ".join(f"'{s.value}'" for s in Stage if not s.is_decided)
)
OPEN_ONLY = {"postgresql_where": text(OPEN_STAGES_SQL), "sqlite_where": text(OPEN_STAGES_SQL)}
#: The cases with an open referral: a few in a hundred, the only ones ``referral_overdue`` reads.
REFERRAL_OPEN_SQL = "referral_due_on IS NOT NULL"
REFERRAL_OPEN_ONLY = {
    "postgresql_where": text(REFERRAL_OPEN_SQL),
    "sqlite_where": text(REFERRAL_OPEN_SQL),
}
#: What the queue filters those cases on besides the due date, kept in their indexes.
REFERRAL_FILTERED = ("referral_due_on", "stage", "assignee_id")


class Dollars(TypeDecorator):
    """An amount in dollars, exact: Decimal in Python, whole cents in the database (SQLite
    has no exact decimal type, and SQLAlchemy warns on Decimal there)."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else int(Decimal(value).scaleb(2))

    def process_result_value(self, value, dialect):
        return None if value is None else Decimal(value).scaleb(-2)


RECOMMENDATIONS = {
    "favorable": _l("Favorable"),
    "unfavorable": _l("Unfavorable"),
    "no_position": _l("No position"),
}
NOTE_VISIBILITIES = {
    "internal": _l("Internal (staff only)"),
    "shared": _l("Shared with the advocate"),
}


def petitioner_key(values) -> str:
    """Who the petitioner is across petitions, from a petition's values (a dict, or a
    Petition): the register number, or without one the date of birth and the name (case and
    spacing ignored). See ``tracker.petitions.petitioners``."""
    read = values.get if isinstance(values, dict) else lambda name: getattr(values, name)
    register_number = read("register_number")
    if register_number:
        return f"R:{register_number}"
    name = " ".join((read("petitioner_name") or "").split()).casefold()
    born = read("date_of_birth")
    return f"N:{born.isoformat() if born else ''}:{name}"[:240]


def _petitioner_key_default(context) -> str:
    return petitioner_key(context.get_current_parameters())


def information_provided(stage: str, answered_at: datetime | None, stage_entered_at) -> bool:
    """Back under review because the latest information request was answered since the case
    entered the stage (``Petition.information_provided``, and the pages that read the
    answer's time as a column)."""
    return (
        stage == Stage.UNDER_REVIEW and answered_at is not None and answered_at >= stage_entered_at
    )


def referral_overdue(due_on: date | None, today: date) -> bool:
    """The earliest open referral's due date (``Petition.referral_due_on``) has passed."""
    return due_on is not None and due_on < today


class Petition(db.Model):
    """One clemency petition (a case), identified to people by its case number."""

    __table_args__ = (
        CheckConstraint(f"stage IN {STAGE_VALUES!r}", name="stage_valid"),
        CheckConstraint(f"kind IN {tuple(KINDS)!r}", name="kind_valid"),
        CheckConstraint(f"custody_status IN {tuple(CUSTODY_STATUSES)!r}", name="custody_valid"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint(
            "kind != 'commutation' OR register_number IS NOT NULL",
            name="commutation_has_register_number",
        ),
        # A decided or closed case has a decision time, a decider and a disposition, and only
        # such a case has; the reason may be missing only from a withdrawal.
        CheckConstraint(
            "(stage IN ('granted', 'denied', 'closed') AND decided_at IS NOT NULL "
            "AND decided_by_id IS NOT NULL AND disposition IS NOT NULL "
            "AND (decision_reason IS NOT NULL OR disposition = 'withdrawn')) OR "
            "(stage NOT IN ('granted', 'denied', 'closed') AND decided_at IS NULL "
            "AND decided_by_id IS NULL AND decision_reason IS NULL AND disposition IS NULL)",
            name="decided_iff_decision_recorded",
        ),
        CheckConstraint(f"disposition IN {tuple(DISPOSITIONS)!r}", name="disposition_valid"),
        # The disposition agrees with the stage: granted, denied, or one of closing's.
        CheckConstraint(
            "disposition IS NULL OR (stage = 'granted' AND disposition = 'granted') OR "
            "(stage = 'denied' AND disposition = 'denied') OR "
            f"(stage = 'closed' AND disposition IN {('withdrawn', *CLOSE_DISPOSITIONS)!r})",
            name="disposition_matches_stage",
        ),
        # Only a granted case has a relief, and it has one; the relief fits the kind.
        CheckConstraint("(stage = 'granted') = (relief IS NOT NULL)", name="granted_iff_relief"),
        CheckConstraint(f"relief IN {tuple(RELIEFS)!r}", name="relief_valid"),
        CheckConstraint(
            "relief IS NULL OR relief = 'unspecified' OR "
            "(kind = 'pardon') = (relief = 'full_pardon')",
            name="relief_fits_kind",
        ),
        CheckConstraint(
            "relief IS NOT NULL OR (commuted_sentence IS NULL AND new_release_date IS NULL "
            "AND remission_amount IS NULL AND relief_terms IS NULL)",
            name="relief_details_only_with_relief",
        ),
        CheckConstraint(
            "relief != 'remission' OR (remission_amount IS NOT NULL AND remission_amount > 0)",
            name="remission_has_amount",
        ),
        CheckConstraint(
            "relief != 'commutation_reduced' OR commuted_sentence IS NOT NULL "
            "OR new_release_date IS NOT NULL",
            name="reduced_commutation_says_how",
        ),
        Index("ix_petition_stage_created", "stage", "created_at", "id"),
        Index("ix_petition_org_stage_created", "organization_id", "stage", "created_at", "id"),
        # An advocate's default list: every stage of their organization, oldest first.
        Index("ix_petition_org_created", "organization_id", "created_at", "id"),
        # A reviewer's "My cases": every stage, oldest first.
        Index("ix_petition_assignee_created", "assignee_id", "created_at", "id"),
        Index("ix_petition_assignee_stage_created", "assignee_id", "stage", "created_at", "id"),
        Index("ix_petition_created", "created_at", "id"),
        Index("ix_petition_kind_created", "kind", "created_at", "id"),
        Index("ix_petition_register_number", "register_number"),
        # The clocks' orders (issue 12) under one stage, an organization or an assignee.
        Index("ix_petition_stage_received", "stage", "received_at", "id"),
        Index("ix_petition_stage_stage_entered", "stage", "stage_entered_at", "id"),
        Index("ix_petition_org_received", "organization_id", "received_at", "id"),
        Index("ix_petition_org_stage_entered", "organization_id", "stage_entered_at", "id"),
        Index("ix_petition_assignee_received", "assignee_id", "received_at", "id"),
        Index("ix_petition_assignee_stage_entered", "assignee_id", "stage_entered_at", "id"),
        CheckConstraint(f"conviction_by IN {tuple(CONVICTION_BY)!r}", name="conviction_by_valid"),
        CheckConstraint(
            f"offense_category IN {tuple(OFFENSE_CATEGORIES)!r}", name="offense_category_valid"
        ),
        CheckConstraint(f"relief_sought IN {tuple(RELIEFS_SOUGHT)!r}", name="relief_sought_valid"),
        CheckConstraint("fine_amount >= 0", name="fine_amount_positive"),
        CheckConstraint("restitution_amount >= 0", name="restitution_amount_positive"),
        # An approved waiver has its approver, time and reason, and only an approved one has.
        CheckConstraint(
            "(waiver_approved_at IS NULL) = (waiver_approved_by_id IS NULL) AND "
            "(waiver_approved_at IS NULL) = (waiver_approval_reason IS NULL)",
            name="waiver_approval_recorded",
        ),
        # "Other petitions by this petitioner" and the open-duplicate check.
        Index("ix_petition_petitioner_key_stage", "petitioner_key", "stage"),
        # The clocks' sorts and the older_than_days filter (issue 12).
        Index("ix_petition_received", "received_at", "id"),
        Index("ix_petition_stage_entered", "stage_entered_at", "id"),
        # The dashboards' aggregates (issue 14): stage × kind counts, decisions per month and
        # days to decision; and, over the open cases only (a few percent of all), the oldest,
        # each reviewer's and each organization's, and the days in each stage.
        Index("ix_petition_stage_kind", "stage", "kind"),
        Index("ix_petition_decided", "decided_at", "kind", "received_at"),
        Index("ix_petition_open_received", "received_at", "id", **OPEN_ONLY),
        Index("ix_petition_open_assignee", "assignee_id", "received_at", "id", **OPEN_ONLY),
        Index("ix_petition_open_org", "organization_id", "received_at", "id", **OPEN_ONLY),
        Index("ix_petition_open_stage_entered", "stage", "stage_entered_at", **OPEN_ONLY),
        # ``referral_overdue`` (issue 12) in each queue order: only the cases with an open
        # referral, with the due date, stage and assignee the filters read.
        Index(
            "ix_petition_referral_created",
            "created_at",
            "id",
            *REFERRAL_FILTERED,
            **REFERRAL_OPEN_ONLY,
        ),
        Index(
            "ix_petition_referral_received",
            "received_at",
            "id",
            *REFERRAL_FILTERED,
            **REFERRAL_OPEN_ONLY,
        ),
        Index(
            "ix_petition_referral_stage_entered",
            "stage_entered_at",
            "id",
            *REFERRAL_FILTERED,
            **REFERRAL_OPEN_ONLY,
        ),
        # An organization's decisions this fiscal year (the advocate's dashboard), from the
        # index alone.
        Index("ix_petition_org_decided", "organization_id", "decided_at", "kind", "stage"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Human case number, e.g. CP-2026-000123 (one counter per year).
    case_number: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    stage: Mapped[str] = mapped_column(String(30), default=Stage.RECEIVED.value)
    petitioner_name: Mapped[str] = mapped_column(String(max_length("petitioner_name")))
    #: Federal Bureau of Prisons register number, NNNNN-NNN.
    register_number: Mapped[str | None] = mapped_column(String(max_length("register_number")))
    date_of_birth: Mapped[date] = mapped_column(Date)
    #: Text columns: the length limit is the application's (tracker.petitions.fields).
    offenses: Mapped[str] = mapped_column(Text)
    #: Federal district that imposed the sentence.
    sentencing_court: Mapped[str] = mapped_column(String(max_length("sentencing_court")))
    sentence: Mapped[str] = mapped_column(String(max_length("sentence")))
    sentence_date: Mapped[date] = mapped_column(Date)
    custody_status: Mapped[str] = mapped_column(String(30))
    projected_release_date: Mapped[date | None] = mapped_column(Date)
    grounds: Mapped[str] = mapped_column(Text)
    # --- the federal forms' facts; optional (see tracker.petitions.fields) ---
    relief_sought: Mapped[str | None] = mapped_column(String(30))
    #: Other names, a JSON array of texts.
    aliases: Mapped[list[str] | None] = mapped_column(JSON)
    docket_number: Mapped[str | None] = mapped_column(String(max_length("docket_number")))
    sentencing_judge: Mapped[str | None] = mapped_column(String(max_length("sentencing_judge")))
    #: Citations, a JSON array of texts (e.g. "21 U.S.C. § 846").
    statutes: Mapped[list[str] | None] = mapped_column(JSON)
    conviction_date: Mapped[date | None] = mapped_column(Date)
    conviction_by: Mapped[str | None] = mapped_column(String(10))
    offense_category: Mapped[str | None] = mapped_column(String(20))
    nonviolent: Mapped[bool | None] = mapped_column(Boolean)
    #: Bureau of Prisons facility (where held, or last held).
    bop_facility: Mapped[str | None] = mapped_column(String(max_length("bop_facility")))
    custody_start_date: Mapped[date | None] = mapped_column(Date)
    #: Release from confinement: a pardon's waiting period runs from it.
    release_date: Mapped[date | None] = mapped_column(Date)
    supervision_end_date: Mapped[date | None] = mapped_column(Date)
    #: Dollars (stored as whole cents).
    fine_amount: Mapped[Decimal | None] = mapped_column(Dollars)
    restitution_amount: Mapped[Decimal | None] = mapped_column(Dollars)
    financial_obligations_paid: Mapped[bool | None] = mapped_column(Boolean)
    representative: Mapped[str | None] = mapped_column(String(max_length("representative")))
    #: Contact details: personal data, for staff and the petition's organization only.
    contact_email: Mapped[str | None] = mapped_column(String(max_length("contact_email")))
    contact_phone: Mapped[str | None] = mapped_column(String(max_length("contact_phone")))
    contact_address: Mapped[str | None] = mapped_column(Text)
    #: The advocate asked the office to waive an eligibility rule it breaks.
    waiver_requested: Mapped[bool | None] = mapped_column(Boolean)
    waiver_justification: Mapped[str | None] = mapped_column(Text)
    #: A supervisor's approval of the waiver (``approve_waiver``); a grant needs it when the
    #: case breaks an eligibility rule.
    waiver_approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    waiver_approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    waiver_approval_reason: Mapped[str | None] = mapped_column(Text)
    #: Who the petitioner is across petitions (tracker.petitions.petitioners.petitioner_key):
    #: the register number, or without one the name and date of birth. Kept by every write.
    petitioner_key: Mapped[str] = mapped_column(String(240), default=_petitioner_key_default)
    #: The folded words a search matches (tracker.petitions.search.search_text): name,
    #: aliases, case, register and docket numbers. Kept by every write of those fields.
    search_text: Mapped[str] = mapped_column(Text, default=_search_text_default)

    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"))
    advocate_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    #: Raised by every edit, transition and assignment; forms and If-Match carry it.
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When the office received the case (the submission); the start of ``days_pending``.
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When the case entered its current stage; set by every transition.
    stage_entered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The due date of the case's earliest open referral (None: none open), kept by every
    #: referral write (tracker.deadlines.services) for the queue's ``referral_overdue``.
    referral_due_on: Mapped[date | None] = mapped_column(Date)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    #: How the case ended (tracker.workflow.DISPOSITIONS); null while it is open.
    disposition: Mapped[str | None] = mapped_column(String(30))
    #: What a grant gave (tracker.workflow.RELIEFS), with its details; null unless granted.
    relief: Mapped[str | None] = mapped_column(String(30))
    commuted_sentence: Mapped[str | None] = mapped_column(Text)
    new_release_date: Mapped[date | None] = mapped_column(Date)
    #: Dollars of the fine or restitution remitted.
    remission_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    #: Conditions of the grant ("the term of supervised release remains").
    relief_terms: Mapped[str | None] = mapped_column(Text)

    organization: Mapped[Organization] = relationship()
    advocate: Mapped[User] = relationship(foreign_keys=[advocate_id])
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    waiver_approved_by: Mapped[User | None] = relationship(foreign_keys=[waiver_approved_by_id])
    notes: Mapped[list["Note"]] = relationship(
        back_populates="petition", order_by="Note.id", passive_deletes="all"
    )
    recommendations: Mapped[list["Recommendation"]] = relationship(
        back_populates="petition", order_by="Recommendation.id", passive_deletes="all"
    )

    information_requests: Mapped[list[InformationRequest]] = relationship(
        order_by=InformationRequest.id, viewonly=True
    )
    referrals: Mapped[list[Referral]] = relationship(order_by=Referral.id, viewonly=True)

    def __repr__(self) -> str:
        return f"<Petition {self.case_number} {self.stage}>"

    @property
    def days_pending(self) -> int:
        """Calendar days from receipt to the decision, or to today while undecided."""
        return clock.days_between(self.received_at, self.decided_at)

    @property
    def days_in_stage(self) -> int:
        return clock.days_between(self.stage_entered_at)

    @property
    def information_request(self) -> InformationRequest | None:
        """The latest information request (open or answered), or None."""
        return self.information_requests[-1] if self.information_requests else None

    @property
    def open_information_request(self) -> InformationRequest | None:
        """The unanswered request the case waits on; None once the case left the stage
        another way (say, closed without action: the request is then moot)."""
        latest = self.information_request
        if self.stage != Stage.INFORMATION_REQUESTED or latest is None:
            return None
        return latest if latest.answered_at is None else None

    @property
    def information_provided(self) -> bool:
        """Back under review because the advocate answered: the reviewer's signal, until the
        case next changes stage."""
        latest = self.information_request
        answered_at = latest.answered_at if latest is not None else None
        return information_provided(self.stage, answered_at, self.stage_entered_at)

    @property
    def open_referrals(self) -> list[Referral]:
        return [referral for referral in self.referrals if referral.is_open]

    @property
    def referral_overdue(self) -> bool:
        """An open referral's due date has passed (read from the kept earliest due date, so
        the queue's flag loads no referrals)."""
        return referral_overdue(self.referral_due_on, clock.today())

    @property
    def stage_enum(self) -> Stage:
        return Stage(self.stage)

    @property
    def kind_label(self) -> str:
        return KINDS[self.kind]

    @property
    def custody_label(self) -> str:
        return CUSTODY_STATUSES[self.custody_status]

    @property
    def disposition_label(self) -> str | None:
        return DISPOSITIONS[self.disposition] if self.disposition else None

    @property
    def relief_label(self) -> str | None:
        return RELIEFS[self.relief][0] if self.relief else None


class Note(db.Model):
    """A reviewer's note on a case: internal (staff only) or shared with the advocate."""

    __table_args__ = (
        CheckConstraint(f"visibility IN {tuple(NOTE_VISIBILITIES)!r}", name="visibility_valid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    petition_id: Mapped[int] = mapped_column(ForeignKey("petition.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    visibility: Mapped[str] = mapped_column(String(10))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    petition: Mapped[Petition] = relationship(back_populates="notes")
    author: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<Note {self.id} on petition {self.petition_id} ({self.visibility})>"


class Recommendation(db.Model):
    """A staff member's recommendation on a case under review, with an internal memo."""

    __table_args__ = (
        CheckConstraint(
            f"recommendation IN {tuple(RECOMMENDATIONS)!r}", name="recommendation_valid"
        ),
        Index("ix_recommendation_petition_id", "petition_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    petition_id: Mapped[int] = mapped_column(ForeignKey("petition.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    recommendation: Mapped[str] = mapped_column(String(20))
    memo: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    petition: Mapped[Petition] = relationship(back_populates="recommendations")
    author: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<Recommendation {self.id} {self.recommendation} on petition {self.petition_id}>"

    @property
    def label(self) -> str:
        return RECOMMENDATIONS[self.recommendation]


class CaseNumberCounter(db.Model):
    """The last case number handed out in a year; bumped atomically by UPDATE … RETURNING."""

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_value: Mapped[int] = mapped_column(default=0)

    def __repr__(self) -> str:
        return f"<CaseNumberCounter {self.year}: {self.last_value}>"
