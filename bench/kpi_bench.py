#!/usr/bin/env python3
"""The KPI dashboard and the monthly summary over 1,000,000 visits in PostgreSQL (issue 6; target ≤ 2 s each).

Data: 20 projects on several profiles (P000-1, P000-3, P003, P001-S, P004-6), 500 households each, and
1,000,000 visits over 24 months with as many service events (complaints, repairs, help, projects of P001-S):
visited on time / late / never, unreachable, unsatisfied, unqualified, scored, complaint cases with SLA times,
repeated subjects so the detection rules find something. Rows are generated inside PostgreSQL
(generate_series), the schema comes from the Alembic migrations (the indexes of 0017_stats included).

Timed, through the app as a user sees it (Flask test client, logged in as admin), each run 5 times after one
warm-up, median reported:
  (1) the KPI dashboard page of one month, all projects (every KPI table, the findings, 12 months of charts);
  (2) the same for one project;
  (3) the 月回访汇总表 of one P000-1 project: the PDF (content + WeasyPrint) and the Excel workbook.

Usage: ``python bench/kpi_bench.py [--visits N]``. Works in its own database ``huifang_kpi_bench_<pid>``
(created, migrated, dropped). Results go to bench/RESULTS.md between ``<!-- kpi_bench:start -->`` and
``<!-- kpi_bench:end -->``.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import sqlalchemy as sa  # noqa: E402

from benchlib import (DEFAULT_DATABASE_URL, create_database, drop_database, machine_info,  # noqa: E402
                      machine_lines, settle, write_section)

SECTION = "kpi_bench"
PASSWORD = "bench-password-1"
PROFILES = ["P000-1", "P000-3", "P003", "P001-S", "P004-6"]
PROJECTS = 20
HOUSEHOLDS = 5000  # 100,000 households: 1,000,000 visits in two years is ~0.4 per household a month
MONTHS = 24  # 2025-01 … 2026-12
TARGET_S = 2.0


GENERATE = """
INSERT INTO intake_project (id, key, name, property_type, property_code, policy_profile)
SELECT p, 'p' || p, '项目 ' || p, 'residential', 'P' || p, (CAST(:profiles AS text[]))[1 + (p - 1) % :nprofiles]
FROM generate_series(1, :projects) p;

INSERT INTO intake_household (id, project_id, building, unit, room, file_no, key_customer, former_customer)
SELECT (p - 1) * :households + h, p, '' || (1 + h / 100), NULL, '' || h, 'P' || p || '-' || h, false, false
FROM generate_series(1, :projects) p, generate_series(1, :households) h;

-- one service event per visit: the trigger 1–40 days into the 24 months, in Asia/Shanghai
CREATE TEMP TABLE g AS
SELECT i,
       1 + (i % :projects) AS p,
       1 + ((i / :projects) % :households) AS h,
       CASE WHEN i % 20 = 0 THEN 'complaint' WHEN i % 20 < 12 THEN 'repair' WHEN i % 20 < 16 THEN 'help'
            ELSE 'other' END AS category,
       TIMESTAMPTZ '2024-12-31 16:00:00+00' + (random() * :months * 30.4) * INTERVAL '1 day' AS at,
       random() AS r1, random() AS r2, random() AS r3
FROM generate_series(1, :visits) i;

INSERT INTO intake_service_event (id, project_id, household_id, category, severity, source, subject, content,
                                  received_at, received_by, completed_at, status, routed_to, extra)
SELECT i, p, (p - 1) * :households + h, category,
       CASE WHEN category = 'complaint' THEN (ARRAY['MAJOR','IMPORTANT','MINOR'])[1 + i % 3] END, 'a',
       CASE WHEN r3 < 0.3 THEN (ARRAY['噪音','漏水','电梯','停车','保洁','水管','门锁','绿化'])[1 + (i % 8)] END,
       '内容 ' || i, at - INTERVAL '1 day', 'agent', at,
       CASE WHEN category = 'complaint' THEN 'closed' ELSE 'completed' END,
       CASE WHEN category = 'repair' THEN 'engineering' ELSE 'customer_service' END, '{}'
FROM g;

INSERT INTO visit (id, category, project_key, household_id, household, service_event_id, severity, window_opens,
                   due_at, profile_version_id, process_key, instance_id, serial, visitor, method, result, revisits,
                   status, created_at, updated_at, legal_hold, trigger_at, visited_at, success, satisfied, qualified,
                   score_market, score_operating, team, market_team, reply_due, replied_at, resolved_at)
SELECT i, category, 'p' || p, (p - 1) * :households + h, '' || (1 + h / 100) || '-' || h, i,
       CASE WHEN category = 'complaint' THEN (ARRAY['MAJOR','IMPORTANT','MINOR'])[1 + i % 3] END, at,
       at + INTERVAL '3 days', NULL,
       CASE WHEN category = 'complaint' AND r1 < 0.5 THEN 'complaint_case'
            WHEN category = 'repair' THEN 'repair_followup' ELSE 'followup_visit' END,
       NULL, 'p' || p || '-' || i, 'agent' || (i % 50),
       CASE WHEN r2 < 0.3 THEN 'HOME' ELSE 'PHONE' END,
       CASE WHEN r1 < 0.85 THEN 'satisfied' ELSE 'unsatisfied' END, 0,
       CASE WHEN r1 < 0.93 THEN 'archived' WHEN r1 < 0.97 THEN 'in_progress' ELSE 'overdue' END,
       at, at, false, at,
       CASE WHEN r1 < 0.93 THEN at + (r2 * 4) * INTERVAL '1 day' END,
       CASE WHEN r1 < 0.93 THEN r3 > 0.05 END,
       CASE WHEN r1 < 0.93 AND r3 > 0.05 THEN r1 < 0.85 END,
       CASE WHEN r1 < 0.93 THEN r2 > 0.04 END,
       CASE WHEN p % :nprofiles = 4 AND r1 < 0.93 AND r3 > 0.05 THEN 5 + (i % 6) END,
       CASE WHEN p % :nprofiles = 4 AND r1 < 0.93 AND r3 > 0.05 THEN 4 + (i % 7) END,
       'unit' || (i % 12), CASE WHEN p % :nprofiles = 4 THEN 'market' || (i % 4) END,
       CASE WHEN category = 'complaint' THEN at + INTERVAL '2 hours' END,
       CASE WHEN category = 'complaint' THEN at + (r2 * 3) * INTERVAL '1 hour' END,
       CASE WHEN category = 'complaint' THEN at + (r3 * 4) * INTERVAL '1 day' END
FROM g;
"""


def generate(db_url: str, visits: int) -> float:
    engine = sa.create_engine(db_url)
    started = time.perf_counter()
    with engine.begin() as conn:
        for statement in [s for s in GENERATE.split(";\n") if s.strip()]:
            conn.execute(sa.text(statement), {"profiles": PROFILES, "nprofiles": len(PROFILES),
                                              "projects": PROJECTS, "households": HOUSEHOLDS, "visits": visits,
                                              "months": MONTHS})
        for table in ("intake_project", "intake_household", "intake_service_event", "visit"):
            conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                 f"(SELECT max(id) FROM {table}))"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
    engine.dispose()
    return time.perf_counter() - started


def timed(fn, runs: int = 5) -> tuple[float, list[float]]:
    fn()  # warm-up (templates compiled, profile lookups cached by PostgreSQL)
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples), samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--visits", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=os.environ.get("HUIFANG_BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    parser.add_argument("--keep", action="store_true", help="keep the generated database (prints its URL)")
    parser.add_argument("--reuse", help="time against a database kept by --keep instead of generating one")
    args = parser.parse_args()
    url = args.reuse or create_database(args.database_url, f"huifang_kpi_bench_{os.getpid()}")
    os.environ["HUIFANG_ADMIN_PASSWORD"] = PASSWORD
    try:
        from flask_migrate import upgrade

        from app import create_app

        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "WTF_CSRF_ENABLED": False,
                          "FAB_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
        with app.app_context():
            upgrade()
            result = app.test_cli_runner().invoke(args=["huifang", "init"])
            assert result.exit_code == 0, result.output
            info = machine_info(sa.create_engine(url))
        gen_s = 0.0
        if not args.reuse:
            print(f"generating {args.visits:,} visits …", flush=True)
            gen_s = generate(url, args.visits)
            print(f"generated in {gen_s:.1f} s", flush=True)

        with app.app_context():
            from app.extensions import db
            from app.models.stats import PeriodicReport
            from app.services.reporting.reports import report_row
            from app.services.reporting.kpis import profile_params
            from workflows.policy.reporting import report_for

            report = report_for(profile_params("p1"), "monthly_summary", "2026-06")
            row = db.session.scalar(sa.select(PeriodicReport).where(PeriodicReport.period == "2026-06",
                                                                  PeriodicReport.project_key == "p1"))
            if row is None:
                row = report_row(report, "p1", report.opens_at)
                db.session.add(row)
                db.session.commit()
            report_id = row.id
            size = db.session.execute(sa.text(
                "SELECT pg_total_relation_size('visit'), pg_total_relation_size('intake_service_event'),"
                " (SELECT count(*) FROM visit WHERE project_key = 'p1' AND trigger_at >= :a AND trigger_at < :b)"),
                {"a": report.covers_from, "b": report.covers_until}).one()

        client = app.test_client()
        r = client.post("/login/", data={"username": "admin", "password": PASSWORD})
        assert r.status_code == 302, r.status_code

        def get(path, mimetype):
            def call():
                response = client.get(path)
                assert response.status_code == 200 and response.mimetype == mimetype, (path, response.status_code,
                                                                                        response.data[:300])
                return response
            return call

        rows = []
        for label, path, mimetype in [
                ("KPI dashboard, one month, all 20 projects", "/stats/?period=2026-06", "text/html"),
                ("KPI dashboard, one month, one project", "/stats/?period=2026-06&project=p1", "text/html"),
                ("KPI dashboard, one quarter, all projects", "/stats/?period=2026-Q2", "text/html"),
                ("月回访汇总表 PDF (P000-1 project, one month)", f"/stats/reports/{report_id}.pdf", "application/pdf"),
                ("月回访汇总表 Excel", f"/stats/reports/{report_id}.xlsx",
                 "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
                ("drill-down: late visits of the month (first 2,000 rows)",
                 "/stats/visits?period=2026-06&measure=late", "text/html")]:
            settle()  # the machine may be shared: wait for a quiet moment
            median, samples = timed(get(path, mimetype))
            rows.append((label, median, samples))
            print(f"{label}: median {median:.3f} s  ({', '.join(f'{s:.3f}' for s in samples)})", flush=True)
    finally:
        if args.keep or args.reuse:
            print(f"database kept: {url}")
        else:
            drop_database(url)
    if args.reuse:
        return

    lines = ["## KPI dashboard and monthly summary (`bench/kpi_bench.py`)", ""] + machine_lines(info) + [
        f"- Data: {args.visits:,} visits and as many service events over {MONTHS} months, {PROJECTS} projects × "
        f"{HOUSEHOLDS} households (profiles {', '.join(PROFILES)}); generated in PostgreSQL in {gen_s:.0f} s; "
        f"`visit` {size[0] / 2**20:.0f} MiB, `intake_service_event` {size[1] / 2**20:.0f} MiB incl. indexes; the "
        f"summary's project-month holds {size[2]:,} visits",
        "- Each figure: the whole HTTP request through the app (Flask test client, logged in), median of 5 runs "
        "after a warm-up; the page includes every KPI table, the detection rules and 12 months of chart series",
        "", "| what | median | runs | target |", "| --- | ---: | --- | --- |"]
    for label, median, samples in rows:
        verdict = "meets" if median <= TARGET_S else "**misses**"
        lines.append(f"| {label} | {median:.3f} s | {', '.join(f'{s:.2f}' for s in samples)} | "
                     f"≤ {TARGET_S:.0f} s: {verdict} |")
    write_section(SECTION, "\n".join(lines))


if __name__ == "__main__":
    main()
