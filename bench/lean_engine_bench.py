#!/usr/bin/env python3
"""What-if: the Engine without its remaining instance-row reloads (a proposal, not the product).

engine_bench.py shows Huifang's Engine far below the c/b >= 0.5 target; most of each step's time
goes to the SQL statements of a completion issued through the ORM (client CPU in SQLAlchemy and
psycopg plus round trips), not to SpiffWorkflow or the state codec. Since commit 7df6395/1c15bee
the engine already loads task and instance in one query, mirrors the open-task and timer rows from
the workflow instead of querying them, updates the instance first (no separate lock query) and
writes new rows as one multi-row INSERT per table. What is left, and what ``LeanEngine`` below
changes (a subclass defined here, overriding ``start``, ``complete`` and ``_write_state`` only):

A. The task+instance query loads the ``state`` column (~5 kB) although a cache hit does not need
   it: ``LeanEngine.complete`` defers it, and reads it only on a workflow-cache miss.
B. ``_write_state`` calls ``session.expire(instance)``; the next attribute access --
   ``instance.id`` / ``instance.business_key`` in ``_add_human_task`` -- reloads the whole row,
   state included. ``LeanEngine._write_state`` records the values it wrote with
   ``set_committed_value`` instead.
C. After the commit (the session expires everything) ``self._workflows.put(instance.id,
   instance.lock_version, ...)`` reloads the row once more, in ``start`` and ``complete``.
   ``LeanEngine`` takes both values before the commit.

``LeanPlusEngine`` adds D: the state UPDATE as a prebuilt Core statement (bind parameters) run on
``session.connection()``, skipping the per-call construction and the ORM bulk-update path.

Rows, events and checks are the stock engine's. Checked separately: tests/engine passes with
``workflows.engine.Engine`` replaced by ``LeanEngine`` or ``LeanPlusEngine`` (a pytest plugin
that sets it).

Measured: completions/s of the stock, lean and lean+ engines, cache on and cache_size=0, in interleaved
rounds on the same database; statements per completion; and, after every run, the same end state
(every instance completed, the same events per instance by kind, no open task). For scale, the
"SQL floor": the statements of a lean step (task+instance SELECT, UPDATE, DELETE, INSERT events,
INSERT task, COMMIT) sent through plain psycopg -- no ORM, no SpiffWorkflow, real-size state
documents -- what the database part of a step costs at best on this machine.

Usage: ``python bench/lean_engine_bench.py [--database-url URL] [--instances N] [--rounds N]``.
Works in its own schema ``lean_engine_bench_<pid>``. Results go to bench/RESULTS.md between
``<!-- lean_engine_bench:start -->`` and ``<!-- lean_engine_bench:end -->``.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from uuid import UUID, uuid4

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy import bindparam, select, update  # noqa: E402
from sqlalchemy.orm import joinedload  # noqa: E402
from sqlalchemy.orm.attributes import set_committed_value  # noqa: E402
from SpiffWorkflow.bpmn import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.util.task import TaskState  # noqa: E402

import engine_bench  # noqa: E402
from benchlib import (DEFAULT_DATABASE_URL, bench_engine, drop_schema, machine_info,  # noqa: E402
                      machine_lines, settle, write_section)
from workflows import clock  # noqa: E402
from workflows.codec import StateCodec  # noqa: E402
from workflows.engine import Conflict, Engine, NotFound, _check_data_keys, _jsonable  # noqa: E402
from workflows.models import EngineEvent, HumanTask, ProcessInstance, ProcessVersion  # noqa: E402

SECTION = "lean_engine_bench"
SCHEMA = f"lean_engine_bench_{os.getpid()}"  # one per run: concurrent runs do not collide


class LeanEngine(Engine):
    """The stock Engine with changes A, B and C (see the module docstring)."""

    def start(self, model_key, actor, data=None, business_key=None, version_id=None):
        _check_data_keys(data or {})
        version_row = self.session.get(ProcessVersion, version_id) if version_id else self.latest_version(model_key)
        if version_row is None:
            raise NotFound(f"process version {version_id} does not exist")
        version = self.loaded_version(version_row.id)
        workflow = BpmnWorkflow(version.spec, version.subprocess_specs, script_engine=self.script_engine)
        workflow.get_next_task(state=TaskState.READY).set_data(**(data or {}))
        now = clock.now()
        instance = ProcessInstance(version_id=version.id, business_key=business_key, status="running",
                                   state=b"", lock_version=1, started_by=actor.username, started_at=now,
                                   updated_at=now)
        self.session.add(instance)
        self.session.flush()
        with self._rolled_back_on_error(actor, None, None):
            self._run_engine_steps(workflow)
            self._event("instance_started", actor, instance_id=instance.id, version_id=version.id,
                        process=version.process_key, number=version.number, business_key=business_key)
            self._save(instance, workflow, version, actor, existing_tasks=set(), existing_timers=set(), new=True)
            key = (instance.id, instance.lock_version)  # C: before the commit expires the instance
            self._commit()
        self._workflows.put(*key, workflow)
        return instance

    def complete(self, task_id, actor, data=None):
        data = dict(data or {})
        task_row = self.session.scalar(
            select(HumanTask).where(HumanTask.id == task_id)
            .options(joinedload(HumanTask.instance).defer(ProcessInstance.state)))  # A
        if task_row is None:
            done = self.session.scalar(select(EngineEvent).where(
                EngineEvent.kind == "task_completed", EngineEvent.task_id == task_id).limit(1))
            if done is not None:
                raise Conflict(f"task {task_id} was already completed by {done.actor}")
            raise NotFound(f"task {task_id} does not exist or is no longer open")
        self._authorize(task_row, actor)
        instance = task_row.instance
        version = self.loaded_version(instance.version_id)
        self.validate_form(task_row, data, version)
        workflow = self._workflow(instance, version)  # A: the deferred state is read only on a cache miss
        task = workflow.get_task_from_id(UUID(task_id))
        if task is None or task.state != TaskState.READY:
            raise Conflict(f"task {task_id} is not ready (it was completed or cancelled)")
        open_before, timers_before = self._mirrored_rows(workflow, version)
        with self._rolled_back_on_error(actor, instance.id, task_id), self.session.no_autoflush:
            task.data.update(data)
            task.run()
            self._run_engine_steps(workflow)
            self._event("task_completed", actor, instance_id=instance.id, task_id=task_id, bpmn_id=task_row.bpmn_id,
                        name=task_row.name, data=_jsonable(data))
            self._save(instance, workflow, version, actor, open_before, timers_before)
            key = (instance.id, instance.lock_version)  # C
            self._commit()
        self._workflows.put(*key, workflow)
        return instance

    def _write_state(self, instance, workflow, **values):
        old = instance.lock_version
        written = dict(state=self.codec.dumps(workflow), lock_version=old + 1, updated_at=clock.now(), **values)
        done = self.session.execute(
            update(ProcessInstance).where(ProcessInstance.id == instance.id, ProcessInstance.lock_version == old)
            .values(**written).execution_options(synchronize_session=False))
        if done.rowcount != 1:
            raise Conflict(f"instance {instance.id} was changed by someone else; reload and try again")
        for name, value in written.items():  # B: the row as written, no reload on the next access
            set_committed_value(instance, name, value)


class LeanPlusEngine(LeanEngine):
    """LeanEngine, and (D) the state UPDATE as one prebuilt Core statement on the session's connection:
    building an ORM ``update()`` and running it through ``Session.execute`` costs more client CPU
    than the round trip itself."""

    _table = ProcessInstance.__table__
    _update = (update(_table)
               .where(_table.c.id == bindparam("b_id"), _table.c.lock_version == bindparam("b_old"))
               .values(state=bindparam("b_state"), lock_version=bindparam("b_new"), updated_at=bindparam("b_at")))

    def _write_state(self, instance, workflow, **values):
        old = instance.lock_version
        state, at = self.codec.dumps(workflow), clock.now()
        statement = self._update.values(**values) if values else self._update
        done = self.session.connection().execute(
            statement, {"b_id": instance.id, "b_old": old, "b_state": state, "b_new": old + 1, "b_at": at})
        if done.rowcount != 1:
            raise Conflict(f"instance {instance.id} was changed by someone else; reload and try again")
        for name, value in dict(state=state, lock_version=old + 1, updated_at=at, **values).items():
            set_committed_value(instance, name, value)


ENGINES = {"stock": Engine, "lean": LeanEngine, "lean+": LeanPlusEngine}


def sql_floor(db, instances: int) -> dict:
    """The lean statement sequence of ``instances`` x 6 steps through plain psycopg, one commit per step."""
    spec, subprocess_specs = engine_bench.load_spec()
    workflow = engine_bench.new_workflow(spec, subprocess_specs, None)
    state = StateCodec().dumps(workflow)  # a real document of the diagram, ~4-5 kB
    detail = json.dumps({"bpmn_id": "visit", "name": "回访 Visit", "data": engine_bench.FORM_DATA["visit"]},
                        ensure_ascii=False)
    now = datetime.now(timezone.utc)
    new_task = ("INSERT INTO wf_human_task (id, instance_id, bpmn_id, name, lane, role, form_key, process_key, "
                "version_number, created_at) VALUES (%s, %s, 'visit', '回访 Visit', 'Agent', 'Agent', "
                "'visit.schema.json', 'six_task', 1, %s)")
    events = ("INSERT INTO wf_event (at, actor, kind, instance_id, task_id, version_id, detail) VALUES "
              "(%s, 'li', 'task_completed', %s, %s, 1, %s), (%s, 'system', 'task_created', %s, %s, 1, '{}')")
    raw = db.raw_connection()
    try:
        cur = raw.driver_connection.cursor()
        version_id = cur.execute("SELECT max(id) FROM wf_process_version").fetchone()[0]
        started, cpu = time.perf_counter(), time.process_time()
        steps = 0
        for _ in range(instances):
            instance_id = cur.execute(
                "INSERT INTO wf_process_instance (version_id, status, state, lock_version, started_by, started_at, "
                "updated_at) VALUES (%s, 'running', %s, 1, 'zhang', %s, %s) RETURNING id",
                (version_id, state, now, now)).fetchone()[0]
            task_id = str(uuid4())
            cur.execute(events.replace("'task_completed'", "'instance_started'"),
                        (now, instance_id, None, "{}", now, instance_id, task_id))
            cur.execute(new_task, (task_id, instance_id, now))
            raw.commit()
            for step in range(engine_bench.TASKS_PER_INSTANCE):
                cur.execute("SELECT t.*, i.id, i.version_id, i.lock_version, i.business_key FROM wf_human_task t "
                            "JOIN wf_process_instance i ON i.id = t.instance_id WHERE t.id = %s", (task_id,)).fetchall()
                cur.execute("UPDATE wf_process_instance SET state = %s, lock_version = %s, updated_at = %s "
                            "WHERE id = %s AND lock_version = %s", (state, step + 2, now, instance_id, step + 1))
                cur.execute("DELETE FROM wf_human_task WHERE id = %s", (task_id,))
                next_id = str(uuid4())
                cur.execute(events, (now, instance_id, task_id, detail, now, instance_id, next_id))
                cur.execute(new_task, (next_id, instance_id, now))
                raw.commit()
                task_id = next_id
                steps += 1
        return {"completions": steps, "seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu,
                "statements": steps * 5 + instances * 3}
    finally:
        raw.close()


def end_state(db, ids: list[int]) -> tuple:
    """What the run left behind, per instance: status, event kinds, open tasks (must not differ by engine)."""
    with db.connect() as conn:
        statuses = conn.execute(sa.text(
            "SELECT status, count(*) FROM wf_process_instance WHERE id = ANY(:ids) GROUP BY status"),
            {"ids": ids}).all()
        kinds = conn.execute(sa.text(
            "SELECT kind, count(*)::float / :n FROM wf_event WHERE instance_id = ANY(:ids) "
            "GROUP BY kind ORDER BY kind"),
            {"ids": ids, "n": len(ids)}).all()
        open_tasks = conn.scalar(sa.text("SELECT count(*) FROM wf_human_task WHERE instance_id = ANY(:ids)"),
                                 {"ids": ids})
    return (tuple(statuses), tuple(kinds), open_tasks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--instances", type=int, default=100, help="instances per engine, cache mode and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--no-results", action="store_true", help="do not write bench/RESULTS.md")
    args = parser.parse_args()

    db = bench_engine(args.database_url, SCHEMA)
    results: dict[tuple[str, str], list[dict]] = {}
    states = {}
    waited = 0.0
    try:
        info = machine_info(db)
        engine_bench.deploy(db)
        counter = engine_bench.StatementCounter(db)
        for round_no in range(args.rounds):
            waited += settle()
            for cache_label, cache_size in (("cache on", None), ("cache_size=0", 0)):
                for name, cls in ENGINES.items():
                    r = engine_bench.run_engine(db, args.instances, cache_size, args.warmup, counter, cls)
                    results.setdefault((name, cache_label), []).append(r)
                    states.setdefault(name, set()).add(end_state(db, r["instance_ids"]))
                    print(f"round {round_no + 1} {name:6} {cache_label:12} {engine_bench.rate(r):6.0f} completions/s "
                          f"{r['statements'] / r['completions']:.1f} statements/completion", flush=True)
            floor = sql_floor(db, args.instances)
            results.setdefault(("SQL floor (psycopg, no ORM)", "-"), []).append(floor)
            print(f"round {round_no + 1} SQL floor {engine_bench.rate(floor):6.0f} steps/s", flush=True)
    finally:
        drop_schema(db, SCHEMA)

    same = len({frozenset(s) for s in states.values()}) == 1 and all(len(s) == 1 for s in states.values())
    lines = [
        "## What-if: no instance-row reloads per step (`bench/lean_engine_bench.py`)",
        "",
        *machine_lines(info),
        f"- Same diagram and loop as engine_bench (c)/(c'); {args.instances} instances x 6 tasks per engine, cache "
        f"mode and round, {args.rounds} interleaved rounds (waited {waited:.0f} s for the load average to settle); "
        "`LeanEngine` is a subclass defined in the script "
        "(proposal, not the product); see the script's docstring for the changes",
        "- lean = stock + (A) task+instance query without the `state` column, read only on a cache miss; "
        "(B) `_write_state` keeps the written values (`set_committed_value`) instead of `session.expire(instance)`, "
        "which made `_add_human_task` reload the whole row; (C) the cache key (`instance.id`, `lock_version`) taken "
        "before the commit instead of reloading the expired row after it. lean+ = lean + (D) the state UPDATE as a "
        "prebuilt Core statement on `session.connection()`. SQL floor = a lean step's statements through plain "
        "psycopg, no ORM, no SpiffWorkflow",
        f"- End state identical for all engines (status, events per instance by kind, open tasks): "
        f"{'yes' if same else '**NO**'}",
        "",
        "| engine | cache | completions/s per round | median completions/s | ms per completion "
        "| statements per completion | client CPU ms per completion |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for (name, cache_label), runs in results.items():
        rates = [engine_bench.rate(r) for r in runs]
        median = statistics.median(rates)
        cpu = statistics.median(1000 * r["cpu"] / r["completions"] for r in runs)
        lines.append(f"| {name} | {cache_label} | {', '.join(f'{x:.0f}' for x in rates)} | {median:.0f} | "
                     f"{1000 / median:.2f} | {runs[0]['statements'] / runs[0]['completions']:.1f} | {cpu:.2f} |")
    text = "\n".join(lines)
    print()
    print(text)
    if not args.no_results:
        write_section(SECTION, text)
        print(f"\nwrote section {SECTION} to bench/RESULTS.md")


if __name__ == "__main__":
    main()
