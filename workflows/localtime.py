"""One time model: every moment is stored in UTC, and local days, deadlines and what people read are in
the company's time zone (``HUIFANG_TIMEZONE``, Asia/Shanghai by default).

- ``UtcDateTime`` is the one column type for moments: it binds any aware datetime as UTC (SQLite keeps
  only the wall time it is given, so an aware +08:00 value would otherwise be compared as if it were
  UTC) and returns aware UTC datetimes on SQLite and PostgreSQL alike.
- ``zone()`` is the company zone; ``configure()`` sets it once per process (the app factory does).
- ``day_start``/``day_end`` bound a local day; ``today()`` is the local date of the shared clock.
- ``shown`` is how a moment reads to a person (local, to the minute); ``iso`` is how the API writes it.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator

from . import clock

DEFAULT_ZONE = "Asia/Shanghai"
SHOWN_FORMAT = "%Y-%m-%d %H:%M"

_zone = ZoneInfo(DEFAULT_ZONE)


def configure(zone_name: str | None) -> ZoneInfo:
    """Set the company zone (an IANA name such as Asia/Shanghai); a bad name is refused by name."""
    global _zone
    try:
        _zone = ZoneInfo(zone_name or DEFAULT_ZONE)
    except (KeyError, ValueError) as err:
        raise ValueError(f"HUIFANG_TIMEZONE: unknown time zone {zone_name!r}") from err
    return _zone


def zone() -> ZoneInfo:
    return _zone


def utc(value: datetime | str | None) -> datetime | None:
    """An aware UTC datetime; naive input is taken as UTC (what SQLite and older rows hold), an ISO text
    is parsed first."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def local(value: datetime | str | None) -> datetime | None:
    """The moment in the company zone."""
    moment = utc(value)
    return moment.astimezone(_zone) if moment is not None else None


def local_date(value: datetime | str | None) -> date | None:
    moment = local(value)
    return moment.date() if moment is not None else None


def today() -> date:
    """Today's date in the company zone, by the shared clock."""
    return clock.now().astimezone(_zone).date()


def day_start(day: date) -> datetime:
    """00:00 of the local day, in UTC."""
    return datetime.combine(day, time.min, tzinfo=_zone).astimezone(timezone.utc)


def day_end(day: date) -> datetime:
    """24:00 of the local day, in UTC: the last microsecond (23:59:59.999999 local), so a deadline stays
    inside the day it names and "on time" is ``done <= due``."""
    return datetime.combine(day, time.max, tzinfo=_zone).astimezone(timezone.utc)


def days_later_end(moment: datetime, days: int) -> datetime:
    """24:00 local of the day ``days`` after the moment's local day (the start day excluded, §0.4)."""
    return day_end(local_date(moment) + timedelta(days=days))


def from_local_input(text: str) -> datetime:
    """A date-time typed by a person: with an offset as given, without one in the company zone; a bare
    date is 00:00 of that local day. Raises ValueError naming the expected form."""
    text = (text or "").strip()
    try:
        parsed = datetime.fromisoformat(text.replace(" ", "T", 1) if len(text) > 10 else text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date and time such as 2024-01-31 10:00") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_zone)
    return parsed.astimezone(timezone.utc)


def shown(value: datetime | str | None, with_seconds: bool = False) -> str:
    """How a moment reads on a page, in a PDF, an e-mail or an export: local time to the minute."""
    moment = local(value)
    if moment is None:
        return ""
    return moment.strftime(SHOWN_FORMAT + (":%S" if with_seconds else ""))


def shown_date(value: datetime | date | str | None) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    return local(value).strftime("%Y-%m-%d")


def iso(value: datetime | str | None) -> str | None:
    """ISO 8601 with its UTC offset, as the API answers."""
    moment = utc(value)
    return moment.isoformat() if moment is not None else None


class UtcDateTime(TypeDecorator):
    """A moment column: stored in UTC, read back as an aware UTC datetime on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"a datetime is required, not {type(value).__name__}")
        moment = utc(value)
        return moment.replace(tzinfo=None) if dialect.name == "sqlite" else moment

    def process_result_value(self, value, dialect):
        return utc(value)

    def process_literal_param(self, value, dialect):
        return self.process_bind_param(value, dialect)
