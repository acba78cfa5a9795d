"""Crypto-shredding (issue 5, RET-14): the trail's copies of a record's personal values are sealed under the
record's key, read in clear through the pages and APIs while it exists, and unreadable — with the chain still
verifying — once the witnessed destruction destroyed the key."""
from __future__ import annotations

import io
import json
from datetime import datetime
from zoneinfo import ZoneInfo

from pypdf import PdfReader
from sqlalchemy import select, text

from app.cli_audit import audit as audit_cli
from app.extensions import db
from app.models.audit import AuditEntry, TrailKey
from app.models.intake import Customer, Household, Project
from app.models.retention import RetainedRecord
from app.models.visit import DestructionEntry
from app.services.records import audit, shredding
from tests.app.conftest import _admin_password, app, app_ctx, auth, browser_login, client  # noqa: F401
from tests.flows.conftest import flows, notified, project  # noqa: F401
from tests.flows.helpers import PLAN, VISIT, complete, start, tasks, visit

CHINA = ZoneInfo("Asia/Shanghai")
SUMMARY = "业主满意 owner-pleased"  # what the visitor wrote down
PHONE = "13877665544"


def _archived(client, auth, household="1栋-101") -> dict:
    sup, agent = auth("supervisor"), auth("agent")
    v = start(client, sup, category="help", household=household)
    complete(client, sup, tasks(client, sup, v["instance_id"])["plan"], PLAN)
    complete(client, agent, tasks(client, agent, v["instance_id"])["visit"], {**VISIT, "summary": SUMMARY})
    complete(client, sup, tasks(client, sup, v["instance_id"])["review"], {"qualified": True, "comment": "合格"})
    return visit(client, sup, v["id"])


def _seal_all(flows) -> None:
    """What the worker does a minute later: copy the engine events in and chain everything."""
    flows.advance(seconds=61)
    while audit.seal():
        pass


def _raw(sql: str, **params) -> str:
    """What the database holds, read behind the app's back (JSON text as stored)."""
    with db.engine.connect() as conn:
        return "\n".join(" | ".join(map(str, row)) for row in conn.execute(text(sql), params))


def _holds(raw: str, value: str) -> bool:
    """Whether the stored text holds the value, as written or JSON-escaped (\\uXXXX)."""
    return value in raw or json.dumps(value)[1:-1] in raw


def _rows(page: str, instance_id: int, action: str = "engine.task_completed") -> list[str]:
    """The trail page's rows of one action on one flow instance (instance ids are never reused; visit ids
    are, on SQLite, by the tests that empty the visit table — the trail keeps the earlier visits' entries)."""
    return [row for row in page.split("<tr")[1:] if f"process_instance {instance_id}<" in row and action in row]


def _pdf_text(data: bytes) -> str:
    """The PDF's text without the line breaks of its narrow details column."""
    return "".join("".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(data)).pages)


def _destroy(client, auth, flows, days: int) -> int:
    archivist, manager, sup = auth("archivist"), auth("manager"), auth("supervisor")
    flows.advance(days=days)
    started = client.post("/api/v1/retention/destruction", headers=archivist)
    assert started.status_code == 201, started.json
    instance_id = started.json["result"]["instance_id"]
    complete(client, archivist, tasks(client, archivist, instance_id)["propose"], {"checked": True})
    complete(client, manager, tasks(client, manager, instance_id)["approve"], {"approved": True, "comment": "同意"})
    return instance_id


def _witness(client, auth, instance_id: int) -> None:
    sup = auth("supervisor")
    complete(client, sup, tasks(client, sup, instance_id)["witness"], {"witnessed": True, "method": "shred"})
    db.session.expire_all()


def test_a_visits_values_are_sealed_at_rest_and_read_in_clear_through_pages_and_apis(flows, client, auth):
    v = _archived(client, auth, household="7栋-707")
    _seal_all(flows)
    # at rest: neither the engine's event nor the trail (app entries or copied events) holds the plaintext
    events = _raw("SELECT CAST(detail AS TEXT) FROM wf_event WHERE instance_id = :i AND kind = 'task_completed'",
                  i=v["instance_id"])
    assert not any(_holds(events, x) for x in (SUMMARY, "owner-pleased", "业主满意", "维修质量")) and '"box"' in events
    assert _holds(events, '"bpmn_id"')  # what is not personal stays as it was
    entries = _raw("SELECT CAST(details AS TEXT) FROM audit_entry "
                   "WHERE target_type = 'process_instance' AND target_id = :i", i=str(v["instance_id"]))
    assert '"box"' in entries and not any(_holds(entries, x) for x in ("owner-pleased", "业主满意", "维修质量"))
    visit_entries = _raw("SELECT CAST(details AS TEXT) FROM audit_entry WHERE target_type IN ('visit', 'visit_form') "
                         "AND target_id IN (:v, :f)", v=str(v["id"]), f=str(v["forms"][0]["id"]))
    assert not _holds(visit_entries, "7栋-707") and "-707" not in visit_entries and '"box"' in visit_entries
    # …but what was done, by whom and to which fields stays searchable
    completed = db.session.scalars(select(AuditEntry).where(
        AuditEntry.action == "engine.task_completed", AuditEntry.target_id == str(v["instance_id"]))
        .order_by(AuditEntry.id)).all()
    assert [(e.actor, e.details["bpmn_id"]) for e in completed] == [
        ("supervisor", "plan"), ("agent", "visit"), ("supervisor", "review")]
    assert "summary" in completed[1].details["sealed"]["fields"]["data"]
    assert completed[1].details["sealed"]["subject"] == f"visit:{v['id']}"
    [key] = db.session.scalars(select(TrailKey).where(TrailKey.subject_type == "visit",
                                                      TrailKey.subject_id == v["id"])).all()
    assert len(key.key) == 32 and key.destroyed_at is None
    assert audit.verify()["ok"]

    # read through the app: the auditor's pages, PDF, CSV and the events API decrypt
    auditor = browser_login(client.application.test_client(), "auditor")
    page = auditor.get(f"/audit/visit/{v['id']}").get_data(as_text=True)
    assert SUMMARY in page and "7栋-707" in page
    completions = _rows(page, v["instance_id"])
    assert len(completions) == 3 and not any("RET-14" in row for row in completions)
    pdf = auditor.get(f"/audit/visit/{v['id']}.pdf")
    assert pdf.status_code == 200
    assert "owner-pleased" in _pdf_text(pdf.data)
    csv = auditor.get(f"/audit/export.csv?target_type=visit&target_id={v['id']}").get_data(as_text=True)
    assert "7栋-707" in csv and "'sealed'" not in csv
    shown = auditor.get(f"/audit/trail/show/{completed[1].id}").get_data(as_text=True)
    assert SUMMARY in shown
    api = client.get(f"/api/v1/events/?instance_id={v['instance_id']}&kind=task_completed",
                     headers=auth("auditor")).json["result"]
    assert api[1]["detail"]["data"]["summary"] == SUMMARY and api[1]["destroyed"] is None
    assert SUMMARY in auditor.get(f"/engineeventview/show/{api[1]['id']}").get_data(as_text=True)


def test_a_customers_values_are_sealed_under_the_households_key(flows, client, auth):
    from app.services.intake.events import ensure_demo_project

    ensure_demo_project()
    headers = auth("supervisor")
    household = client.post("/api/v1/households/", headers=headers, json={
        "project": "cuiyuan", "building": "6", "room": "606"}).json["result"]
    customer = client.post("/api/v1/customers/", headers=headers, json={
        "household_id": household["id"], "name": "钱女士", "phone": PHONE})
    assert customer.status_code == 201, customer.json
    raw = _raw("SELECT CAST(details AS TEXT) FROM audit_entry WHERE target_type = 'intake_customer' AND target_id = :c",
               c=str(customer.json["result"]["id"]))
    assert PHONE not in raw and "*" + PHONE[-4:] not in raw and not _holds(raw, "钱女士")
    assert '"phone"' in raw  # the field name stays in clear
    entry = db.session.scalars(select(AuditEntry).where(  # the newest: SQLite reuses deleted customers' ids
        AuditEntry.target_type == "intake_customer", AuditEntry.target_id == str(customer.json["result"]["id"]),
        AuditEntry.action == "create").order_by(AuditEntry.id.desc())).first()
    assert entry.details["sealed"]["subject"] == f"household:{household['id']}"
    opened = audit.readable_details(entry.details)["after"]
    assert (opened["name"], opened["phone"]) == ("钱女士", "*******" + PHONE[-4:])  # masked as before


def test_destruction_shreds_the_visits_trail_copies_and_verify_still_passes(flows, client, auth):
    gone, kept = _archived(client, auth, household="3栋-303"), _archived(client, auth, household="4栋-404")
    instance_id = _destroy(client, auth, flows, days=2 * 366 + 1)
    assert client.post(f"/api/v1/retention/visits/{kept['id']}/hold", headers=auth("manager"),
                       json={"reason": "诉讼 lawsuit"}).status_code == 200
    _witness(client, auth, instance_id)
    destroyed_on = flows.now().astimezone(CHINA).strftime("%Y-%m-%d")

    # the key went in the destruction's transaction, the register says so; the kept visit's key stays
    key = db.session.scalar(select(TrailKey).where(TrailKey.subject_type == "visit", TrailKey.subject_id == gone["id"]))
    assert key.key is None and key.destroyed_at is not None and key.destroyed_in.startswith("D-")
    assert db.session.scalar(select(TrailKey.key).where(TrailKey.subject_type == "visit",
                                                        TrailKey.subject_id == kept["id"])) is not None
    [entry] = db.session.scalars(select(DestructionEntry).where(DestructionEntry.instance_id == instance_id)).all()
    assert (entry.visit_id, entry.trail_subject, entry.trail_key_destroyed) == (gone["id"], f"visit:{gone['id']}", True)

    # every hash still matches: verify needs no key
    _seal_all(flows)
    assert audit.verify()["ok"]
    cli = client.application.test_cli_runner().invoke(audit_cli, ["verify"])
    assert cli.exit_code == 0 and json.loads(cli.output)["ok"] is True

    # a later lookup of the destroyed visit's trail shows the marker, never the values
    auditor = browser_login(client.application.test_client(), "auditor")
    page = auditor.get(f"/audit/visit/{gone['id']}").get_data(as_text=True)
    assert SUMMARY not in page and "3栋-303" not in page and "维修质量" not in page
    assert f"destroyed with the record (RET-14), {destroyed_on}" in page or f"已随记录销毁（RET-14），{destroyed_on}" in page
    assert 'id="visit-destroyed"' in page and "engine.task_completed" in page and "summary" in page
    gone_rows = _rows(page, gone["instance_id"]) + _rows(page, gone["instance_id"], "engine.instance_started")
    assert len(gone_rows) == 4 and all("RET-14" in row for row in gone_rows)
    kept_page = auditor.get(f"/audit/visit/{kept['id']}").get_data(as_text=True)
    kept_rows = _rows(kept_page, kept["instance_id"]) + _rows(kept_page, kept["instance_id"], "engine.instance_started")
    assert SUMMARY in kept_page and len(kept_rows) == 4 and not any("RET-14" in row for row in kept_rows)
    assert "4栋-404" in kept_rows[-1]  # the business key of its start, sealed under its key, read in clear
    csv = auditor.get(f"/audit/export.csv?target_type=visit&target_id={gone['id']}").get_data(as_text=True)
    assert "3栋-303" not in csv and "RET-14" in csv
    pdf = auditor.get(f"/audit/visit/{gone['id']}.pdf")
    pdf_text = _pdf_text(pdf.data)
    assert "owner-pleased" not in pdf_text and "RET-14" in pdf_text
    api = client.get(f"/api/v1/events/?instance_id={gone['instance_id']}&kind=task_completed",
                     headers=auth("auditor")).json["result"]
    assert all("RET-14" in e["detail"]["data"] for e in api) and "summary" in api[1]["detail"]["data"]
    assert api[1]["destroyed"]["subject"] == f"visit:{gone['id']}" and api[1]["destroyed"]["batch"].startswith("D-")
    kept_api = client.get(f"/api/v1/events/?instance_id={kept['instance_id']}&kind=task_completed",
                          headers=auth("auditor")).json["result"]
    assert kept_api[1]["detail"]["data"]["summary"] == SUMMARY

    # the ciphertext is still there, hashed and chained, and nobody can open it any more
    stored = db.session.scalars(select(AuditEntry).where(
        AuditEntry.action == "engine.task_completed", AuditEntry.target_id == str(gone["instance_id"]))).all()
    assert stored and all(shredding.is_sealed(e.details) for e in stored)
    for row, details, destroyed in audit.readable(stored):
        assert destroyed is not None and destroyed.subject == f"visit:{gone['id']}"
        assert row.content_hash == audit.content_hash(row)
    # the visit's last change, made by the destruction itself, was sealed before the key went
    last = db.session.scalars(select(AuditEntry).where(AuditEntry.target_type == "visit",
                                                       AuditEntry.target_id == str(gone["id"]),
                                                       AuditEntry.action == "update").order_by(AuditEntry.id)).all()[-1]
    assert "household" in last.details["sealed"]["fields"]["before"]
    assert "3栋-303" not in json.dumps(last.details, ensure_ascii=False)


def test_a_former_customers_file_shreds_the_households_trail_when_destroyed(flows, client, auth, project):
    key = project("shr1", "P000-3")
    project_id = db.session.scalar(select(Project.id).where(Project.key == key))
    flows.set(datetime(2027, 6, 30, 9, tzinfo=CHINA))
    household = Household(project_id=project_id, building="5", room="505", file_no=f"{key}-5-505")
    db.session.add(household)
    db.session.flush()
    db.session.add(Customer(household_id=household.id, name="孙先生", role="owner", phone=PHONE,
                            contact_notes="晚上八点后联系"))
    db.session.commit()
    household.former_customer = True  # the customer moved out: the file is filed for 13 years
    db.session.commit()
    record = db.session.scalar(select(RetainedRecord).where(RetainedRecord.reference == f"household:{household.id}"))
    assert shredding.subject_of_record(record) == shredding.Subject("household", household.id)
    customer_entries = select(AuditEntry).where(AuditEntry.target_type == "intake_customer",
                                                AuditEntry.action == "create").order_by(AuditEntry.id.desc())
    created = db.session.scalars(customer_entries).first()
    assert audit.readable_details(created.details)["after"]["contact_notes"] == "晚上八点后联系"

    instance_id = _destroy(client, auth, flows, days=13 * 366 + 1)
    _witness(client, auth, instance_id)
    [entry] = db.session.scalars(select(DestructionEntry).where(DestructionEntry.instance_id == instance_id,
                                                                DestructionEntry.record_id == record.id)).all()
    assert (entry.trail_subject, entry.trail_key_destroyed) == (f"household:{household.id}", True)
    _seal_all(flows)
    assert audit.verify()["ok"]
    db.session.expire_all()
    [(_, opened, destroyed)] = audit.readable([db.session.get(AuditEntry, created.id)])
    assert destroyed is not None and "RET-14" in opened["after"] and "contact_notes" in opened["after"]
    assert "晚上八点后联系" not in json.dumps(opened, ensure_ascii=False)


def test_a_record_with_nothing_sealed_gets_a_key_tombstone_and_the_register_says_so(flows, client, auth, project):
    key = project("shr2", "P001-F")
    flows.set(datetime(2027, 2, 1, 9, tzinfo=CHINA))
    made = client.post("/api/v1/retention/records", headers=auth("archivist"), json={
        "record_class": "call_recording", "reference": "R-shred", "project": key, "title": "录音"})
    record_id = made.json["result"]["id"]
    instance_id = _destroy(client, auth, flows, days=15 * 366 + 1)
    _witness(client, auth, instance_id)
    # the register outlives the records (their ids repeat on SQLite): this destruction's entry
    [entry] = db.session.scalars(select(DestructionEntry).where(DestructionEntry.instance_id == instance_id,
                                                                DestructionEntry.record_id == record_id)).all()
    assert (entry.trail_subject, entry.trail_key_destroyed) == (f"record:{record_id}", False)
    tomb = db.session.scalar(select(TrailKey).where(TrailKey.subject_type == "record",
                                                    TrailKey.subject_id == record_id))
    assert tomb.key is None and tomb.destroyed_at is not None
    # a destroyed subject never gets a new key: whatever is written about it later is born shredded
    subject = shredding.Subject("record", record_id)
    [tombstone] = shredding.keys_for(db.session, {subject}).values()
    assert (tombstone.id, tombstone.key) == (tomb.id, None)
    later = shredding.seal({"after": {"title": "录音 R-shred"}}, ("after",), subject, tombstone)
    assert "录音" not in json.dumps(later, ensure_ascii=False) and later["sealed"]["key"] == tomb.id
    opened, destroyed = shredding.open_details(later, shredding.Keyring(db.session.connection()))
    assert destroyed is not None and destroyed.batch == tomb.destroyed_in and "RET-14" in opened["after"]
    db.session.rollback()


def test_changing_a_sealed_entry_breaks_the_chain_and_a_moved_ciphertext_does_not_open(flows, client, auth):
    from tests.audit.test_trail import _behind_the_apps_back

    v = _archived(client, auth, household="8栋-808")
    _seal_all(flows)
    entry = db.session.scalars(select(AuditEntry).where(  # the trail outlives earlier tests' visits of this id
        AuditEntry.target_type == "visit", AuditEntry.target_id == str(v["id"])).order_by(AuditEntry.id.desc())).first()
    original = json.dumps(entry.details, ensure_ascii=False)
    forged = json.loads(original)
    box = forged["sealed"]["box"]
    forged["sealed"]["box"] = box[:-6] + ("AAAAAA" if box[-6:] != "AAAAAA" else "BBBBBB")
    with _behind_the_apps_back() as conn:
        conn.execute(text("UPDATE audit_entry SET details = :d WHERE id = :id"),
                     {"d": json.dumps(forged, ensure_ascii=False), "id": entry.id})
    try:
        result = audit.verify()
        assert not result["ok"] and result["first_broken"]["id"] == entry.id
    finally:
        with _behind_the_apps_back() as conn:
            conn.execute(text("UPDATE audit_entry SET details = :d WHERE id = :id"), {"d": original, "id": entry.id})
    assert audit.verify()["ok"]
    # the subject is authenticated with the ciphertext: relabelled as another visit's, it does not open
    moved = json.loads(original)
    moved["sealed"]["subject"] = "visit:999999"
    ring = shredding.Keyring(db.session.connection())
    assert shredding.open_details(moved, ring)[1] is not None
    assert shredding.open_details(json.loads(original), ring)[1] is None
    # entries written before shredding existed are plain and read as they are
    assert shredding.open_details({"after": {"room": "909"}}, ring) == ({"after": {"room": "909"}}, None)
    db.session.rollback()


def test_later_trail_lookups_of_a_destroyed_visit_without_a_date_still_show_the_marker(flows, client, auth):
    """A key row removed by hand (not the app's way) reads like a shredded one, without a date."""
    v = _archived(client, auth, household="9栋-909")
    db.session.execute(TrailKey.__table__.delete().where(TrailKey.subject_type == "visit",
                                                         TrailKey.subject_id == v["id"]))
    db.session.commit()
    _, entries = audit.visit_trail(v["id"])
    opened = audit.readable(entries)
    sealed = [(details, destroyed) for entry, details, destroyed in opened if shredding.is_sealed(entry.details)]
    assert sealed and all(d is not None and d.at is None for _, d in sealed)
    assert all("RET-14" in json.dumps(details, ensure_ascii=False) for details, _ in sealed)
