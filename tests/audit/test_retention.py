"""RET-01/AMB-10 (issue 5): filing stamps the retention period; archived visit records are read-only."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from app.extensions import db
from app.models.visit import Visit
from app.services.records.periods import retain_until
from app.services.records.retention import ArchivedRecord
from tests.flows.conftest import flows, notified, project  # noqa: F401
from tests.flows.helpers import PLAN, VISIT, complete, start, tasks, visit
from tests.app.conftest import _admin_password, app, app_ctx, auth, client  # noqa: F401

CHINA = ZoneInfo("Asia/Shanghai")


def _archived(client, auth) -> dict:
    sup, agent = auth("supervisor"), auth("agent")
    v = start(client, sup, category="help")
    complete(client, sup, tasks(client, sup, v["instance_id"])["plan"], PLAN)
    complete(client, agent, tasks(client, agent, v["instance_id"])["visit"], VISIT)
    complete(client, sup, tasks(client, sup, v["instance_id"])["review"], {"qualified": True, "comment": "合格"})
    return visit(client, sup, v["id"])


def test_two_years_to_the_day_civil_code_month_arithmetic():
    """Filed 29 Feb 2028 → kept to the end of 28 Feb 2030 (no 29 Feb: the month's last day)."""
    filed = datetime(2028, 2, 29, 10, tzinfo=CHINA)
    assert retain_until(filed, 2) == datetime(2030, 2, 28, 23, 59, 59, 999999, tzinfo=CHINA)
    late = datetime(2026, 12, 31, 23, 30, tzinfo=CHINA)  # 15:30 UTC: the local day decides
    assert retain_until(late, 2) == datetime(2028, 12, 31, 23, 59, 59, 999999, tzinfo=CHINA)


def test_archiving_stamps_the_filing_time_and_retention_end(flows, client, auth):
    flows.set(datetime(2028, 2, 29, 10, tzinfo=CHINA))
    archived = _archived(client, auth)
    assert archived["status"] == "archived"
    row = db.session.get(Visit, archived["id"])
    assert row.archived_at.replace(tzinfo=row.archived_at.tzinfo or ZoneInfo("UTC")) == flows.now()
    until = row.retain_until if row.retain_until.tzinfo else row.retain_until.replace(tzinfo=ZoneInfo("UTC"))
    assert until == datetime(2030, 2, 28, 23, 59, 59, 999999, tzinfo=CHINA)


def test_an_archived_visit_and_its_form_are_read_only(flows, client, auth):
    archived = _archived(client, auth)
    [form] = archived["forms"]
    refused = client.post(f"/api/v1/visit-forms/{form['id']}/void", headers=auth("supervisor"),
                          json={"reason": "写错了"})
    assert refused.status_code == 409 and "read-only" in refused.json["message"]
    row = db.session.get(Visit, archived["id"])
    row.result = "unsatisfied"
    with pytest.raises(ArchivedRecord, match=f"visit #{row.id} was archived"):
        db.session.commit()
    db.session.rollback()
    db.session.delete(db.session.get(Visit, archived["id"]))
    with pytest.raises(ArchivedRecord):
        db.session.flush()
    db.session.rollback()
    assert visit(client, auth("supervisor"), archived["id"])["result"] == "satisfied"


def test_destruction_is_proposed_approved_witnessed_and_registered_and_a_hold_blocks_it(flows, client, auth,
                                                                                        backend):
    """RET-14: archivist → manager → supervisor (监销); contents go, tombstone and register stay forever."""
    from sqlalchemy import select, text
    from sqlalchemy.exc import DBAPIError

    from app.models.visit import DestructionEntry

    keep, gone = _archived(client, auth), _archived(client, auth)
    archivist, manager, sup = auth("archivist"), auth("manager"), auth("supervisor")
    assert client.post("/api/v1/retention/destruction", headers=archivist).status_code == 409  # nothing expired
    flows.advance(days=2 * 366 + 1)
    expired = client.get("/api/v1/retention/expired", headers=archivist).json["result"]
    assert {keep["id"], gone["id"]} <= {e["visit_id"] for e in expired}
    assert client.post("/api/v1/retention/destruction", headers=sup).status_code == 403
    started = client.post("/api/v1/retention/destruction", headers=archivist)
    assert started.status_code == 201, started.json
    instance_id = started.json["result"]["instance_id"]
    complete(client, archivist, tasks(client, archivist, instance_id)["propose"], {"checked": True})
    complete(client, manager, tasks(client, manager, instance_id)["approve"], {"approved": True, "comment": "同意销毁"})
    # a legal hold placed before the witness signs keeps that record
    held = client.post(f"/api/v1/retention/visits/{keep['id']}/hold", headers=manager, json={"reason": "诉讼 lawsuit"})
    assert held.status_code == 200, held.json
    assert client.post(f"/api/v1/retention/visits/{keep['id']}/hold", headers=manager, json={}).status_code == 422
    complete(client, sup, tasks(client, sup, instance_id)["witness"], {"witnessed": True, "method": "shred"})

    db.session.expire_all()
    tomb, kept = db.session.get(Visit, gone["id"]), db.session.get(Visit, keep["id"])
    assert tomb.status == "destroyed" and tomb.household is None and tomb.destroyed_at is not None
    assert kept.status == "archived" and kept.household == keep["household"] and kept.legal_hold
    # the flow's document held the visit's answers: destroyed with it, the row stays as a tombstone
    from app.services.engine import get_engine
    from workflows.errors import Conflict
    from workflows.models import ProcessInstance

    gone_flow, kept_flow = (db.session.get(ProcessInstance, v["instance_id"]) for v in (gone, keep))
    assert (gone_flow.status, gone_flow.state) == ("destroyed", b"") and kept_flow.status == "completed"
    with pytest.raises(Conflict, match="destroyed"):
        get_engine().workflow_data(gone["instance_id"])
    assert "业主满意" in str(get_engine().workflow_data(keep["instance_id"]))
    shown = client.get(f"/api/v1/instances/{gone['instance_id']}", headers=auth("auditor"))
    assert shown.status_code == 200 and shown.json["result"]["status"] == "destroyed"
    [entry] = db.session.scalars(select(DestructionEntry).where(DestructionEntry.instance_id == instance_id)).all()
    assert (entry.visit_id, entry.serials, entry.proposed_by, entry.approved_by, entry.witnessed_by) == (
        gone["id"], [f["serial"] for f in gone["forms"]], "archivist", "manager", "supervisor")
    assert keep["id"] not in {e["visit_id"] for e in
                              client.get("/api/v1/retention/expired", headers=archivist).json["result"]}
    if backend == "postgresql":
        for statement in ("UPDATE destruction_register SET witnessed_by = 'x' WHERE id = :id",
                          "DELETE FROM destruction_register WHERE id = :id"):
            with db.engine.connect() as conn, pytest.raises(DBAPIError, match="kept permanently"):
                conn.execute(text(statement), {"id": entry.id})
    released = client.post(f"/api/v1/retention/visits/{keep['id']}/release", headers=manager,
                           json={"reason": "结案 case closed"})
    assert released.status_code == 200
    assert keep["id"] in {e["visit_id"] for e in client.get("/api/v1/retention/expired", headers=archivist).json["result"]}


def test_a_changed_retention_period_recalculates_filed_records_with_an_audit_entry(flows, client, auth, project):
    from sqlalchemy import select

    from app.models.audit import AuditEntry
    from app.services.policy import set_project_policy
    from workflows.policy import PolicyError

    key = project("ret", "P000-3")
    sup, agent = auth("supervisor"), auth("agent")
    v = start(client, sup, category="help", project=key)
    complete(client, sup, tasks(client, sup, v["instance_id"])["plan"], {**PLAN, "method": "HOME"})
    complete(client, agent, tasks(client, agent, v["instance_id"])["visit"], VISIT)
    complete(client, sup, tasks(client, sup, v["instance_id"])["review"], {"qualified": True, "comment": "合格"})
    row = db.session.get(Visit, v["id"])
    two_years = row.retain_until
    with pytest.raises(PolicyError, match="visit_record_years"):  # validated like every profile parameter
        set_project_policy(key, "P000-3", {"retention": {"visit_record_years": "three"}}, "owner", "typo")
    db.session.rollback()
    set_project_policy(key, "P000-3", {"retention": {"visit_record_years": 3}}, "owner", "集团档案制度调整")
    db.session.expire_all()
    row = db.session.get(Visit, v["id"])
    assert row.retain_until.year == two_years.year + 1 and row.status == "archived"
    changes = db.session.scalars(select(AuditEntry).where(AuditEntry.target_type == "visit",
                                                         AuditEntry.target_id == str(v["id"]),
                                                         AuditEntry.action == "update")
                                  .order_by(AuditEntry.id)).all()
    from app.services.records.audit import readable_details

    last = readable_details(changes[-1].details)  # a visit's values are sealed under its trail key
    assert set(last["after"]) == {"retain_until"}  # the recalculation, with before and after
    assert last["before"]["retain_until"] != last["after"]["retain_until"]
    why = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "retention.recalculated")
                             .order_by(AuditEntry.id)).all()[-1]
    assert "集团档案制度调整" in why.details["reason"] and why.details["visits"] >= 1


def test_amb09_each_period_gets_one_filing_task_due_at_the_profiles_deadline_and_late_filing_shows(
        flows, client, auth, project):
    from app.services.records.retention import start_due_filings

    key = project("fil", "P000-3")  # RET-02: before the 10th of the next month
    flows.set(datetime(2027, 3, 15, 9, tzinfo=CHINA))
    started = [k for k in start_due_filings() if k.startswith(f"filing:{key}:")]
    assert started == [f"filing:{key}:2027-03-01"]
    assert not [k for k in start_due_filings() if k.startswith(f"filing:{key}:")]  # once per period
    archivist = auth("archivist")
    register = [f for f in client.get("/api/v1/retention/filings", headers=archivist).json["result"]
                if f["project"] == key]
    [march] = register
    assert datetime.fromisoformat(march["filing_due"]) == datetime(2027, 4, 10, 23, 59, 59, 999999, tzinfo=CHINA)
    task = tasks(client, archivist, march["instance_id"])["file"]
    assert task["role"] == "Archivist"
    flows.set(datetime(2027, 4, 11, 9, tzinfo=CHINA))  # a day after the deadline
    march = [f for f in client.get("/api/v1/retention/filings", headers=archivist).json["result"]
             if f["instance_id"] == march["instance_id"]][0]
    assert march["overdue"] is True
    body = complete(client, archivist, task, {"filed": False, "forms_filed": 12}, status=422)
    assert [p["field"] for p in body["problems"]] == ["filed"]
    complete(client, archivist, task, {"filed": True, "forms_filed": 12, "location": "档案柜 3-2"})
    filed = [f for f in client.get("/api/v1/retention/filings", headers=archivist).json["result"]
             if f["instance_id"] == march["instance_id"]][0]
    assert filed["late"] is True and filed["status"] == "completed" and filed["forms_filed"] == 12
    assert [k for k in start_due_filings() if k.startswith(f"filing:{key}:")] == [f"filing:{key}:2027-04-01"]
