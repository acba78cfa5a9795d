"""One notion of "now" shared by the engine, timers and policy calculations.

SpiffWorkflow's timer definitions call ``datetime.now(timezone.utc)`` directly, so the
engine installs a ``datetime`` subclass in that module whose ``now`` asks the current
clock. Tests swap in a ``FrozenClock`` and move time instead of sleeping.
"""
from __future__ import annotations

import contextvars
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

from SpiffWorkflow.bpmn.specs.event_definitions import timer as _spiff_timer


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class FrozenClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime | None = None):
        start = start or datetime.now(timezone.utc)
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._now = start.astimezone(timezone.utc)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta | None = None, **kwargs) -> datetime:
        self._now += delta if delta is not None else timedelta(**kwargs)
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = moment.astimezone(timezone.utc)


_current: contextvars.ContextVar = contextvars.ContextVar("huifang_clock", default=SystemClock())


def now() -> datetime:
    return _current.get().now()


@contextmanager
def using(clock):
    token = _current.set(clock)
    try:
        yield clock
    finally:
        _current.reset(token)


class _ClockDatetime(datetime):
    @classmethod
    def now(cls, tz=None):
        moment = _current.get().now()
        return moment.astimezone(tz) if tz is not None else moment.replace(tzinfo=None)


_spiff_timer.datetime = _ClockDatetime
