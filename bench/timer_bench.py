#!/usr/bin/env python3
"""Timer sweep cost: the due-timer query, and firing 100 real due timers.

What is measured
----------------
(i) ``Engine.due_timers(limit=100, lock=True)`` -- ``SELECT ... FROM wf_timer WHERE fire_at < now
    ORDER BY fire_at LIMIT 100 FOR UPDATE SKIP LOCKED`` -- inside a transaction (rolled back after
    each call), ``--repeats`` times, with 100 due timers among 10,000, 100,000 and 1,000,000
    waiting ones (filler rows loaded by COPY, pointing at 1,000 dummy instances; the table is
    grown step by step and ANALYZEd before each measurement). Target: p95 <= 100 ms, and about
    the same at every size (the query reads the fire_at index from its start, so it should not
    depend on how many timers wait).

(ii) ``Engine.fire_due_timers()`` (default batch of 50) firing 100 due timers of real
    instances, with 100,000 waiting filler timers far in the future: each round starts 100
    instances of tests/fixtures/two_step.bpmn through the engine (their "visit" task has a
    boundary timer due 3 days after the start), moves a ``FrozenClock`` 3 days + 1 minute on and
    fires. Measured both with a fresh ``Engine`` (empty workflow cache, as in a separate
    ``flask huifang worker`` process -- the realistic case) and with the engine that started the
    instances (cache warm). Checked after each round: 100 fired, 100 ``timer_fired`` events,
    each instance has its "escalate" task open and no waiting timer.

Usage: ``python bench/timer_bench.py [--database-url URL] [--repeats N] [--rounds N]``.
Works in its own schema ``timer_bench_<pid>`` (created and dropped by the script). Results are printed and
written to bench/RESULTS.md between ``<!-- timer_bench:start -->`` and ``<!-- timer_bench:end -->``.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy import event, func, select  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402

from benchlib import (DEFAULT_DATABASE_URL, bench_engine, drop_schema, machine_info, machine_lines,  # noqa: E402
                      settle, summary_ms, write_section)
from workflows import clock  # noqa: E402
from workflows.actor import Actor  # noqa: E402
from workflows.engine import Engine  # noqa: E402
from workflows.models import EngineEvent, HumanTask, ProcessInstance, Timer  # noqa: E402

SECTION = "timer_bench"
SCHEMA = f"timer_bench_{os.getpid()}"  # one per run: concurrent runs do not collide
FIXTURES = ROOT / "tests" / "fixtures"
TARGET_P95_MS = 100.0
DUE = 100
DUMMY_INSTANCES = 1000
T0 = datetime(2024, 3, 4, 1, 0, tzinfo=timezone.utc)
FILLER_FROM = T0 + timedelta(days=400)  # after every round of (ii)
ADMIN = Actor("admin", frozenset({"Admin"}))


# ----------------------------------------------------------------------------- data
def deploy_two_step(db) -> int:
    forms = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in FIXTURES.glob("*.schema.json")}
    with sessionmaker(db)() as session:
        version = Engine(session).deploy("two_step", (FIXTURES / "two_step.bpmn").read_bytes(), forms,
                                         Actor("owner", frozenset({"ProcessOwner"})))
        return version.id


def copy_rows(conn, table: str, columns: list[str], rows) -> None:
    """COPY rows into a table through the raw psycopg connection (inside conn's transaction)."""
    raw = conn.connection.driver_connection
    with raw.cursor() as cur:
        with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def add_dummy_instances(db, version_id: int) -> list[int]:
    with db.begin() as conn:
        first = conn.scalar(sa.text("SELECT coalesce(max(id), 0) FROM wf_process_instance")) + 1
        ids = list(range(first + 1_000_000, first + 1_000_000 + DUMMY_INSTANCES))
        copy_rows(conn, "wf_process_instance",
                  ["id", "version_id", "business_key", "status", "state", "lock_version", "started_by",
                   "started_at", "updated_at"],
                  ((i, version_id, f"DUMMY-{i}", "running", b'{"bench":"dummy"}', 1, "bench", T0, T0) for i in ids))
    return ids


def add_timers(db, count: int, instance_ids: list[int], rng: random.Random, due: bool) -> None:
    """Filler timers: far in the future (or, with due=True, just before T0)."""
    def rows():
        for _ in range(count):
            if due:
                fire_at = T0 - timedelta(seconds=rng.uniform(1, 3600))
            else:
                fire_at = FILLER_FROM + timedelta(seconds=rng.uniform(0, 365 * 86400))
            yield (str(uuid.UUID(int=rng.getrandbits(128), version=4)), rng.choice(instance_ids),
                   "visit_overdue", "逾期 Overdue", fire_at)
    with db.begin() as conn:
        copy_rows(conn, "wf_timer", ["id", "instance_id", "bpmn_id", "name", "fire_at"], rows())
    analyze(db)


def analyze(db) -> None:
    with db.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("ANALYZE wf_timer"))


def timer_count(db) -> int:
    with db.connect() as conn:
        return conn.scalar(sa.text("SELECT count(*) FROM wf_timer"))


# ----------------------------------------------------------------------------- (i)
def measure_due_query(db, repeats: int) -> dict:
    """Engine.due_timers(limit=100, lock=True) in a transaction that is rolled back each time."""
    session = sessionmaker(db)()
    engine = Engine(session)
    laps = []
    try:
        with clock.using(clock.FrozenClock(T0)):
            for i in range(repeats + 10):
                start = time.perf_counter()
                timers = engine.due_timers(limit=DUE, lock=True)
                elapsed = time.perf_counter() - start
                session.rollback()
                assert len(timers) == DUE, len(timers)
                if i >= 10:  # the first ten warm the connection and caches
                    laps.append(elapsed)
    finally:
        session.close()
    return summary_ms(laps)


def due_query_plan(db) -> str:
    with db.connect() as conn:
        lines = conn.execute(sa.text(
            "EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM wf_timer WHERE fire_at < :now ORDER BY fire_at "
            "LIMIT 100 FOR UPDATE SKIP LOCKED"), {"now": T0}).scalars().all()
        conn.rollback()
    return "\n".join(lines)


# ----------------------------------------------------------------------------- (ii)
class StatementCounter:
    def __init__(self, db):
        self.count = 0
        event.listen(db, "before_cursor_execute", self._seen)

    def _seen(self, *args):
        self.count += 1


def fire_round(db, round_no: int, instances: int, cold: bool, counter: StatementCounter) -> dict:
    """Start ``instances`` two_step instances, move the clock past their boundary timer, fire them."""
    start_at = T0 + timedelta(days=4 * round_no)
    frozen = clock.FrozenClock(start_at)
    starter_session = sessionmaker(db)()
    starter = Engine(starter_session)
    try:
        with clock.using(frozen):
            ids = [starter.start("two_step", ADMIN, business_key=f"R{round_no}-{k}").id for k in range(instances)]
            starter_session.rollback()
            frozen.advance(days=3, minutes=1)
            if cold:  # a worker process that never saw these instances
                session = sessionmaker(db)()
                worker = Engine(session)
                worker.loaded_version(starter.latest_version("two_step").id)  # parsed once per process
                session.rollback()
            else:
                session, worker = starter_session, starter
            counter.count = 0
            began = time.perf_counter()
            fired = worker.fire_due_timers()
            seconds = time.perf_counter() - began
            statements = counter.count
            check_fired(session, ids, fired, instances)
            if cold:
                session.close()
    finally:
        starter_session.close()
    return {"fired": fired, "seconds": seconds, "statements": statements}


def check_fired(session, ids: list[int], fired: int, expected: int) -> None:
    session.expire_all()
    assert fired == expected, f"fired {fired}, expected {expected}"
    events = session.scalar(select(func.count()).select_from(EngineEvent).where(
        EngineEvent.kind == "timer_fired", EngineEvent.instance_id.in_(ids)))
    escalations = session.scalar(select(func.count()).select_from(HumanTask).where(
        HumanTask.bpmn_id == "escalate", HumanTask.instance_id.in_(ids)))
    waiting = session.scalar(select(func.count()).select_from(Timer).where(Timer.instance_id.in_(ids)))
    visits = session.scalar(select(func.count()).select_from(HumanTask).where(
        HumanTask.bpmn_id == "visit", HumanTask.instance_id.in_(ids)))
    errors = session.scalar(select(func.count()).select_from(EngineEvent).where(EngineEvent.kind == "error"))
    running = session.scalar(select(func.count()).select_from(ProcessInstance).where(
        ProcessInstance.id.in_(ids), ProcessInstance.status == "running"))
    session.rollback()
    assert (events, escalations, waiting, visits, errors, running) == (expected, expected, 0, 0, 0, expected), \
        (events, escalations, waiting, visits, errors, running)


# ----------------------------------------------------------------------------- report
def report(args, info, due_results, plan_text, rounds, waiting_during_fire) -> str:
    lines = [
        "## Timer sweep (`bench/timer_bench.py`)",
        "",
        *machine_lines(info),
        f"- (i) `Engine.due_timers(limit=100, lock=True)` in a transaction, rolled back after each call, "
        f"{args.repeats} repeats per size (after 10 warm-up calls); {DUE} due timers among the waiting ones; "
        f"filler rows by COPY on {DUMMY_INSTANCES:,} dummy instances; ANALYZE after each growth step. "
        f"Target p95 <= {TARGET_P95_MS:.0f} ms",
        "",
        "| timers waiting (incl. 100 due) | p50 ms | p95 ms | p99 ms | max ms | p95 <= 100 ms |",
        "| ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for size, s in due_results:
        lines.append(f"| {size:,} | {s['p50']:.2f} | {s['p95']:.2f} | {s['p99']:.2f} | {s['max']:.2f} | "
                     f"{'yes' if s['p95'] <= TARGET_P95_MS else '**no**'} |")
    p50s = [s["p50"] for _, s in due_results]
    lines += [
        "",
        f"p50 spread across sizes: {min(p50s):.2f} .. {max(p50s):.2f} ms (x{max(p50s) / min(p50s):.2f} "
        f"for x{due_results[-1][0] / due_results[0][0]:.0f} rows).",
        "",
        f"EXPLAIN (ANALYZE, BUFFERS) at {due_results[-1][0]:,} waiting:",
        "",
        "```",
        plan_text,
        "```",
        "",
        f"- (ii) `Engine.fire_due_timers()` (batch 50) firing {args.instances} due boundary timers of instances "
        f"started through the engine from `tests/fixtures/two_step.bpmn` (FrozenClock moved 3 days + 1 min on), "
        f"{waiting_during_fire:,} filler timers waiting far in the future; {args.rounds} rounds per mode, each "
        "with new instances; every round checked (fired = 100, `timer_fired` events = 100, `escalate` open, "
        "no timer left, no `error` event)",
        "",
        "| mode | round | fired | seconds | ms per timer | timers/s | SQL statements per timer |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for mode, results in rounds.items():
        for k, r in enumerate(results, 1):
            lines.append(f"| {mode} | {k} | {r['fired']} | {r['seconds']:.3f} | {1000 * r['seconds'] / r['fired']:.2f} "
                         f"| {r['fired'] / r['seconds']:.0f} | {r['statements'] / r['fired']:.1f} |")
    for mode, results in rounds.items():
        secs = sorted(r["seconds"] for r in results)
        lines.append("")
        lines.append(f"- {mode}: median {secs[len(secs) // 2]:.3f} s for {args.instances} timers "
                     f"({1000 * secs[len(secs) // 2] / args.instances:.2f} ms per timer)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--sizes", default="10000,100000,1000000",
                        help="numbers of waiting timers (incl. the 100 due) for (i), ascending")
    parser.add_argument("--repeats", type=int, default=300, help="due-timer queries per size")
    parser.add_argument("--fire-waiting", type=int, default=100_000, help="filler timers waiting during (ii)")
    parser.add_argument("--instances", type=int, default=DUE, help="due timers fired per round in (ii)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per mode in (ii)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the schema")
    parser.add_argument("--no-results", action="store_true", help="do not write bench/RESULTS.md")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rng = random.Random(args.seed)

    db = bench_engine(args.database_url, SCHEMA)
    try:
        info = machine_info(db)
        version_id = deploy_two_step(db)
        dummies = add_dummy_instances(db, version_id)

        # (ii) first, on the main scenario's 100,000 waiting timers.
        add_timers(db, args.fire_waiting, dummies, rng, due=False)
        counter = StatementCounter(db)
        rounds = {"fresh Engine (cold cache, as a worker process)": [], "same Engine (warm cache)": []}
        round_no = 0
        for _ in range(args.rounds):
            for mode, cold in zip(rounds, (True, False)):
                settle()
                result = fire_round(db, round_no, args.instances, cold, counter)
                round_no += 1
                rounds[mode].append(result)
                print(f"(ii) {mode}: fired {result['fired']} in {result['seconds']:.3f} s", flush=True)
        event.remove(db, "before_cursor_execute", counter._seen)
        waiting_during_fire = args.fire_waiting

        # (i) the due-timer query as the table grows: only filler rows from here on.
        with db.begin() as conn:
            conn.execute(sa.text("TRUNCATE wf_timer"))
        add_timers(db, DUE, dummies, rng, due=True)
        due_results = []
        for size in sizes:
            add_timers(db, size - timer_count(db), dummies, rng, due=False)
            assert timer_count(db) == size, (timer_count(db), size)
            settle()
            result = measure_due_query(db, args.repeats)
            due_results.append((size, result))
            print(f"(i) {size:,} waiting: p50 {result['p50']:.2f} ms, p95 {result['p95']:.2f} ms", flush=True)
        plan_text = due_query_plan(db)
        print(plan_text)
    finally:
        if not args.keep:
            drop_schema(db, SCHEMA)

    text = report(args, info, due_results, plan_text, rounds, waiting_during_fire)
    print()
    print(text)
    if not args.no_results:
        write_section(SECTION, text)
        print("\nwrote section timer_bench to bench/RESULTS.md")


if __name__ == "__main__":
    main()
