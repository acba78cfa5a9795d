"""A timer sweep in a process of its own (imported by multiprocessing's spawn, so kept small)."""
from __future__ import annotations

from datetime import datetime


def sweep(url: str, at: str, barrier, results) -> None:
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from workflows import clock
    from workflows.engine import Engine

    db = sa.create_engine(url)
    try:
        with Session(db) as session, clock.using(clock.FrozenClock(datetime.fromisoformat(at))):
            engine = Engine(session)
            barrier.wait(timeout=60)
            results.put(engine.fire_due_timers(batch=7))
    except Exception as err:  # reported to the test, which fails on it
        results.put(repr(err))
    finally:
        db.dispose()
