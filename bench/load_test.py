#!/usr/bin/env python3
"""Load test of the Huifang REST API against PostgreSQL, with concurrent timer workers.

What it measures
----------------
One run builds a fresh PostgreSQL database (``huifang_load_<timestamp>``), migrates it, runs
``flask huifang init``, adds Supervisors, Agents and Managers, deploys a copy of the follow-up
visit diagram whose visit deadline is measured in *seconds* (key ``load_visit_fast``), then
starts ``gunicorn -w 4`` and two ``flask huifang worker --poll 0.5`` timer workers.

``--clients`` (16) concurrent API clients (threads, one ``requests.Session`` each, JWT from
``POST /api/v1/security/login``) start ``load_visit`` instances (bench/load/, a frozen copy of the first follow-up visit diagram) (a fraction on the fast copy)
and work them to the end through the API only: list tasks (``scope=mine`` / ``scope=roles``),
claim from the shared role pool, complete plan → visit → review → manager opinion, or
handle_overdue when the boundary timer fired first. Contention is deliberate: several clients
pick from the same role pool, two client threads share one user, some completions are sent twice
at the same instant from two sessions (exactly one 200 and one 409/404 is expected), and agents
complete fast-timer visits right around their deadline, racing the timer workers.

The run stops when ``--completions`` (10,000) completions have been acknowledged with 200.
Reported: throughput (acknowledged completions per second of wall time), latency p50/p95/p99 of
complete, list, claim and start calls, counts of 409/404/403/5xx, timers fired.

Correctness target (checked directly in the database after the run): zero lost or doubled
transitions — every task completed at most once, every instance's event trail is a valid path
(or a valid prefix, for instances still running) through the diagram, each timer fired at most
once, every 200 a client saw for a completion has exactly one ``task_completed`` event by a
non-system actor (and there are no others), no open task or waiting timer belongs to a finished
instance, and no HTTP 5xx. Throughput target: the run must finish; the figures are recorded.

Results are printed and written into bench/RESULTS.md between
``<!-- load_test:start -->`` and ``<!-- load_test:end -->`` (other sections are kept).
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
import requests

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"
START_MARK, END_MARK = "<!-- load_test:start -->", "<!-- load_test:end -->"
PASSWORD = "load-test-password-1"
NORMAL_KEY = "load_visit"
FAST_KEY = "load_visit_fast"
CST = timezone(timedelta(hours=8))


# ----------------------------------------------------------------------------- helpers
def percentile(values, q):
    if not values:
        return None
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, int(round(q / 100.0 * len(ordered) + 0.5)) - 1))
    return ordered[index]


def ms(value):
    return "-" if value is None else f"{value * 1000:.1f}"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def admin_conn(args, dbname="postgres"):
    return psycopg.connect(host=args.pg_host, port=args.pg_port, user=args.pg_user, dbname=dbname, autocommit=True)


class Stats:
    """Thread-safe counters and latency samples."""

    def __init__(self):
        self.lock = threading.Lock()
        self.latency = collections.defaultdict(list)      # op -> [seconds]
        self.status = collections.defaultdict(collections.Counter)  # op -> status -> n
        self.acked = []                                   # task ids whose completion got a 200
        self.completed_ok = 0
        self.dup_pairs = 0
        self.dup_outcomes = collections.Counter()
        self.dup_violations = []
        self.visit_races = collections.Counter()          # fast visits attempted near the deadline
        self.errors = []                                  # unexpected responses (first ones kept)
        self.started = 0
        self.finished = 0

    def record(self, op, status, seconds):
        with self.lock:
            self.latency[op].append(seconds)
            self.status[op][status] += 1

    def unexpected(self, what):
        with self.lock:
            if len(self.errors) < 40:
                self.errors.append(what)


class Api:
    """One logged-in requests.Session."""

    def __init__(self, base, username, stats, password=PASSWORD):
        self.base, self.username, self.stats = base, username, stats
        self.session = requests.Session()
        response = self.session.post(f"{base}/api/v1/security/login", timeout=60,
                                     json={"username": username, "password": password, "provider": "db"})
        response.raise_for_status()
        self.session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    def call(self, op, method, path, **kwargs):
        t0 = time.perf_counter()
        try:
            response = self.session.request(method, self.base + path, timeout=120, **kwargs)
        except requests.RequestException as err:
            self.stats.record(op, "exception", time.perf_counter() - t0)
            self.stats.unexpected(f"{op} {path}: {type(err).__name__}: {err}")
            return None
        self.stats.record(op, response.status_code, time.perf_counter() - t0)
        if response.status_code >= 500 or response.status_code in (400, 401, 422):
            self.stats.unexpected(f"{op} {path} as {self.username}: {response.status_code} {response.text[:300]}")
        return response


# ----------------------------------------------------------------------------- the clients
class Shared:
    def __init__(self, args, agents):
        self.args = args
        self.agents = agents
        self.stop = threading.Event()
        self.stop_starting = threading.Event()
        self.seq = 0
        self.lock = threading.Lock()

    def try_start_slot(self, stats):
        with self.lock, stats.lock:
            if self.stop_starting.is_set() or stats.started - stats.finished >= self.args.max_inflight:
                return None
            stats.started += 1
            self.seq += 1
            return self.seq


class Client(threading.Thread):
    def __init__(self, index, role, api, same_twin, peer_twin, shared, stats, seed):
        super().__init__(name=f"client-{index}-{api.username}", daemon=True)
        self.role, self.api, self.shared, self.stats = role, api, shared, stats
        # A duplicate submit comes from a second session of the same user when the task is assigned
        # (double click, two browser tabs), otherwise from another user of the same role.
        self.same_twin, self.peer_twin = same_twin, peer_twin
        self.rng = random.Random(seed)
        self.deferred = {}  # task id -> (attempt at (epoch), task)
        self.iteration = 0

    # -- form data
    def form_data(self, task):
        bpmn, rng = task["bpmn_id"], self.rng
        if bpmn == "plan":
            fast = task["process"] == FAST_KEY
            window = rng.randint(self.shared.args.fast_min, self.shared.args.fast_max) if fast else 3
            return {"visitor": rng.choice(self.shared.agents), "method": "PHONE", "window_days": window}
        if bpmn == "visit":
            return {"visited_at": datetime.now(CST).isoformat(timespec="seconds"),
                    "satisfied": rng.random() < 0.8, "summary": f"load test visit of {task['instance_id']}"}
        if bpmn == "review":
            return {"qualified": rng.random() < self.shared.args.qualified_ratio,
                    "comment": f"reviewed by {self.api.username}"}
        return {"opinion": f"{bpmn} handled by {self.api.username}"}

    # -- completing
    def _complete(self, api, task, data, results, slot):
        response = api.call("complete", "POST", f"/api/v1/tasks/{task['id']}/complete", json={"data": data})
        results[slot] = response
        if response is not None and response.status_code == 200:
            with self.stats.lock:
                self.stats.completed_ok += 1
                self.stats.acked.append(task["id"])
                if response.json()["result"]["status"] != "running":
                    self.stats.finished += 1
                if self.stats.completed_ok >= self.shared.args.completions:
                    self.shared.stop.set()
                    self.shared.stop_starting.set()

    def complete(self, task):
        data = self.form_data(task)
        if self.rng.random() < self.shared.args.dup_ratio:
            # The same completion from two sessions at the same instant: one must win, one must lose.
            results = [None, None]
            barrier = threading.Barrier(2)
            twin = self.same_twin if task.get("assignee") else self.peer_twin

            def twin_call():
                barrier.wait()
                self._complete(twin, task, dict(data), results, 1)

            helper = threading.Thread(target=twin_call, daemon=True)
            helper.start()
            barrier.wait()
            self._complete(self.api, task, data, results, 0)
            helper.join()
            codes = tuple(sorted(r.status_code if r is not None else -1 for r in results))
            with self.stats.lock:
                self.stats.dup_pairs += 1
                self.stats.dup_outcomes[codes] += 1
                # Two 200s double a transition. The loser gets 409/404, or 403 when the task was claimed
                # in between (by the winner's other thread); without a 200 a third client or the timer won.
                if codes.count(200) > 1 or any(c not in (200, 403, 404, 409) for c in codes):
                    self.stats.dup_violations.append((task["id"], codes))
            return results[0] if results[0] is not None and results[0].status_code == 200 else results[1]
        results = [None]
        self._complete(self.api, task, data, results, 0)
        return results[0]

    def list(self, scope):
        response = self.api.call(f"list_{scope}", "GET", "/api/v1/tasks/", params={"scope": scope, "limit": 20})
        if response is None or response.status_code != 200:
            return []
        return response.json()["result"]

    def start_instance(self):
        number = self.shared.try_start_slot(self.stats)
        if number is None:
            return False
        process = FAST_KEY if self.rng.random() < self.shared.args.fast_ratio else NORMAL_KEY
        response = self.api.call("start", "POST", "/api/v1/instances/",
                                 json={"process": process, "business_key": f"load-{number}", "data": {}})
        if response is None or response.status_code != 201:
            with self.stats.lock:
                self.stats.finished += 1  # the slot is free again
        return True

    def work_role_pool(self, tasks):
        """Pick from the shared role pool; sometimes claim first."""
        if not tasks:
            return False
        task = self.rng.choice(tasks[:6])
        if self.rng.random() < self.shared.args.claim_ratio:
            response = self.api.call("claim", "POST", f"/api/v1/tasks/{task['id']}/claim")
            if response is None or response.status_code != 200:
                return True  # someone else has it (409/403) or it is gone (404)
            task = response.json()["result"]
        self.complete(task)
        return True

    def work_agent(self, tasks):
        now = time.time()
        for task in tasks:
            if task["id"] in self.deferred or task["bpmn_id"] != "visit":
                continue
            attempt = now
            if task["process"] == FAST_KEY and task.get("due_at"):
                due = datetime.fromisoformat(task["due_at"]).timestamp()
                attempt = due + self.rng.uniform(-self.shared.args.race_before, self.shared.args.race_after)
            self.deferred[task["id"]] = (attempt, task)
        did = False
        for task_id, (attempt, task) in sorted(self.deferred.items(), key=lambda kv: kv[1][0]):
            if attempt > time.time() or self.shared.stop.is_set():
                break
            del self.deferred[task_id]
            response = self.complete(task)
            if task["process"] == FAST_KEY:
                code = response.status_code if response is not None else "none"
                with self.stats.lock:
                    self.stats.visit_races[code] += 1
            did = True
        if len(self.deferred) > 200:  # forget tasks the timer took away long ago
            cutoff = time.time() - 60
            self.deferred = {k: v for k, v in self.deferred.items() if v[0] > cutoff}
        return did

    def run(self):
        try:
            while not self.shared.stop.is_set():
                did = False
                self.iteration += 1
                if self.role == "Agent":
                    did = self.work_agent(self.list("mine"))
                else:
                    if self.role == "Supervisor":
                        did = self.start_instance()
                    if self.iteration % 3 == 0:  # claimed tasks (own, or by the other thread of this user)
                        mine = self.list("mine")
                        if mine:
                            self.complete(self.rng.choice(mine[:3]))
                            did = True
                    did = self.work_role_pool(self.list("roles")) or did
                if not did:
                    time.sleep(self.rng.uniform(0.15, 0.35))
        except Exception as err:  # keep the others going; report it
            self.stats.unexpected(f"{self.name} crashed: {type(err).__name__}: {err}")


# ----------------------------------------------------------------------------- set-up and tear-down
def load_diagrams():
    """The load test's own visit diagram (a frozen copy, so product diagram changes don't move the
    benchmark) and its fast twin whose visit window is counted in seconds."""
    folder = ROOT / "bench" / "load"
    xml = (folder / "load_visit.bpmn").read_text(encoding="utf-8")
    forms = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in folder.glob("load_visit.*.schema.json")}
    fast = xml
    replacements = [('timedelta(days=int(window_days))', 'timedelta(seconds=int(window_days))'),
                    ('id="load_visit"', f'id="{FAST_KEY}"'), ('processRef="load_visit"', f'processRef="{FAST_KEY}"')]
    for old, new in replacements:
        assert old in fast, old
        fast = fast.replace(old, new)
    return {NORMAL_KEY: (xml, forms), FAST_KEY: (fast, forms)}


def run_flask(env, *argv, log):
    result = subprocess.run([sys.executable, "-m", "flask", *argv], cwd=ROOT, env=env, capture_output=True, text=True)
    log.write(f"$ flask {' '.join(argv)}\n{result.stdout}{result.stderr}\n")
    if result.returncode != 0:
        raise SystemExit(f"flask {' '.join(argv)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def code_version():
    """The commit under test, and whether app/ or workflows/ differ from it in the working tree."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "app", "workflows", "config.py"], cwd=ROOT,
                               capture_output=True, text=True).stdout.split("\n")
    except OSError:
        return "unknown"
    changed = [line[3:] for line in dirty if line.strip()]
    return head + (f" + uncommitted changes in {', '.join(changed)}" if changed else " (clean)")


def wait_ready(base, deadline=90):
    end = time.time() + deadline
    while time.time() < end:
        try:
            if requests.get(f"{base}/api/v1/tasks/", timeout=5).status_code in (401, 403, 200):
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise SystemExit("gunicorn did not come up")


def stop_process(proc, name, timeout=30):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"{name} did not stop on SIGTERM; killing pid {proc.pid}")
        proc.kill()
        proc.wait()


# ----------------------------------------------------------------------------- verification
PATHS = {
    "qualified": ["S", "C:plan", "D:plan", "C:visit", "D:visit", "C:review", "D:review:True", "E"],
    "unqualified": ["S", "C:plan", "D:plan", "C:visit", "D:visit", "C:review", "D:review:False",
                    "C:manager_opinion", "D:manager_opinion", "E"],
    "overdue": ["S", "C:plan", "D:plan", "C:visit", "T", "C:handle_overdue", "D:handle_overdue", "E"],
}


def verify(conn, stats):
    """Check the database for lost or doubled transitions. Returns (facts, problems)."""
    problems, facts = [], {}
    cur = conn.cursor()

    def one(sql):
        cur.execute(sql)
        return cur.fetchall()

    rows = one("SELECT instance_id, task_id, count(*) FROM wf_event WHERE kind='task_completed' "
               "GROUP BY 1, 2 HAVING count(*) > 1")
    if rows:
        problems.append(f"{len(rows)} task(s) completed more than once, e.g. {rows[:5]}")
    rows = one("SELECT instance_id, count(*) AS events, count(DISTINCT task_id) FROM wf_event "
               "WHERE kind='task_completed' GROUP BY 1 HAVING count(*) <> count(DISTINCT task_id)")
    if rows:
        problems.append(f"{len(rows)} instance(s) with task_completed events != distinct tasks: {rows[:5]}")
    rows = one("SELECT task_id, count(*) FROM wf_event WHERE kind='timer_fired' GROUP BY 1 HAVING count(*) > 1")
    if rows:
        problems.append(f"{len(rows)} timer(s) fired more than once: {rows[:5]}")
    rows = one("SELECT instance_id, count(*) FROM wf_event WHERE kind='instance_completed' "
               "GROUP BY 1 HAVING count(*) > 1")
    if rows:
        problems.append(f"{len(rows)} instance(s) completed more than once: {rows[:5]}")
    rows = one("SELECT t.id, t.instance_id, i.status FROM wf_human_task t JOIN wf_process_instance i "
               "ON i.id = t.instance_id WHERE i.status <> 'running'")
    if rows:
        problems.append(f"{len(rows)} open task(s) of finished instances: {rows[:5]}")
    rows = one("SELECT t.id, t.instance_id, i.status FROM wf_timer t JOIN wf_process_instance i "
               "ON i.id = t.instance_id WHERE i.status <> 'running'")
    if rows:
        problems.append(f"{len(rows)} waiting timer(s) of finished instances: {rows[:5]}")
    non_system = one("SELECT count(*) FROM wf_event WHERE kind='task_completed' AND actor <> 'system'")[0][0]
    facts["task_completed events (non-system)"] = non_system
    facts["200 responses to complete"] = stats.status["complete"][200]
    if non_system != stats.status["complete"][200]:
        problems.append(f"clients saw {stats.status['complete'][200]} completions acknowledged, "
                        f"the trail has {non_system} task_completed events by users")
    acked = collections.Counter(stats.acked)
    doubled_acks = [t for t, n in acked.items() if n > 1]
    if doubled_acks:
        problems.append(f"{len(doubled_acks)} task(s) acknowledged twice to clients: {doubled_acks[:5]}")
    completed_ids = {r[0] for r in one("SELECT task_id FROM wf_event WHERE kind='task_completed'")}
    lost = [t for t in acked if t not in completed_ids]
    if lost:
        problems.append(f"{len(lost)} acknowledged completion(s) missing from the trail: {lost[:5]}")

    # Every instance's trail must be a path (or the prefix of one, while running) through the diagram.
    statuses = dict(one("SELECT id, status FROM wf_process_instance"))
    open_tasks = collections.defaultdict(set)
    for task_id, instance_id in one("SELECT id, instance_id FROM wf_human_task"):
        open_tasks[instance_id].add(task_id)
    waiting_timers = collections.defaultdict(set)
    for timer_id, instance_id in one("SELECT id, instance_id FROM wf_timer"):
        waiting_timers[instance_id].add(timer_id)
    trails = collections.defaultdict(list)
    errors = []
    cur.execute("SELECT instance_id, kind, task_id, detail FROM wf_event WHERE instance_id IS NOT NULL ORDER BY id")
    for instance_id, kind, task_id, detail in cur:
        detail = detail or {}
        if kind == "instance_started":
            trails[instance_id].append(("S", None))
        elif kind == "task_created":
            trails[instance_id].append((f"C:{detail.get('bpmn_id')}", task_id))
        elif kind == "task_completed":
            token = f"D:{detail.get('bpmn_id')}"
            if detail.get("bpmn_id") == "review":
                token += f":{(detail.get('data') or {}).get('qualified')}"
            trails[instance_id].append((token, task_id))
        elif kind == "timer_fired":
            trails[instance_id].append(("T", task_id))
        elif kind == "instance_completed":
            trails[instance_id].append(("E", None))
        elif kind == "error":
            errors.append((instance_id, detail))
    if errors:
        problems.append(f"{len(errors)} engine error event(s): {errors[:3]}")
    path_counts = collections.Counter()
    bad_paths = []
    for instance_id, status in statuses.items():
        trail = trails.get(instance_id, [])
        tokens = [t for t, _ in trail]
        created = {}
        done = set()
        for token, task_id in trail:
            if token.startswith("C:"):
                created[task_id] = token[2:]
            elif token.startswith("D:"):
                if task_id not in created:
                    bad_paths.append((instance_id, "completed a task never created", tokens))
                done.add(task_id)
        timer_cancelled = {tid for tid, bpmn in created.items() if bpmn == "visit"} if "T" in tokens else set()
        still_open = set(created) - done - timer_cancelled
        if status == "completed":
            match = [name for name, path in PATHS.items() if tokens == path]
            if not match:
                bad_paths.append((instance_id, status, tokens))
            else:
                path_counts[match[0]] += 1
            if still_open or open_tasks.get(instance_id) or waiting_timers.get(instance_id):
                bad_paths.append((instance_id, "completed with open work", sorted(still_open)))
        elif status == "running":
            if not any(tokens == path[:len(tokens)] and len(tokens) < len(path) for path in PATHS.values()):
                bad_paths.append((instance_id, status, tokens))
            if still_open != open_tasks.get(instance_id, set()):
                bad_paths.append((instance_id, "open tasks differ from the trail",
                                  sorted(still_open), sorted(open_tasks.get(instance_id, set()))))
            path_counts["running"] += 1
        else:
            bad_paths.append((instance_id, f"unexpected status {status}", tokens))
    if bad_paths:
        problems.append(f"{len(bad_paths)} invalid instance trail(s), e.g. {bad_paths[:5]}")
    facts["instances"] = len(statuses)
    facts["instances by path"] = dict(path_counts)
    facts["timer_fired events"] = one("SELECT count(*) FROM wf_event WHERE kind='timer_fired'")[0][0]
    facts["task_claimed events"] = one("SELECT count(*) FROM wf_event WHERE kind='task_claimed'")[0][0]
    facts["events"] = one("SELECT count(*) FROM wf_event")[0][0]
    return facts, problems


# ----------------------------------------------------------------------------- report
def write_section(text):
    """Replace only our section of RESULTS.md; re-read right before writing (others write too)."""
    section = f"{START_MARK}\n{text.rstrip()}\n{END_MARK}"
    current = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    pattern = re.compile(re.escape(START_MARK) + r".*?" + re.escape(END_MARK), re.S)
    if pattern.search(current):
        updated = pattern.sub(lambda _: section, current, count=1)
    else:
        updated = current.rstrip() + "\n\n" + section + "\n"
    tmp = RESULTS.with_suffix(f".md.tmp{os.getpid()}")
    tmp.write_text(updated, encoding="utf-8")
    os.replace(tmp, RESULTS)


def report(args, info, stats, wall, facts, problems, log_findings):
    lines = [
        "## Load test (bench/load_test.py)",
        "",
        f"- Date: {info['date']}; host nproc = {info['nproc']}; {info['pg_version']}",
        f"- PostgreSQL durability: fsync = {info['fsync']}, synchronous_commit = {info['synchronous_commit']}",
        f"- Parameters: {args.clients} clients (threads), gunicorn -w {args.gunicorn_workers}, "
        f"{args.timer_workers} × `flask huifang worker --poll {args.poll}`, target {args.completions} completions, "
        f"max {args.max_inflight} instances in flight, {args.fast_ratio:.0%} on the seconds-timer copy "
        f"(window {args.fast_min}–{args.fast_max} s), duplicate-submit ratio {args.dup_ratio:.0%}, "
        f"claim-first ratio {args.claim_ratio:.0%}, qualified ratio {args.qualified_ratio:.0%}; "
        f"FAB_PASSWORD_HASH_METHOD=pbkdf2:sha256:1000; client and server on the same host",
        f"- Command: `{info['command']}`; code under test: {info.get('code', 'unknown')}",
        "",
        f"**Throughput: {stats.completed_ok} completions acknowledged in {wall:.1f} s = "
        f"{stats.completed_ok / wall:.1f} completions/s** "
        f"({sum(stats.status['start'].values())} instances started, {facts.get('timer_fired events')} timers fired)",
        "",
        "| call | n | p50 ms | p95 ms | p99 ms | max ms | statuses |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for op in ("complete", "list_mine", "list_roles", "claim", "start"):
        values = stats.latency.get(op, [])
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(stats.status[op].items(), key=lambda kv: str(kv[0])))
        lines.append(f"| {op} | {len(values)} | {ms(percentile(values, 50))} | {ms(percentile(values, 95))} | "
                     f"{ms(percentile(values, 99))} | {ms(max(values) if values else None)} | {statuses} |")
    lines += [
        "",
        f"- Complete: {stats.status['complete'][200]} × 200, {stats.status['complete'][409]} × 409, "
        f"{stats.status['complete'][404]} × 404, {stats.status['complete'][403]} × 403 (claimed by someone else), "
        f"5xx: {sum(v for k, v in stats.status['complete'].items() if isinstance(k, int) and k >= 500)}",
        f"- Duplicate submits (same task, two sessions, same instant): {stats.dup_pairs} pairs, outcomes "
        f"{dict((str(k), v) for k, v in stats.dup_outcomes.items())} (exactly one 200: "
        f"{sum(v for k, v in stats.dup_outcomes.items() if k.count(200) == 1)}; no 200 = a third client or the "
        f"timer took the task first); violations (two 200s or codes other than 200/403/404/409): "
        f"{len(stats.dup_violations)}",
        f"- Fast-timer visits attempted around their deadline (race with the timer workers): "
        f"{dict((str(k), v) for k, v in stats.visit_races.items())}",
        f"- Database check: {json.dumps(facts, ensure_ascii=False)}",
        f"- Server logs: {log_findings}",
        "",
        "**Verdict: " + ("no lost or doubled transitions; all checks passed**" if not problems
                         else "PROBLEMS FOUND**"),
    ]
    for problem in problems:
        lines.append(f"  - {problem}")
    if stats.errors:
        lines.append("- First unexpected responses: " + "; ".join(e.replace("\n", " ")[:200] for e in stats.errors[:5]))
    return "\n".join(lines)


# ----------------------------------------------------------------------------- main
def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--completions", type=int, default=10000, help="stop after this many 200s to complete")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--gunicorn-workers", type=int, default=4)
    parser.add_argument("--timer-workers", type=int, default=2)
    parser.add_argument("--poll", type=float, default=0.5, help="timer worker --poll")
    parser.add_argument("--max-inflight", type=int, default=64, help="running instances the clients keep open")
    parser.add_argument("--fast-ratio", type=float, default=0.3, help="share of instances on the seconds-timer copy")
    parser.add_argument("--fast-min", type=int, default=1, help="smallest window (seconds) on the fast copy")
    parser.add_argument("--fast-max", type=int, default=4, help="largest window (seconds) on the fast copy")
    parser.add_argument("--race-before", type=float, default=1.0, help="agents try fast visits up to this many s before due")
    parser.add_argument("--race-after", type=float, default=0.8, help="… and up to this many s after due")
    parser.add_argument("--dup-ratio", type=float, default=0.1, help="completions sent twice concurrently")
    parser.add_argument("--claim-ratio", type=float, default=0.3, help="role-pool tasks claimed before completing")
    parser.add_argument("--qualified-ratio", type=float, default=0.7)
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--pg-host", default="127.0.0.1")
    parser.add_argument("--pg-port", type=int, default=5432)
    parser.add_argument("--pg-user", default="postgres")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database at the end")
    parser.add_argument("--no-results", action="store_true", help="do not write bench/RESULTS.md")
    args = parser.parse_args()

    stamp = datetime.now(timezone.utc).strftime("%Y%m%d_%H%M%S")
    dbname = f"huifang_load_{stamp}_{secrets.token_hex(2)}"
    workdir = Path(tempfile.mkdtemp(prefix=f"{dbname}_"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    admin_password = secrets.token_urlsafe(12)
    env = {**os.environ,
           "DATABASE_URL": f"postgresql+psycopg://{args.pg_user}@{args.pg_host}:{args.pg_port}/{dbname}",
           "SECRET_KEY": secrets.token_hex(32), "HUIFANG_ADMIN_PASSWORD": admin_password,
           "HUIFANG_USER_PASSWORD": PASSWORD, "FAB_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
           "FLASK_APP": "app:create_app", "HUIFANG_INSTANCE_DIR": str(workdir / "instance"),
           "PYTHONUNBUFFERED": "1"}
    bin_dir = Path(sys.executable).parent
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"

    with admin_conn(args) as conn:
        info = {
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "nproc": os.cpu_count(),
            "pg_version": conn.execute("SELECT version()").fetchone()[0].split(" on ")[0],
            "fsync": conn.execute("SHOW fsync").fetchone()[0],
            "synchronous_commit": conn.execute("SHOW synchronous_commit").fetchone()[0],
            "command": "python bench/load_test.py " + " ".join(sys.argv[1:]),
            "code": code_version(),
        }
        if info["fsync"] != "on" or info["synchronous_commit"] != "on":
            raise SystemExit(f"PostgreSQL durability is off (fsync={info['fsync']}, "
                             f"synchronous_commit={info['synchronous_commit']}); refusing to benchmark")
        conn.execute(f'CREATE DATABASE "{dbname}"')
    print(f"database {dbname}; logs in {workdir}", flush=True)

    procs = {}
    stats = Stats()
    log_findings = "-"
    try:
        with open(workdir / "setup.log", "w") as log:
            run_flask(env, "db", "upgrade", log=log)
            run_flask(env, "huifang", "init", log=log)
            supervisors = [f"sup{i}" for i in range(1, 5)]
            agents = [f"agent{i}" for i in range(1, 7)]
            managers = ["mgr1", "mgr2"]
            for names, role in ((supervisors, "Supervisor"), (agents, "Agent"), (managers, "Manager")):
                for name in names:
                    run_flask(env, "huifang", "add-user", name, "--role", role, log=log)

        procs["gunicorn"] = subprocess.Popen(
            [str(bin_dir / "gunicorn"), "-w", str(args.gunicorn_workers), "-b", f"127.0.0.1:{port}",
             "--timeout", "120", "--error-logfile", str(workdir / "gunicorn.log"), "app:create_app()"],
            cwd=ROOT, env=env, stdout=open(workdir / "gunicorn.out", "w"), stderr=subprocess.STDOUT)
        wait_ready(base)

        admin = Api(base, "admin", stats, password=admin_password)
        for key, (xml, forms) in load_diagrams().items():
            response = admin.session.post(f"{base}/api/v1/process-models/{key}/deploy", timeout=60,
                                          json={"bpmn_xml": xml, "forms": forms, "comment": "load test diagram"})
            if response.status_code != 201:
                raise SystemExit(f"deploying {key} failed: {response.status_code} {response.text}")

        def start_worker(name):
            procs[name] = subprocess.Popen(
                [sys.executable, "-m", "flask", "huifang", "worker", "--poll", str(args.poll)],
                cwd=ROOT, env=env, stdout=open(workdir / f"{name}.log", "a"), stderr=subprocess.STDOUT)

        worker_names = [f"worker{n + 1}" for n in range(args.timer_workers)]
        for name in worker_names:
            start_worker(name)
        worker_deaths = []  # (seconds into the run, name, exit code): restarted like a process supervisor would

        # 16 clients: supervisors start and plan/review, agents visit, managers give opinions.
        # Two threads share each of sup1–sup3 and agent1 (same inbox); twins are a second session.
        n_sup = max(1, round(args.clients * 7 / 16))
        n_mgr = max(1, round(args.clients * 2 / 16))
        n_agent = max(1, args.clients - n_sup - n_mgr)
        plan = ([("Supervisor", supervisors[i % len(supervisors)], supervisors[(i + 1) % len(supervisors)])
                 for i in range(n_sup)]
                + [("Agent", agents[i % len(agents)], agents[i % len(agents)]) for i in range(n_agent)]
                + [("Manager", managers[i % len(managers)], managers[(i + 1) % len(managers)]) for i in range(n_mgr)])
        shared = Shared(args, agents)
        clients = [Client(i, role, Api(base, user, stats), Api(base, user, stats), Api(base, peer, stats),
                          shared, stats, args.seed + i)
                   for i, (role, user, peer) in enumerate(plan)]
        print(f"{len(clients)} clients: {collections.Counter(r for r, _, _ in plan)}; target {args.completions}",
              flush=True)

        t0 = time.perf_counter()
        for client in clients:
            client.start()
        last = 0
        while any(c.is_alive() for c in clients):
            time.sleep(1)
            elapsed = time.perf_counter() - t0
            for name in worker_names:
                if procs[name].poll() is not None:
                    worker_deaths.append((round(elapsed), name, procs[name].returncode))
                    print(f"  !! timer {name} died with exit code {procs[name].returncode} at {elapsed:.0f} s; "
                          f"restarting it", flush=True)
                    start_worker(name)
            if procs["gunicorn"].poll() is not None:
                stats.unexpected(f"gunicorn exited with {procs['gunicorn'].returncode}")
                shared.stop.set()
            if int(elapsed) // 15 != last:
                last = int(elapsed) // 15
                with stats.lock:
                    done = stats.completed_ok
                print(f"  {elapsed:6.0f} s  {done} completions ({done / elapsed:.1f}/s), "
                      f"{stats.started - stats.finished} in flight, "
                      f"complete statuses {dict(stats.status['complete'])}", flush=True)
                if not any(c.is_alive() for c in clients if c.role != "Agent"):
                    shared.stop.set()  # only agents left: nobody starts or plans instances any more
        wall = time.perf_counter() - t0
        # Let timers that are already due fire so the trail settles, then stop everything.
        time.sleep(max(2.0, args.poll * 4))
        dead = {name: proc.returncode for name, proc in procs.items() if proc.poll() is not None}
        for name in [n for n in procs if n.startswith("worker")] + ["gunicorn"]:
            stop_process(procs[name], name)

        log_text = "".join((workdir / f).read_text(errors="replace") for f in ("gunicorn.log", "gunicorn.out"))
        worker_text = "".join((workdir / f"{name}.log").read_text(errors="replace") for name in worker_names)
        tracebacks = log_text.count("\nTraceback") + worker_text.count("\nTraceback")
        deadlocks_web = log_text.count("sqlalchemy.exc.OperationalError: (psycopg.errors.DeadlockDetected)")
        deadlocks_worker = worker_text.count("sqlalchemy.exc.OperationalError: (psycopg.errors.DeadlockDetected)")
        log_findings = (f"{tracebacks} traceback(s) in gunicorn/worker logs; DeadlockDetected: {deadlocks_web} in "
                        f"gunicorn (HTTP 500), {deadlocks_worker} in timer workers; timer worker deaths (restarted "
                        f"by the harness): {len(worker_deaths)} {worker_deaths}"
                        + (f"; processes not running at the end: {dead}" if dead else ""))
        if tracebacks:
            first = (log_text + worker_text)
            index = first.find("Traceback")
            print("first traceback:\n" + first[index:index + 4000])

        with psycopg.connect(host=args.pg_host, port=args.pg_port, user=args.pg_user, dbname=dbname) as conn:
            facts, problems = verify(conn, stats)
        fivexx = sum(v for op in stats.status for k, v in stats.status[op].items()
                     if k == "exception" or (isinstance(k, int) and k >= 500))
        if fivexx:
            problems.append(f"{fivexx} HTTP 5xx responses or client exceptions")
        if stats.dup_violations:
            problems.append(f"duplicate-submit violations: {stats.dup_violations[:5]}")
        if dead:
            problems.append(f"processes died during the run: {dead}")
        if worker_deaths:
            problems.append(f"timer workers died {len(worker_deaths)} time(s) (uncaught exception in "
                            f"`flask huifang worker`) and had to be restarted: {worker_deaths[:10]}")
        if deadlocks_web or deadlocks_worker:
            problems.append(f"PostgreSQL deadlocks between complete and the timer sweep: {deadlocks_web} complete "
                            f"call(s) got HTTP 500, {deadlocks_worker} timer sweep(s) crashed the worker")
        if stats.completed_ok < args.completions:
            problems.append(f"only {stats.completed_ok} of {args.completions} completions")

        text = report(args, info, stats, wall, facts, problems, log_findings)
        print("\n" + text)
        if stats.errors:
            print("\nunexpected responses:\n  " + "\n  ".join(stats.errors))
        if not args.no_results:
            write_section(text)
            print(f"\nwrote section to {RESULTS}")
        return 1 if problems else 0
    finally:
        for name, proc in procs.items():
            stop_process(proc, name)
        if not args.keep_db:
            with admin_conn(args) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            print(f"dropped {dbname}")


if __name__ == "__main__":
    sys.exit(main())
