#!/usr/bin/env python3
"""Rendering the paper forms: time per 回访记录表 (blank and filled) and per 回访记录签收表 of 500 forms.

Targets (issue 4): ≤ 150 ms per single form; ≤ 10 s for a 500-visit monthly document. Each figure
is the end-to-end service call a print request makes (database reads, template, WeasyPrint, audit
entry), measured after one warm-up render (the first render loads the CJK font, once per process).

Usage: ``python bench/pdf_bench.py [--runs N] [--rows N] [--png docs/images/visit-record.png]``.
Works on a throwaway SQLite database (migrated with Alembic). Results go to bench/RESULTS.md between
``<!-- pdf_bench:start -->`` and ``<!-- pdf_bench:end -->``; ``--png`` also writes page 1 of the
filled form as the README's picture (pdftoppm).
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import write_section  # noqa: E402

SECTION = "pdf_bench"


def timed(make, runs: int) -> tuple[list[float], bytes]:
    times, pdf = [], b""
    for _ in range(runs):
        started = time.perf_counter()
        pdf = make().pdf
        times.append((time.perf_counter() - started) * 1000)
    return times, pdf


def summary(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return f"median {statistics.median(times):.0f} ms, p95 {p95:.0f} ms, max {max(times):.0f} ms (n={len(times)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--png", type=Path)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="huifang_pdf_bench_"))
    os.environ.setdefault("HUIFANG_INSTANCE_DIR", str(workdir))
    from flask_migrate import upgrade

    from app import create_app
    from app.cli import init
    from app.extensions import db
    from app.models.intake import Project
    from app.models.visit import Visit, VisitForm
    from app.services.flows import printing, tasks, visits
    from sqlalchemy import select

    from workflows.models import HumanTask
    from workflows import clock
    from workflows.actor import Actor

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'bench.db'}", "TESTING": True})
    with app.app_context(), app.test_request_context():
        upgrade()
        assert app.test_cli_runner().invoke(init, []).exit_code == 0
        sm = app.appbuilder.sm
        for name, role in (("zhang.supervisor", "Supervisor"), ("li.visitor", "Agent")):
            sm.add_user(name, name, "bench", f"{name}@bench.local", sm.find_role(role), "bench-password-1")
        db.session.add(Project(key="bench", name="滨江花园 Riverside Garden", property_code="BJ", policy_profile="P000-3"))
        db.session.commit()
        supervisor = Actor("zhang.supervisor", frozenset({"Supervisor"}))
        visitor = Actor("li.visitor", frozenset({"Agent"}))
        visit = visits.start_visit("repair", project="bench", household="3栋-1202", actor=supervisor)
        def task(bpmn_id):
            return db.session.scalars(select(HumanTask).where(HumanTask.instance_id == visit.instance_id,
                                                              HumanTask.bpmn_id == bpmn_id)).one()

        tasks.complete_task(task("plan").id, supervisor, {"visitor": "li.visitor", "method": "HOME",
                                                           "window_days": 5, "content": "维修质量、服务态度 quality, attitude"})
        tasks.complete_task(task("visit").id, visitor, {
            "visited_at": clock.now().isoformat(), "method": "HOME", "outcome": "reached", "satisfied": True,
            "summary": "业主反映厨房下水已修好，维修人员态度好，表示满意。The kitchen drain is fixed; satisfied.",
            "resolved_on_spot": True, "customer_signed": True, "visitor_signed": True})
        tasks.complete_task(task("review").id, supervisor, {"qualified": True, "comment": "记录完整 complete"})

        printing.visit_record(visit.id, blank=False, username="bench")  # warm-up: font loading
        blank_times, _ = timed(lambda: printing.visit_record(visit.id, blank=True, username="bench"), args.runs)
        filled_times, filled_pdf = timed(lambda: printing.visit_record(visit.id, blank=False, username="bench"),
                                         args.runs)

        # a month of numbered forms: rows inserted directly (the flows are not what is measured here)
        now = clock.now()
        for number in range(1, args.rows + 1):
            row = Visit(category="repair" if number % 3 else "complaint", project_key="bench",
                        household=f"{number % 30 + 1}栋-{number % 18 + 1:02d}{number % 4 + 1:02d}",
                        process_key="followup_visit", visitor="li.visitor", status="archived",
                        created_at=now, updated_at=now)
            db.session.add(row)
            db.session.flush()
            db.session.add(VisitForm(visit_id=row.id, project_key="bench", year=now.year, number=10000 + number,
                                     serial=f"bench-{now.year}-{10000 + number:05d}", signed_out_by="zhang.supervisor",
                                     signed_out_at=now - timedelta(minutes=number), status="signed_out"))
        db.session.commit()
        period = now.strftime("%Y-%m")
        sheet_times, sheet_pdf = timed(lambda: printing.signout_sheet("bench", period, username="bench"), 3)

        from pypdf import PdfReader
        import io

        sheet_pages = len(PdfReader(io.BytesIO(sheet_pdf)).pages)
        if args.png:
            args.png.parent.mkdir(parents=True, exist_ok=True)
            pdf_path = workdir / "filled.pdf"
            pdf_path.write_bytes(filled_pdf)
            subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile", str(pdf_path),
                            str(args.png.with_suffix(""))], check=True)

    from importlib.metadata import version

    lines = [
        "## PDF rendering (bench/pdf_bench.py)",
        "",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; WeasyPrint {version('weasyprint')}; "
        f"Python {platform.python_version()}; nproc = {os.cpu_count()}; load average {os.getloadavg()[0]:.2f}",
        "- End to end per print: database reads, template, WeasyPrint, audit entry; after one warm-up render.",
        "",
        "| document | time | target |",
        "| --- | --- | --- |",
        f"| 回访记录表, blank (for sign-out) | {summary(blank_times)} | ≤ 150 ms |",
        f"| 回访记录表, filled after the visit | {summary(filled_times)} | ≤ 150 ms |",
        f"| 回访记录签收表, {args.rows} forms ({sheet_pages} pages) | {summary(sheet_times)} | ≤ 10 s |",
    ]
    text = "\n".join(lines)
    print(text)
    write_section(SECTION, text)


if __name__ == "__main__":
    main()
