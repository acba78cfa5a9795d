"""The paper forms as PDF (WeasyPrint): 回访记录表 blank or filled, 回访记录签收表 per period.

Every print is an audit entry naming the serial numbers printed (REC-01/02, issue 5's trail)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app, render_template
from sqlalchemy import select
from weasyprint import HTML

from workflows import clock, localtime
from workflows.errors import Conflict, InvalidInput, NotFound, Problem
from workflows.localtime import shown
from workflows.models import EngineEvent

from ...extensions import db
from ...models.visit import Visit, VisitForm
from ..engine import get_engine
from ..intake.events import customer_names, find_project
from ..records.audit import record

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
CATEGORY_NAMES = {"complaint": "投诉", "repair": "维修", "special_service": "特约服务", "help": "求助",
                  "emergency_patient": "急病人", "publication_event": "社区活动", "decoration": "装修",
                  "survey_item": "满意度调查", "other": "其他"}
METHOD_NAMES = {"HOME": "上门", "PHONE": "电话", "WALKABOUT": "走访", "LETTER": "信函"}
OUTCOME_NAMES = {"reached": "已联系上", "unreachable": "联系不上", "refused": "拒绝回访"}


@dataclass
class Document:
    filename: str
    pdf: bytes


def render_pdf(template: str, **context) -> bytes:
    html = render_template(template, **context)
    return HTML(string=html, base_url=current_app.root_path).write_pdf()


def _visit(visit_id: int) -> Visit:
    visit = db.session.get(Visit, visit_id)
    if visit is None:
        raise NotFound(f"visit {visit_id} does not exist")
    if visit.destroyed_at is not None:
        raise Conflict(f"visit {visit_id} was destroyed on {shown(visit.destroyed_at)}; only its tombstone remains")
    return visit


def _completions(instance_id: int | None) -> dict[str, EngineEvent]:
    """The last completion of each user task of the instance (who signed which step, when)."""
    if instance_id is None:
        return {}
    events = db.session.scalars(select(EngineEvent).where(EngineEvent.instance_id == instance_id,
                                                          EngineEvent.kind == "task_completed")
                                .order_by(EngineEvent.id)).all()
    return {(e.detail or {}).get("bpmn_id"): e for e in events}


def visit_record(visit_id: int, *, blank: bool, username: str) -> Document:
    """回访记录表 of one visit: ``blank`` for signing out (header only), else filled from the flow."""
    visit = _visit(visit_id)
    if not visit.serial:
        raise Conflict(f"visit {visit_id} has no 回访记录表 number yet: it is numbered when the visit is planned")
    # A blank form still carries the plan (visitor, method, points to cover); the template leaves
    # the result fields empty.
    data = get_engine().workflow_data(visit.instance_id) if visit.instance_id else {}
    done = {} if blank else _completions(visit.instance_id)
    project = find_project(visit.project_key)
    customer = customer_names({visit.household_id}).get(visit.household_id) if visit.household_id else None
    pdf = render_pdf("print/visit_record.html", visit=visit, data=data, blank=blank, done=done, project=project,
                     customer=customer, local=shown, categories=CATEGORY_NAMES, methods=METHOD_NAMES,
                     outcomes=OUTCOME_NAMES, printed_at=shown(clock.now()), printed_by=username)
    record("print.visit_record", actor=username, target_type="visit", target_id=visit.id,
           details={"serial": visit.serial, "blank": blank})
    db.session.commit()
    kind = "blank" if blank else "filled"
    return Document(f"visit-record-{visit.serial}-{kind}.pdf", pdf)


def parse_period(raw: str | None) -> tuple[datetime, datetime]:
    """A month ``YYYY-MM`` as its local start and the next month's start."""
    match = MONTH.match((raw or "").strip())
    if not match:
        raise InvalidInput(Problem(f"a month as YYYY-MM, not {raw!r}", field="period"))
    year, month = int(match[1]), int(match[2])
    return (localtime.day_start(date(year, month, 1)),
            localtime.day_start(date(year + (month == 12), month % 12 + 1, 1)))


def signout_sheet(project_key: str, period: str, *, username: str) -> Document:
    """回访记录签收表 (REC-02): every form of the project signed out in the month, voided ones marked."""
    project = find_project(project_key)
    if project is None:
        raise InvalidInput(Problem(f"no project with key {project_key!r}", field="project"))
    start, end = parse_period(period)
    forms = db.session.scalars(select(VisitForm).join(Visit).where(
        VisitForm.project_key == project_key, VisitForm.signed_out_at >= start, VisitForm.signed_out_at < end)
        .order_by(VisitForm.number)).all()
    returned = _returned_at({f.visit.instance_id for f in forms if f.visit.instance_id})
    rows = [{"form": f, "visit": f.visit, "returned": localtime.shown_date(returned.get(f.visit.instance_id))
             if f.status != "voided" else ""} for f in forms]
    pdf = render_pdf("print/signout_sheet.html", project=project, period=period, rows=rows, local=shown,
                     categories=CATEGORY_NAMES, printed_at=shown(clock.now()), printed_by=username)
    record("print.signout_sheet", actor=username, target_type="project", target_id=project.id,
           details={"period": period, "serials": [f.serial for f in forms]})
    db.session.commit()
    return Document(f"signout-sheet-{project_key}-{period}.pdf", pdf)


def _returned_at(instance_ids: set[int]) -> dict[int, datetime]:
    """When each visit's record came back: the completion of its visit step (FLOW-08)."""
    if not instance_ids:
        return {}
    events = db.session.execute(select(EngineEvent.instance_id, EngineEvent.at, EngineEvent.detail).where(
        EngineEvent.instance_id.in_(instance_ids), EngineEvent.kind == "task_completed")
        .order_by(EngineEvent.id)).all()
    return {instance: at for instance, at, detail in events if (detail or {}).get("bpmn_id") == "visit"}

