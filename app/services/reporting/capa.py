"""纠正与预防措施 (CAPA, FLOW-13/14, REC-22): started from a finding of the period statistics, run as the
``capa`` BPMN flow, printed as the 纠正与预防措施实施表.

A CAPA starts only from a finding that the detection rules report for that period now (nothing is taken
on trust from the caller), once per finding (unique finding key). Its row keeps the finding as it was.
"""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from workflows import clock
from workflows.actor import Actor
from workflows.errors import Conflict, InvalidInput, NotFound, Problem
from workflows.models import EngineEvent

from ...extensions import db
from ...models.stats import Capa
from ..engine import get_engine
from ..records.audit import record
from . import detection
from .kpis import period_bounds

PROCESS = "capa"
STEPS = ["analysis", "measures", "review", "approve", "implement", "verify", "revisit"]


def start_capa(finding_key: str, period: str, actor: Actor, project: str | None = None) -> Capa:
    if not (finding_key or "").strip():
        raise InvalidInput(Problem("name the finding to act on", field="finding_key"))
    found_period, _start, _end = period_bounds(period)
    finding = detection.find(finding_key, found_period, project=project)
    if finding is None:
        raise NotFound(f"there is no finding {finding_key!r} in {found_period.label}")
    if db.session.scalar(select(Capa.id).where(Capa.finding_key == finding_key)):
        raise Conflict(f"a CAPA for {finding_key} was already started")
    now = clock.now()
    year = now.year
    count = db.session.scalar(select(func.count()).select_from(Capa).where(Capa.number.like(f"CAPA-{year}-%")))
    capa = Capa(number=f"CAPA-{year}-{count + 1:04d}", project_key=finding.get("project"), rule=finding["rule"],
                finding_key=finding_key, period=finding["period"], title=finding["title"][:300],
                finding=_jsonable(finding), visit_ids=finding["visit_ids"], status="open",
                created_by=actor.username, created_at=now)
    db.session.add(capa)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(f"a CAPA for {finding_key} was started meanwhile; reload") from None
    households = [finding["household"]] if finding.get("household") else []
    record("capa.started", target_type="capa", target_id=capa.number,
           details={"finding": finding_key, "visits": finding["visit_ids"]})
    instance = get_engine().start(PROCESS, actor, {
        "capa_id": capa.id, "capa_number": capa.number, "title": capa.title, "rule": capa.rule,
        "project": capa.project_key, "period": capa.period, "visit_ids": capa.visit_ids,
        "households": households, "revisit_needed": bool(households) or capa.rule == "unqualified"},
        business_key=capa.number)
    capa.instance_id = instance.id
    db.session.commit()
    return capa


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def after_capa_step(_process: str, _bpmn_id: str, instance_id: int, _actor: Actor, _data: dict) -> None:
    """Keep the CAPA row's status with its flow (in progress / closed)."""
    capa = db.session.scalar(select(Capa).where(Capa.instance_id == instance_id))
    if capa is None:
        return
    status = get_engine()._instance(instance_id).status
    if status == "completed":
        capa.status, capa.closed_at = "closed", clock.now()
    else:
        capa.status = "in_progress"
    db.session.commit()


def capa_sheet(capa_id: int) -> dict:
    """Everything the 纠正与预防措施实施表 prints: the finding, each step's answers, who and when."""
    capa = db.session.get(Capa, capa_id)
    if capa is None:
        raise NotFound(f"CAPA {capa_id} does not exist")
    data = get_engine().workflow_data(capa.instance_id) if capa.instance_id else {}
    signed = {}
    for bpmn_id, actor, at in db.session.execute(
            select(EngineEvent.detail["bpmn_id"].as_string(), EngineEvent.actor, EngineEvent.at)
            .where(EngineEvent.instance_id == capa.instance_id, EngineEvent.kind == "task_completed")
            .order_by(EngineEvent.id)):
        signed[bpmn_id] = {"by": actor, "at": at}  # the last completion of a step that was sent back
    return {"capa": capa, "data": data, "signed": signed}
