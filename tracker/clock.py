"""The app's one notion of "now" and "today", injectable for tests.

Everything that computes an age or a due date asks here: ``now()`` is the configured
``CLOCK`` (a callable returning an aware datetime; the wall clock by default) and
``today()`` the calendar date of that moment in ``DISPLAY_TIMEZONE``. Tests set ``CLOCK``
to a fixed moment, so nothing depends on when they run and nothing sleeps.
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context


def display_zone() -> ZoneInfo:
    """The configured DISPLAY_TIMEZONE (UTC outside an app)."""
    name = current_app.config["DISPLAY_TIMEZONE"] if has_app_context() else "UTC"
    return ZoneInfo(name)


def now() -> datetime:
    clock = current_app.config.get("CLOCK") if has_app_context() else None
    return clock() if clock is not None else datetime.now(UTC)


def local_date(moment: datetime) -> date:
    """The calendar date of a moment in the display time zone."""
    return moment.astimezone(display_zone()).date()


def today() -> date:
    return local_date(now())


def start_of(day: date) -> datetime:
    """The UTC instant at which ``day`` begins in the display time zone."""
    return datetime.combine(day, time(), tzinfo=display_zone()).astimezone(UTC)


def days_between(start: datetime | None, end: datetime | None = None) -> int | None:
    """Calendar days from ``start`` to ``end`` (or today) in the display time zone."""
    if start is None:
        return None
    return calendar_days(start, end, display_zone(), today())


def calendar_days(start: datetime, end: datetime | None, zone: ZoneInfo, on: date) -> int:
    """``days_between`` with the zone and today (``on``) given: for a page of many cases,
    which settles both once."""
    end_day = end.astimezone(zone).date() if end is not None else on
    return (end_day - start.astimezone(zone).date()).days


def in_days(days: int, *, after: date | None = None) -> date:
    return (after or today()) + timedelta(days=days)
