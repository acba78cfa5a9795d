"""Issue 5: one append-only, hash-chained trail — what is recorded, sealing, verify, tampering."""
from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from app import signals
from app.cli_audit import audit as audit_cli
from app.extensions import db
from app.models.audit import AuditEntry
from app.services.records import audit
from tests.app.conftest import PASSWORD, _admin_password, app, app_ctx, auth, client  # noqa: F401
from workflows import clock


def _entries(**where) -> list[AuditEntry]:
    db.session.expire_all()
    query = select(AuditEntry).order_by(AuditEntry.id)
    for key, value in where.items():
        query = query.where(getattr(AuditEntry, key) == value)
    return db.session.scalars(query).all()


def _seal_all():
    while audit.seal():
        pass


@contextmanager
def _behind_the_apps_back():
    """A raw connection that bypasses the app (and, on PostgreSQL, the append-only trigger: a superuser
    can always do that — which is why verify exists)."""
    with db.engine.connect() as conn:
        postgresql = conn.dialect.name == "postgresql"
        if postgresql:
            conn.execute(text("SET session_replication_role = replica"))
        yield conn
        conn.commit()
        if postgresql:  # the connection goes back to the pool: with the trigger on again
            conn.execute(text("SET session_replication_role = DEFAULT"))
            conn.commit()


def test_logins_and_failed_logins_are_recorded(app_ctx, client):
    before = len(_entries(action="login_failed"))
    assert client.post("/api/v1/security/login", json={"username": "agent", "password": "wrong",
                                                        "provider": "db"}).status_code == 401
    assert client.post("/api/v1/security/login", json={"username": "ghost", "password": "x",
                                                        "provider": "db"}).status_code == 401
    assert client.post("/api/v1/security/login", json={"username": "agent", "password": PASSWORD,
                                                        "provider": "db"}).status_code == 200
    failed = _entries(action="login_failed")[before:]
    assert [(e.actor, e.details["reason"]) for e in failed] == [
        ("agent", "wrong password or inactive user"), ("ghost", "no such user")]
    last = _entries(action="login")[-1]
    assert last.actor == "agent" and last.ip == "127.0.0.1" and last.request_id


def test_changes_through_the_api_keep_before_and_after_of_the_changed_fields(app_ctx, client, auth):
    headers = auth("supervisor")
    from app.services.intake.events import ensure_demo_project

    ensure_demo_project()
    created = client.post("/api/v1/households/", headers=headers, json={
        "project": "cuiyuan", "building": "9", "room": "909"})
    assert created.status_code == 201, created.json
    household_id = str(created.json["result"]["id"])
    # the trail outlives deleted rows and SQLite reuses their ids: the newest entry is this household's
    create = _entries(action="create", target_type="intake_household", target_id=household_id)[-1]
    # the values are sealed under the household's trail key; the field names stay in clear
    assert "909" not in json.dumps(create.details) and "room" in create.details["sealed"]["fields"]["after"]
    assert create.actor == "supervisor" and audit.readable_details(create.details)["after"]["room"] == "909"
    assert create.request_id == created.headers["X-Request-Id"]
    customer = client.post("/api/v1/customers/", headers=headers, json={
        "household_id": int(household_id), "name": "王女士", "phone": "13812345678"})
    assert customer.status_code == 201, customer.json
    entry = _entries(action="create", target_type="intake_customer", target_id=str(customer.json["result"]["id"]))[-1]
    assert audit.readable_details(entry.details)["after"]["phone"] == "*******5678"  # and masked in the trail


def test_signal_entries_commit_and_roll_back_with_the_action(app_ctx):
    marker = f"rollback-{clock.now().timestamp()}"
    signals.audited.send(app_ctx, action="pdf.printed", target_type="visit_form", target_id=marker,
                         details={"serial": marker})
    db.session.rollback()
    assert _entries(target_id=marker) == []
    signals.audited.send(app_ctx, action="pdf.printed", target_type="visit_form", target_id=marker,
                         details={"serial": marker}, actor="li")
    db.session.commit()
    [entry] = _entries(target_id=marker)
    assert (entry.action, entry.actor, entry.details) == ("pdf.printed", "li", {"serial": marker})
    assert entry.content_hash == audit.content_hash(entry) and entry.seq is None


def test_sealing_chains_every_entry_and_verify_passes(app_ctx):
    audit.record("test.sealed", target_type="test", target_id="a")
    db.session.commit()
    _seal_all()
    result = audit.verify()
    assert result["ok"] and result["unsealed"] == 0 and result["checked"] >= 1
    seqs = db.session.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq)).all()
    assert seqs == list(range(1, len(seqs) + 1))
    first = db.session.scalar(select(AuditEntry).where(AuditEntry.seq == 1))
    assert first.prev_hash == audit.GENESIS and first.chain_hash == audit.chain_hash(audit.GENESIS, first.content_hash)
    exit_code = app_ctx.test_cli_runner().invoke(audit_cli, ["verify"])
    assert exit_code.exit_code == 0 and json.loads(exit_code.output)["ok"] is True


def test_verify_names_the_first_entry_changed_behind_the_apps_back(app_ctx):
    audit.record("test.tamper", target_type="test", target_id="victim", details={"amount": 100})
    db.session.commit()
    _seal_all()
    victim = _entries(action="test.tamper")[-1]
    original = json.dumps(victim.details)
    with _behind_the_apps_back() as conn:
        conn.execute(text("UPDATE audit_entry SET details = :d WHERE id = :id"),
                     {"d": json.dumps({"amount": 1}), "id": victim.id})
    try:
        result = audit.verify()
        assert not result["ok"] and result["first_broken"]["id"] == victim.id
        assert "content does not match" in result["first_broken"]["problem"]
        cli = app_ctx.test_cli_runner().invoke(audit_cli, ["verify"])
        assert cli.exit_code == 1 and f"BROKEN at entry {victim.id}" in cli.output
    finally:
        with _behind_the_apps_back() as conn:
            conn.execute(text("UPDATE audit_entry SET details = :d WHERE id = :id"), {"d": original, "id": victim.id})
    assert audit.verify()["ok"]


def test_verify_notices_a_removed_entry(app_ctx):
    audit.record("test.removed", target_type="test", target_id="gone")
    audit.record("test.removed", target_type="test", target_id="after")
    db.session.commit()
    _seal_all()
    gone = _entries(action="test.removed", target_id="gone")[0]
    row = {c.name: getattr(gone, c.name) for c in AuditEntry.__table__.c}
    with _behind_the_apps_back() as conn:
        conn.execute(text("DELETE FROM audit_entry WHERE id = :id"), {"id": gone.id})
    try:
        result = audit.verify()
        assert not result["ok"] and f"seq {gone.seq} is missing" in result["first_broken"]["problem"]
    finally:
        with _behind_the_apps_back() as conn:
            conn.execute(AuditEntry.__table__.insert(), [row])
    assert audit.verify()["ok"]


def test_engine_events_join_the_trail_and_their_changes_are_noticed(app_ctx, client, auth):
    from tests.app.conftest import start_visit

    frozen = clock.FrozenClock()
    seen = db.session.scalar(select(func.max(AuditEntry.id))) or 0
    with clock.using(frozen):
        instance = start_visit(client, auth("supervisor"), business_key="audit-1")
        db.session.commit()
        audit.seal()
        assert [e for e in _entries(source="engine", target_id=str(instance["id"])) if e.id > seen] == []
        frozen.advance(seconds=61)
        _seal_all()
    [started] = [e for e in _entries(action="engine.instance_started", target_id=str(instance["id"])) if e.id > seen]
    assert started.source == "engine" and started.seq is not None and started.actor == "supervisor"
    with _behind_the_apps_back() as conn:
        conn.execute(text("UPDATE wf_event SET actor = 'mallory' WHERE id = :id"), {"id": started.source_id})
    try:
        result = audit.verify()
        assert not result["ok"] and result["first_broken"]["id"] == started.id
        assert f"engine event {started.source_id}" in result["first_broken"]["problem"]
    finally:
        with _behind_the_apps_back() as conn:
            conn.execute(text("UPDATE wf_event SET actor = 'supervisor' WHERE id = :id"), {"id": started.source_id})


def test_postgresql_refuses_update_and_delete_of_the_trail(app_ctx, backend):
    if backend != "postgresql":
        # SQLite has no such trigger; verify (above) is what catches changes there.
        assert db.engine.dialect.name == "sqlite"
        return
    audit.record("test.trigger", target_type="test", target_id="t")
    db.session.commit()
    entry = _entries(action="test.trigger")[-1]
    with db.engine.connect() as conn:  # sealing an unsealed entry once is the only change allowed
        conn.execute(text("UPDATE audit_entry SET seq = -1, prev_hash = 'x', chain_hash = 'y' WHERE id = :id"),
                     {"id": entry.id})
        conn.rollback()
    for statement in ("UPDATE audit_entry SET actor = 'mallory' WHERE id = :id",
                      "UPDATE audit_entry SET details = '{}' WHERE id = :id",
                      "DELETE FROM audit_entry WHERE id = :id"):
        with db.engine.connect() as conn, pytest.raises(DBAPIError, match="append-only"):
            conn.execute(text(statement), {"id": entry.id})
    _seal_all()
    with db.engine.connect() as conn, pytest.raises(DBAPIError, match="append-only"):
        conn.execute(text("UPDATE audit_entry SET seq = seq + 1000000 WHERE id = :id"), {"id": entry.id})
    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.id == entry.id)) == 1


def test_auditor_searches_and_exports_a_records_trail_and_the_export_is_recorded(app_ctx):
    from tests.app.conftest import browser_login

    audit.record("test.export", target_type="visit", target_id="export-me", details={"说明": "打印回访记录表"})
    db.session.commit()
    auditor = browser_login(app_ctx.test_client(), "auditor")
    page = auditor.get("/audit/trail/list/?_flt_0_target_id=export-me")
    assert page.status_code == 200 and "test.export" in page.get_data(as_text=True)
    export = auditor.get("/audit/export.csv?target_type=visit&target_id=export-me")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    lines = export.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[0].startswith("id,seq,at,actor,action") and len(lines) == 2 and "打印回访记录表" in lines[1]
    assert auditor.get("/audit/export.csv?since=yesterday").status_code == 422
    [recorded] = _entries(action="export.csv")[-1:]
    assert recorded.actor == "auditor" and recorded.details["filters"]["target_id"] == "export-me"
    supervisor = browser_login(app_ctx.test_client(), "supervisor")
    assert supervisor.get("/audit/export.csv?target_id=export-me").status_code == 403


def test_full_phone_numbers_shown_are_recorded_masked_ones_are_not(app_ctx, client, auth):
    from tests.app.conftest import browser_login

    headers = auth("supervisor")
    from app.services.intake.events import ensure_demo_project

    ensure_demo_project()
    created = client.post("/api/v1/households/", headers=headers, json={"project": "cuiyuan", "building": "8",
                                                                        "room": "808"}).json["result"]
    client.post("/api/v1/customers/", headers=headers, json={"household_id": created["id"], "name": "李先生",
                                                              "phone": "13900001111"})
    target = {"action": "personal_data.viewed", "target_id": str(created["id"])}
    before = len(_entries(**target))
    shown = client.get(f"/api/v1/households/{created['id']}", headers=headers).json["result"]
    assert shown["customers"][0]["phone"] == "13900001111"
    viewed = _entries(**target)[before:]
    assert [(e.actor, e.details["where"]) for e in viewed] == [("supervisor", f"GET /api/v1/households/{created['id']}")]
    masked = client.get(f"/api/v1/households/{created['id']}", headers=auth("agent")).json["result"]
    assert masked["customers"][0]["phone"] != "13900001111" and len(_entries(**target)) == before + 1
    page = browser_login(app_ctx.test_client(), "supervisor").get(f"/householdview/show/{created['id']}")
    assert page.status_code == 200 and len(_entries(**target)) == before + 2


def test_one_page_and_one_pdf_hold_a_visits_trail_from_intake_to_archive(app_ctx, client, auth):
    """Intake (service event) → visit → numbered form → engine steps, in time order; PDF text checked."""
    from pypdf import PdfReader
    import io

    from tests.app.conftest import browser_login
    from tests.flows.helpers import PLAN, complete, tasks

    sup = auth("supervisor")
    from app.services.intake.events import ensure_demo_project

    ensure_demo_project()
    event = client.post("/api/v1/service-events/", headers=sup, json={
        "project": "cuiyuan", "building": "1", "room": "101", "category": "help", "content": "帮忙搬运家具"})
    assert event.status_code == 201, event.json
    client.post(f"/api/v1/service-events/{event.json['result']['id']}/complete", headers=sup, json={})
    [visit] = [v for v in client.get("/api/v1/visits/", headers=sup).json["result"]
               if v["service_event_id"] == event.json["result"]["id"]]
    complete(client, sup, tasks(client, sup, visit["instance_id"])["plan"], PLAN)
    frozen = clock.FrozenClock(clock.now() + timedelta(minutes=2))
    with clock.using(frozen):
        _seal_all()
    auditor = browser_login(app_ctx.test_client(), "auditor")
    page = auditor.get(f"/audit/visit/{visit['id']}").get_data(as_text=True)
    actions = [a for a in ("create", "update", "engine.instance_started", "engine.task_completed") if a in page]
    assert actions == ["create", "update", "engine.instance_started", "engine.task_completed"]
    assert "intake_service_event" in page and "visit_form" in page
    pdf = auditor.get(f"/audit/visit/{visit['id']}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text_ = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "回访审计轨迹" in text_ and "engine.task_completed" in text_ and "第 1 页" in text_
    assert _entries(action="export.pdf", target_id=str(visit["id"]))[-1].actor == "auditor"
    assert browser_login(app_ctx.test_client(), "agent").get(f"/audit/visit/{visit['id']}").status_code == 403
    assert auditor.get("/audit/visit/999999").status_code == 404
