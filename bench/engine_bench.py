#!/usr/bin/env python3
"""Task completions per second: raw SpiffWorkflow vs. a serializer round trip vs. Huifang's Engine.

What is measured
----------------
One diagram, bench/six_task.bpmn (six sequential user tasks in two lanes, Supervisor and Agent,
each with a small JSON Schema form from bench/forms/), run to the end many times:

(a)  raw SpiffWorkflow in memory: the spec is parsed once; per instance a ``BpmnWorkflow`` is
     created and each ready user task is completed with ``task.run()`` + ``do_engine_steps()``.
(b)  the same, plus a full JSON round trip per step with SpiffWorkflow's own
     ``BpmnWorkflowSerializer`` (SPIFF_CONFIG registry): deserialize, complete, serialize;
     a script engine is reassigned after every deserialize.
(b') (for reference) the same round trip with Huifang's ``StateCodec`` (state without the spec).
(c)  Huifang's ``Engine`` on PostgreSQL: ``Engine.start`` then ``Engine.complete`` per task, each
     one committed transaction (default durability), with an ``Actor`` holding the task's role
     and form data that passes the task's schema. The Engine's in-process workflow cache is on.
(c') the same with ``Engine(session, cache_size=0)``: every step deserializes the state from the
     row, as a process that did not do the previous step would (another gunicorn worker).
(d)  the database floor: the statements the Engine sends for a start and a cached step (one statement
     per step: guarded UPDATE, DELETE, INSERT task, INSERT events and the row count checks) through
     plain psycopg with real-size documents and no SpiffWorkflow at all, prepared as the Engine's
     are (workflows/connections.py); d/b is the best c/b this machine allows with those statements.
(d') the same, with the client busy between two statements for as long as (c) spends on CPU per step
     (a spin, not counted): how long the same statements wait when the database has been idle meanwhile,
     as it is for (c).

Completions per second = completed user tasks / time. For (a) and (b) the time is the whole loop;
for (c)/(c') it is the time spent inside ``Engine.start`` and ``Engine.complete`` (the lookup
of the next open task id, which an app does by listing the inbox, is timed separately and
reported as "with lookup"). Starting an instance is included in every variant's time.

The instances of every variant are split over ``--rounds`` rounds; within a round the variants take
turns ``--chunks`` times, each on a short slice of its instances (a few seconds in all), so that the
speed of a shared machine, which drifts by half and more over minutes, is the same for all of them.
The engine variants keep their Engine, session and warm cache across the slices of a round. Figures
are totals over the rounds, and the per-round ratios are listed too.

Targets: c/b >= 0.5. Also reported: c'/b, SQL statements per completion, and the stored bytes
per completed instance (the ``state`` column and the instance's ``wf_event`` rows).

Usage: ``python bench/engine_bench.py [--database-url URL] [--instances-raw N] ...``.
Works in its own schema ``engine_bench_<pid>`` of the bench database (created and dropped by the script).
Results are printed and written to bench/RESULTS.md between ``<!-- engine_bench:start -->``
and ``<!-- engine_bench:end -->``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from uuid import uuid4

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy import event, func, select  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402
from SpiffWorkflow.bpmn import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine  # noqa: E402
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer  # noqa: E402
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser  # noqa: E402
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG  # noqa: E402
from SpiffWorkflow.util.task import TaskState  # noqa: E402

from benchlib import (DEFAULT_DATABASE_URL, Stopwatch, bench_engine, drop_schema, human_bytes,  # noqa: E402
                      machine_info, machine_lines, settle, summary_ms, write_section)
from workflows.actor import Actor  # noqa: E402
from workflows.codec import StateCodec  # noqa: E402
from workflows.engine import Engine  # noqa: E402
from workflows.models import HumanTask, ProcessInstance  # noqa: E402

SECTION = "engine_bench"
SCHEMA = f"engine_bench_{os.getpid()}"  # one per run: concurrent runs do not collide
DIAGRAM = ROOT / "bench" / "six_task.bpmn"
FORMS_DIR = ROOT / "bench" / "forms"
PROCESS_ID = "six_task"
TASKS_PER_INSTANCE = 6

# Form data per user task; each passes the task's schema.
FORM_DATA = {
    "plan": {"planned_date": "2024-03-05", "agent": "li.visitor", "note": "上午联系业主 call in the morning"},
    "notify": {"channel": "phone", "reached": True},
    "sign_out_form": {"form_no": "HF-000123"},
    "visit": {"result": "satisfied", "score": 5, "comment": "业主满意 owner satisfied"},
    "return_form": {"returned": True, "pages": 2},
    "review": {"approved": True, "comment": "同意 OK"},
}
STARTER = Actor("zhang.supervisor", frozenset({"Supervisor"}))
ACTORS = {"Supervisor": STARTER, "Agent": Actor("li.visitor", frozenset({"Agent"}))}
START_DATA = {"customer": "王先生 Mr Wang", "unit": "3-2-1501", "phone": "138-0000-0000"}


# ----------------------------------------------------------------------------- in memory
def load_spec():
    parser = SpiffBpmnParser()
    parser.add_bpmn_file(str(DIAGRAM))
    return parser.get_spec(PROCESS_ID), parser.get_subprocess_specs(PROCESS_ID)


def new_workflow(spec, subprocess_specs, script_engine):
    workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=script_engine)
    workflow.get_next_task(state=TaskState.READY).set_data(**START_DATA)
    workflow.do_engine_steps()
    return workflow


def complete_next(workflow) -> bool:
    """Complete the one ready user task, if any; True when a task was completed."""
    task = workflow.get_next_task(state=TaskState.READY, manual=True)
    if task is None:
        return False
    task.data.update(FORM_DATA[task.task_spec.bpmn_id])
    task.run()
    workflow.do_engine_steps()
    return True


def run_raw(instances: int, spec, subprocess_specs) -> dict:
    """(a) SpiffWorkflow in memory, no persistence."""
    script_engine = PythonScriptEngine()
    completions = 0
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(instances):
        workflow = new_workflow(spec, subprocess_specs, script_engine)
        while complete_next(workflow):
            completions += 1
        assert workflow.is_completed()
    return {"completions": completions, "seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu}


def run_round_trip(instances: int, spec, subprocess_specs, dumps, loads) -> dict:
    """(b) and (b'): deserialize, complete one task, serialize -- per step."""
    script_engine = PythonScriptEngine()
    completions = 0
    doc_bytes = 0
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(instances):
        document = dumps(new_workflow(spec, subprocess_specs, script_engine))
        while True:
            workflow = loads(document)
            workflow.script_engine = script_engine  # never the default engine after a restore
            if not complete_next(workflow):
                break
            document = dumps(workflow)
            completions += 1
        assert workflow.is_completed()
        doc_bytes += len(document)
    return {"completions": completions, "seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu,
            "document_bytes": doc_bytes / instances}


def spiff_serializer_functions():
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    return serializer.serialize_json, serializer.deserialize_json


def state_codec_functions(spec, subprocess_specs):
    codec = StateCodec()
    return codec.dumps, lambda data: codec.loads(data, spec, subprocess_specs)


# ----------------------------------------------------------------------------- SQL floor
def sql_floor(db, instances: int, busy: float = 0.0) -> dict:
    """The statements of ``instances`` x 6 cached engine steps through plain psycopg, as the Engine sends them on
    PostgreSQL: per start a read of the new id and the latest version, then one statement; per step one statement
    (each its own transaction, row counts checked by wf_expect_rows). ``busy``: seconds of client CPU spent between
    two statements, as the engine spends them on SpiffWorkflow and the document (not counted in the time)."""
    spec, subprocess_specs = load_spec()
    workflow = new_workflow(spec, subprocess_specs, None)
    state = StateCodec().dumps(workflow)  # a real document of the diagram, ~4-5 kB
    detail = json.dumps({"bpmn_id": "visit", "name": "回访 Visit", "data": FORM_DATA["visit"]},
                        ensure_ascii=False)
    now = datetime.now(timezone.utc)
    new_task = ("INSERT INTO wf_human_task (id, instance_id, bpmn_id, name, lane, role, form_key, process_key, "
                "version_number, created_at) VALUES (%(task)s, %(instance)s, 'visit', '回访 Visit', 'Agent', 'Agent', "
                "'visit.schema.json', 'six_task', 1, %(now)s)")
    events = ("INSERT INTO wf_event (at, actor, kind, instance_id, task_id, version_id, detail) VALUES "
              "(%(now)s, 'li', %(kind)s, %(instance)s, %(done)s, 1, %(detail)s), "
              "(%(now)s, 'system', 'task_created', %(instance)s, %(task)s, 1, '{}')")
    draw = ("SELECT nextval('wf_process_instance_id_seq'), (SELECT v.id FROM wf_process_version v JOIN wf_process_model m "
            "ON m.id = v.model_id WHERE m.key = 'six_task' ORDER BY v.number DESC LIMIT 1)")
    start = (f"WITH i AS (INSERT INTO wf_process_instance (id, version_id, status, state, lock_version, started_by, "
             f"started_at, updated_at) VALUES (%(instance)s, %(version)s, 'running', %(state)s, 1, 'zhang', %(now)s, "
             f"%(now)s)), e AS ({events}), t AS ({new_task}) SELECT 1")
    step = (f"WITH u AS (UPDATE wf_process_instance SET state = %(state)s, lock_version = %(lock)s + 1, "
            f"updated_at = %(now)s WHERE id = %(instance)s AND lock_version = %(lock)s RETURNING 1), "
            f"d AS (DELETE FROM wf_human_task WHERE id = %(done)s AND (assignee IS NULL OR assignee = 'li') RETURNING 1), "
            f"t AS ({new_task}), e AS ({events}) "
            f"SELECT wf_expect_rows((SELECT count(*) FROM u), 1, 'wf_process_instance', 0), "
            f"wf_expect_rows((SELECT count(*) FROM d), 1, 'wf_human_task', 1)")
    raw = db.raw_connection()
    try:
        connection = raw.driver_connection
        connection.autocommit = True
        # Prepared at first use, as the Engine's are on its connections of their own (workflows/connections.py).
        connection.prepare_threshold = 0
        cur = connection.cursor()
        spent = spent_cpu = 0.0  # the busy time, taken out of the totals

        def work():
            nonlocal spent, spent_cpu
            if busy:
                begun, begun_cpu = time.perf_counter(), time.process_time()
                while time.perf_counter() - begun < busy:
                    pass
                spent += time.perf_counter() - begun
                spent_cpu += time.process_time() - begun_cpu

        started, cpu = time.perf_counter(), time.process_time()
        steps = 0
        for _ in range(instances):
            work()
            instance_id, version_id = cur.execute(draw).fetchone()
            task_id = str(uuid4())
            cur.execute(start, {"instance": instance_id, "version": version_id, "state": state, "now": now,
                                "kind": "instance_started", "done": None, "detail": "{}", "task": task_id})
            for lock in range(1, TASKS_PER_INSTANCE + 1):
                next_id = str(uuid4())
                work()
                cur.execute(step, {"state": state, "lock": lock, "now": now, "instance": instance_id, "done": task_id,
                                   "task": next_id, "kind": "task_completed", "detail": detail})
                task_id = next_id
                steps += 1
        return {"completions": steps, "seconds": time.perf_counter() - started - spent,
                "cpu": time.process_time() - cpu - spent_cpu, "statements": steps + instances * 2}
    finally:
        connection.autocommit = False
        connection.prepare_threshold = 5  # psycopg's default, for the pool's next user
        raw.close()


# ----------------------------------------------------------------------------- Huifang Engine
class StatementCounter:
    """Counts SQL statements sent while ``active``."""

    def __init__(self, db):
        self.count = 0
        self.active = False
        event.listen(db, "before_cursor_execute", self._seen)

    def _seen(self, *args):
        if self.active:
            self.count += 1


def deploy(db) -> None:
    forms = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in FORMS_DIR.glob("*.schema.json")}
    with sessionmaker(db)() as session:
        Engine(session).deploy(PROCESS_ID, DIAGRAM.read_bytes(), forms, Actor("owner", frozenset({"ProcessOwner"})))


class EngineRun:
    """(c) / (c'): one Engine on one session, as one web worker holds them, measured over several
    ``run`` calls (the chunks of a round) after ``warmup`` unmeasured instances."""

    def __init__(self, db, cache_size: int | None, warmup: int, counter: StatementCounter, engine_class=Engine):
        self.counter = counter
        self.session = sessionmaker(db)()  # expire_on_commit=True, as Flask-SQLAlchemy's session
        self.engine = engine_class(self.session) if cache_size is None else engine_class(self.session,
                                                                                          cache_size=cache_size)
        loads = self.engine.codec.loads
        self.restores = 0

        def counting_loads(*args, **kwargs):
            self.restores += 1
            return loads(*args, **kwargs)

        self.engine.codec.loads = counting_loads  # instrument this engine object only, to see cache hits
        self.started = 0
        self._instances(warmup, None)

    def _instances(self, instances: int, measure: dict | None) -> None:
        engine, session, counter = self.engine, self.session, self.counter
        for _ in range(instances):
            key = f"HF-{self.started:06d}"
            self.started += 1
            counter.active = measure is not None
            with measure["starts"] if measure else Stopwatch():
                instance = engine.start(PROCESS_ID, STARTER, data=dict(START_DATA), business_key=key)
            counter.active = False
            instance_id = sa.inspect(instance).identity[0]  # without reloading an expired instance
            while True:
                with measure["lookups"] if measure else Stopwatch():
                    row = session.execute(select(HumanTask.id, HumanTask.bpmn_id, HumanTask.role)
                                          .where(HumanTask.instance_id == instance_id)).first()
                    session.rollback()  # end the read transaction, as a request would
                if row is None:
                    break
                counter.active = measure is not None
                with measure["completes"] if measure else Stopwatch():
                    engine.complete(row.id, ACTORS[row.role], dict(FORM_DATA[row.bpmn_id]))
                counter.active = False
                if measure:
                    measure["completions"] += 1
            if measure:
                measure["ids"].append(instance_id)

    def run(self, instances: int) -> dict:
        measure = {"starts": Stopwatch(), "completes": Stopwatch(), "lookups": Stopwatch(), "completions": 0,
                   "ids": []}
        self.restores = 0
        self.counter.count = 0
        wall_start = time.perf_counter()
        try:
            self._instances(instances, measure)
        finally:
            self.counter.active = False
        wall = time.perf_counter() - wall_start
        ids = measure["ids"]
        status = dict(self.session.execute(select(ProcessInstance.status, func.count())
                                           .where(ProcessInstance.id.in_(ids)).group_by(ProcessInstance.status)).all())
        self.session.rollback()
        assert status == {"completed": instances}, status
        assert measure["completions"] == instances * TASKS_PER_INSTANCE
        starts, completes = measure["starts"], measure["completes"]
        return {"completions": measure["completions"], "seconds": starts.total + completes.total, "wall": wall,
                "cpu": starts.cpu + completes.cpu, "lookup_seconds": measure["lookups"].total,
                "statements": self.counter.count, "restores": self.restores, "instance_ids": ids,
                "start_laps": starts.laps, "complete_laps": completes.laps}

    def close(self) -> None:
        self.session.close()


def run_engine(db, instances: int, cache_size: int | None, warmup: int, counter: StatementCounter,
               engine_class=Engine) -> dict:
    """One measured run of ``instances`` on a fresh Engine."""
    run = EngineRun(db, cache_size, warmup, counter, engine_class)
    try:
        return run.run(instances)
    finally:
        run.close()


# Where (c)'s client CPU goes: functions timed in a separate run (the wrappers cost time themselves, so
# the measured rounds run without them). Each phase's time excludes the phases nested in it.
PHASES = [
    ("SpiffWorkflow: run the task and the engine steps", "SpiffWorkflow.task", "Task.run"),
    ("SpiffWorkflow: run the task and the engine steps", "workflows.engine", "Engine._run_engine_steps"),
    ("form validation (jsonschema)", "workflows.engine", "Engine._form_problems"),
    ("state document (StateCodec.dumps)", "workflows.codec", "StateCodec.dumps"),
    ("SQL: the step's statement through psycopg (its own transaction, prepared, row counts checked by the server)",
     "workflows.writes", "run_batch"),
    ("SQLAlchemy session: begin (connection from the pool) and commit (bookkeeping; COMMIT went with the statement)",
     "sqlalchemy.orm", "Session.connection"),
    ("SQLAlchemy session: begin (connection from the pool) and commit (bookkeeping; COMMIT went with the statement)",
     "sqlalchemy.orm", "Session.commit"),
    ("engine and its start/complete bookkeeping (rows, events, cache)", "workflows.engine", "Engine.start"),
    ("engine and its start/complete bookkeeping (rows, events, cache)", "workflows.engine", "Engine.complete"),
]


def cpu_by_phase(db, instances: int, counter: StatementCounter) -> dict[str, float]:
    """Client CPU ms per completion of (c), by phase (see PHASES)."""
    import importlib

    spent: dict[str, float] = {}
    stack: list[float] = []
    patched = []

    def timed(label, function):
        def wrapper(*args, **kwargs):
            started = time.process_time()
            stack.append(0.0)
            try:
                return function(*args, **kwargs)
            finally:
                took = time.process_time() - started
                nested = stack.pop()
                spent[label] = spent.get(label, 0.0) + took - nested
                if stack:
                    stack[-1] += took
        return wrapper

    for label, module_name, path in PHASES:
        owner = importlib.import_module(module_name)
        *outer, name = path.split(".")
        for part in outer:
            owner = getattr(owner, part)
        original = owner.__dict__[name]
        function = original.__func__ if isinstance(original, staticmethod) else original
        wrapped = timed(label, function)
        setattr(owner, name, staticmethod(wrapped) if isinstance(original, staticmethod) else wrapped)
        patched.append((owner, name, original))
    try:
        result = run_engine(db, instances, None, 0, counter)
    finally:
        for owner, name, original in reversed(patched):
            setattr(owner, name, original)
    return {label: seconds * 1000 / result["completions"] for label, seconds in spent.items()}


def stored_bytes(db, instance_ids: list[int]) -> dict:
    """Bytes stored per completed instance: its state column and its wf_event rows."""
    with db.connect() as conn:
        conn.execute(sa.text("CREATE TEMP TABLE bench_ids (id bigint PRIMARY KEY)"))
        conn.execute(sa.text("INSERT INTO bench_ids SELECT unnest(CAST(:ids AS bigint[]))"), {"ids": instance_ids})
        state = conn.execute(sa.text(
            "SELECT avg(octet_length(i.state)), avg(pg_column_size(i.state)), avg(pg_column_size(i.*)) "
            "FROM wf_process_instance i JOIN bench_ids b ON b.id = i.id")).one()
        events = conn.execute(sa.text(
            "SELECT count(*)::float / :n, sum(octet_length(CAST(e.detail AS text)))::float / :n, "
            "       sum(pg_column_size(e.*))::float / :n "
            "FROM wf_event e JOIN bench_ids b ON b.id = e.instance_id"), {"n": len(instance_ids)}).one()
        kinds = dict(conn.execute(sa.text(
            "SELECT kind, count(*) FROM wf_event e JOIN bench_ids b ON b.id = e.instance_id GROUP BY kind")).all())
        all_instances = conn.scalar(sa.text("SELECT count(*) FROM wf_process_instance"))
        on_disk = dict(conn.execute(sa.text(
            "SELECT relname, pg_total_relation_size(c.oid) FROM pg_class c "
            "WHERE relname IN ('wf_process_instance', 'wf_event', 'wf_human_task') "
            "AND relnamespace = CAST(current_schema() AS regnamespace)")).all())
        conn.rollback()
    return {
        "state_raw": float(state[0]), "state_stored": float(state[1]), "instance_row": float(state[2]),
        "events": events[0], "event_detail_text": events[1], "event_rows": events[2],
        "event_kinds": {k: v / len(instance_ids) for k, v in sorted(kinds.items())},
        "total": float(state[1]) + events[2],
        "instances_in_db": all_instances,
        "disk_per_instance": {k: v / all_instances for k, v in on_disk.items()},
    }


# ----------------------------------------------------------------------------- report
def rate(result: dict) -> float:
    return result["completions"] / result["seconds"]


def merge(rounds: list[dict]) -> dict:
    """One result from several rounds: counts and times added, lists joined."""
    merged = {}
    for key, value in rounds[0].items():
        if isinstance(value, list):
            merged[key] = [x for r in rounds for x in r[key]]
        elif key == "document_bytes":  # an average per instance already
            merged[key] = sum(r[key] for r in rounds) / len(rounds)
        elif isinstance(value, (int, float)):
            merged[key] = sum(r[key] for r in rounds)
    merged["round_rates"] = [rate(r) for r in rounds]
    return merged


def p50_p95(laps: list[float]) -> str:
    s = summary_ms(laps)
    return f"{s['p50']:.1f} / {s['p95']:.1f}"


def with_lookup(result: dict) -> dict:
    """The engine calls plus the query that finds the next open task (as an inbox listing would)."""
    return {**result, "seconds": result["seconds"] + result["lookup_seconds"], "cpu": None}


def report(args, info, raw, spiff, codec, cached, uncached, floor, busy_floor, sizes, waited, phases) -> str:
    b = rate(spiff)
    c, c0 = rate(cached), rate(uncached)
    ok = "meets" if c / b >= 0.5 else "MISSES"
    round_cb = [x / y for x, y in zip(cached["round_rates"], spiff["round_rates"])]
    round_c0b = [x / y for x, y in zip(uncached["round_rates"], spiff["round_rates"])]
    disabled_not = "**cache_size=0 does NOT disable the cache**"
    lines = [
        "## Engine throughput (`bench/engine_bench.py`)",
        "",
        *machine_lines(info),
        f"- Diagram: `bench/six_task.bpmn` ({TASKS_PER_INSTANCE} sequential user tasks, lanes Supervisor/Agent, "
        f"forms in `bench/forms/`); instances: (a) {raw['completions'] // TASKS_PER_INSTANCE}, (b)/(b') "
        f"{spiff['completions'] // TASKS_PER_INSTANCE}, (c)/(c') {cached['completions'] // TASKS_PER_INSTANCE} each, "
        f"split over {args.rounds} rounds, in each of which (a), (b), (b'), (c), (c'), (d), (d') take turns {args.chunks} times "
        f"(each engine run after {args.warmup} warm-up instances per round); one process, one session; "
        f"waited {waited:.0f} s in total for the load average to settle before rounds",
        "",
        "| variant | completions | seconds | completions/s | ms per completion | client CPU ms per completion |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    rows = [
        ("(a) SpiffWorkflow in memory", raw),
        ("(b) + BpmnWorkflowSerializer JSON round trip per step", spiff),
        ("(b') + Huifang StateCodec round trip per step (reference)", codec),
        ("(c) Engine on PostgreSQL, cache on", cached),
        ("(c) incl. the next-task lookup query", with_lookup(cached)),
        ("(c') Engine on PostgreSQL, cache_size=0", uncached),
        ("(c') incl. the next-task lookup query", with_lookup(uncached)),
        ("(d) SQL floor: a step's statements through plain psycopg (no SpiffWorkflow, no ORM)", floor),
        ("(d') the same, the client busy between statements as long as (c) per step (not counted)", busy_floor),
    ]
    for name, result in rows:
        per = 1000 / result["completions"]
        cpu = f"{result['cpu'] * per:.2f}" if result["cpu"] is not None else ""
        lines.append(f"| {name} | {result['completions']:,} | {result['seconds']:.2f} | {rate(result):,.0f} | "
                     f"{result['seconds'] * per:.2f} | {cpu} |")
    lines += [
        "",
        f"- **c/b = {c / b:.2f}** (target >= 0.5: {ok}); **c'/b = {c0 / b:.2f}**; c/a = {c / rate(raw):.3f}; "
        f"b/a = {b / rate(raw):.3f}",
        f"- Database floor: d/b = {rate(floor) / b:.2f} is the best c/b these statements allow on this machine "
        f"with a free SpiffWorkflow step; c/d = {c / rate(floor):.2f} of it is reached",
        f"- Waiting for PostgreSQL, ms per completion (wall minus client CPU): (c) "
        f"{(cached['seconds'] - cached['cpu']) * 1000 / cached['completions']:.2f}, (d) "
        f"{(floor['seconds'] - floor['cpu']) * 1000 / floor['completions']:.2f}, (d') "
        f"{(busy_floor['seconds'] - busy_floor['cpu']) * 1000 / busy_floor['completions']:.2f}",
        f"- Per round: c/b {', '.join(f'{x:.2f}' for x in round_cb)}; c'/b {', '.join(f'{x:.2f}' for x in round_c0b)}; "
        f"completions/s (b) {', '.join(f'{x:.0f}' for x in spiff['round_rates'])}, "
        f"(c) {', '.join(f'{x:.0f}' for x in cached['round_rates'])}, "
        f"(c') {', '.join(f'{x:.0f}' for x in uncached['round_rates'])}",
        "- Latency of single calls, p50 / p95 ms: "
        + "; ".join(f"{label} start {p50_p95(r['start_laps'])}, complete {p50_p95(r['complete_laps'])}"
                    for label, r in (("cache on:", cached), ("cache_size=0:", uncached))),
        "- Client CPU = this Python process's CPU time (SpiffWorkflow, codec, SQLAlchemy, psycopg); the rest of "
        "the wall time is waiting for PostgreSQL (round trips, server work, WAL flush at commit)",
        f"- (c)'s client CPU by phase, ms per completion (a separate run of {args.instances_phases} instances with "
        f"the phases timed; timing adds its own cost, total {sum(phases.values()):.2f}): "
        + "; ".join(f"{label} {ms:.2f}" for label, ms in sorted(phases.items(), key=lambda kv: -kv[1])),
        f"- SQL statements per completion (start included): cache on "
        f"{cached['statements'] / cached['completions']:.1f}, cache_size=0 "
        f"{uncached['statements'] / uncached['completions']:.1f}",
        f"- State restores (deserializations) during the measured run: cache on {cached['restores']}, "
        f"cache_size=0 {uncached['restores']} for {uncached['completions']} completions "
        f"({'cache_size=0 disables the cache' if uncached['restores'] >= uncached['completions'] else disabled_not})",
        f"- Serialized document of a completed instance: BpmnWorkflowSerializer "
        f"{human_bytes(spiff['document_bytes'])}, "
        f"StateCodec {human_bytes(codec['document_bytes'])}",
        "",
        "Stored per completed instance (averages over the (c) and (c') instances):",
        "",
        "| what | bytes |",
        "| --- | ---: |",
        f"| `state` column, raw (`octet_length`) | {sizes['state_raw']:,.0f} |",
        f"| `state` column, stored (`pg_column_size`, after TOAST compression) | {sizes['state_stored']:,.0f} |",
        f"| whole instance row (`pg_column_size(row)`) | {sizes['instance_row']:,.0f} |",
        f"| `wf_event` rows: {sizes['events']:.1f} per instance "
        f"({', '.join(f'{k} {v:g}' for k, v in sizes['event_kinds'].items())}) (`pg_column_size(row)`) "
        f"| {sizes['event_rows']:,.0f} |",
        f"| of which `detail` JSON text | {sizes['event_detail_text']:,.0f} |",
        f"| **total: stored state + event rows** | **{sizes['total']:,.0f}** |",
        "",
        "On disk incl. indexes and TOAST (`pg_total_relation_size` / "
        f"{sizes['instances_in_db']:,} instances in the schema): "
        + ", ".join(f"{k} {human_bytes(v)}" for k, v in sorted(sizes["disk_per_instance"].items())),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--instances-raw", type=int, default=3000, help="instances for (a)")
    parser.add_argument("--instances-serializer", type=int, default=600, help="instances for (b) and (b')")
    parser.add_argument("--instances-engine", type=int, default=1000, help="instances for (c) and (c') each")
    parser.add_argument("--warmup", type=int, default=10, help="unmeasured instances before each engine run")
    parser.add_argument("--instances-phases", type=int, default=200,
                        help="instances of the separate run that times (c)'s phases")
    parser.add_argument("--rounds", type=int, default=3, help="the instances are split over this many rounds")
    parser.add_argument("--chunks", type=int, default=10,
                        help="each round runs the variants in turn this many times, each on a slice of its instances")
    parser.add_argument("--keep", action="store_true", help="keep the schema")
    parser.add_argument("--no-results", action="store_true", help="do not write bench/RESULTS.md")
    args = parser.parse_args()

    spec, subprocess_specs = load_spec()
    per_chunk = lambda total: max(1, total // (args.rounds * args.chunks))  # noqa: E731
    runs = {key: [] for key in ("a", "b", "b'", "c", "c'", "d", "d'")}
    waited = 0.0
    db = bench_engine(args.database_url, SCHEMA)
    try:
        info = machine_info(db)
        deploy(db)
        counter = StatementCounter(db)
        for round_no in range(1, args.rounds + 1):
            waited += settle()
            spiff_functions = spiff_serializer_functions()
            codec_functions = state_codec_functions(spec, subprocess_specs)
            engines = {"c": EngineRun(db, None, args.warmup, counter), "c'": EngineRun(db, 0, args.warmup, counter)}
            chunks = {key: [] for key in runs}
            for _ in range(args.chunks):  # the variants take turns in short slices (see the docstring)
                chunks["a"].append(run_raw(per_chunk(args.instances_raw), spec, subprocess_specs))
                chunks["b"].append(run_round_trip(per_chunk(args.instances_serializer), spec, subprocess_specs,
                                                  *spiff_functions))
                chunks["b'"].append(run_round_trip(per_chunk(args.instances_serializer), spec, subprocess_specs,
                                                   *codec_functions))
                for key, engine_run in engines.items():
                    chunks[key].append(engine_run.run(per_chunk(args.instances_engine)))
                chunks["d"].append(sql_floor(db, per_chunk(args.instances_engine)))
                busy = chunks["c"][-1]["cpu"] / chunks["c"][-1]["completions"]
                chunks["d'"].append(sql_floor(db, per_chunk(args.instances_engine), busy=busy))
            for engine_run in engines.values():
                engine_run.close()
            for key, results in chunks.items():
                runs[key].append(merge(results))
            print(f"round {round_no}: " + ", ".join(f"({k}) {rate(v[-1]):,.0f}/s" for k, v in runs.items()), flush=True)
        raw, spiff, codec, cached, uncached, floor, busy_floor = (merge(runs[k]) for k in ("a", "b", "b'", "c", "c'", "d",
                                                                                          "d'"))
        with db.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("ANALYZE"))
        sizes = stored_bytes(db, cached["instance_ids"] + uncached["instance_ids"])
        phases = cpu_by_phase(db, args.instances_phases, counter)
    finally:
        if not args.keep:
            drop_schema(db, SCHEMA)

    text = report(args, info, raw, spiff, codec, cached, uncached, floor, busy_floor, sizes, waited, phases)
    print()
    print(text)
    if not args.no_results:
        write_section(SECTION, text)
        print("\nwrote section engine_bench to bench/RESULTS.md")


if __name__ == "__main__":
    main()
