"""The dashboards' and statistics' summary: counts kept in the same transaction as each change
(``tracker.dashboards.summary``), so a dashboard reads a few hundred rows, not a million."""

from datetime import date

from sqlalchemy import Date, String
from sqlalchemy.orm import Mapped, mapped_column

from tracker.extensions import db


class StageTally(db.Model):
    """How many cases of a kind are in a stage now."""

    __tablename__ = "stage_tally"

    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    stage: Mapped[str] = mapped_column(String(30), primary_key=True)
    cases: Mapped[int] = mapped_column(default=0)

    def __repr__(self) -> str:
        return f"<StageTally {self.kind} {self.stage} {self.cases}>"


class MonthTally(db.Model):
    """Cases of a kind counted per calendar month (``DISPLAY_TIMEZONE``) and measure.

    Measures (``summary.MEASURES``): ``received`` and ``decided`` count the cases as they
    stand by the month of their receipt and of their decision (a reopened case leaves its
    decision's month), ``decided`` split by ``days`` from receipt to decision (a histogram);
    the others count audit entries, so they never change when a case moves on: ``submitted``,
    ``granted``, ``denied``, ``closed_without_action``, ``closed_other``, ``reopened`` (the
    fiscal-year statistics) and ``grant_against``, ``deny_against`` (decisions against the
    latest recommendation)."""

    __tablename__ = "month_tally"

    # Measure, then month: a read asks for some measures over a range of months, so its
    # rows are one range of the primary key per measure.
    measure: Mapped[str] = mapped_column(String(30), primary_key=True)
    #: The first day of the month.
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    #: Whole days from receipt to decision for ``decided``; 0 for every other measure.
    days: Mapped[int] = mapped_column(primary_key=True, default=0, autoincrement=False)
    cases: Mapped[int] = mapped_column(default=0)

    def __repr__(self) -> str:
        return f"<MonthTally {self.kind} {self.month} {self.measure} {self.days} {self.cases}>"


class OpenDayTally(db.Model):
    """How many open cases entered their stage on a calendar day (``DISPLAY_TIMEZONE``): the
    days in each open stage, counted as the case page counts them."""

    __tablename__ = "open_day_tally"

    stage: Mapped[str] = mapped_column(String(30), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    cases: Mapped[int] = mapped_column(default=0)

    def __repr__(self) -> str:
        return f"<OpenDayTally {self.stage} {self.day} {self.cases}>"
