"""AMB-10 retention classes beyond visit records: former customers' files (13 years, RET-11), call
recordings (15 years, RET-05), sign-out sheets filed with their period (2 years, RET-01/02); each is
read-only once filed, can be held, and is destroyed only through the witnessed flow."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models.intake import Customer, Household, Project
from app.models.retention import RetainedRecord
from app.models.visit import DestructionEntry
from tests.app.conftest import _admin_password, app, app_ctx, auth, client  # noqa: F401
from tests.flows.conftest import flows, notified, project  # noqa: F401
from tests.flows.helpers import complete, tasks
from workflows.errors import Conflict

CHINA = ZoneInfo("Asia/Shanghai")


def _local(value: datetime) -> datetime:
    return (value if value.tzinfo else value.replace(tzinfo=ZoneInfo("UTC"))).astimezone(CHINA)


def test_a_former_customers_file_is_kept_13_years_and_is_read_only(flows, project):
    key = project("rc1", "P000-3")
    project_id = db.session.scalar(select(Project.id).where(Project.key == key))
    household = Household(project_id=project_id, building="2", room="301", file_no=f"{key}-2-301")
    db.session.add(household)
    db.session.flush()
    db.session.add(Customer(household_id=household.id, name="赵敏", role="owner"))
    db.session.commit()
    household.room = "302"  # a current customer's file may change (RET-13)
    db.session.commit()

    flows.set(datetime(2027, 6, 30, 20, tzinfo=CHINA))
    household.former_customer = True  # the customer moved out
    db.session.commit()
    record = db.session.scalar(select(RetainedRecord).where(RetainedRecord.reference == f"household:{household.id}"))
    assert record.record_class == "customer_file" and record.project_key == key
    assert _local(record.retain_until) == datetime(2040, 6, 30, 23, 59, 59, 999999, tzinfo=CHINA)

    household.room = "303"
    with pytest.raises(Conflict, match="read-only"):
        db.session.commit()
    db.session.rollback()
    customer = db.session.scalar(select(Customer).where(Customer.household_id == household.id))
    customer.phone = "13900000000"
    with pytest.raises(Conflict, match="read-only"):
        db.session.commit()
    db.session.rollback()
    record.retain_until = datetime(2028, 1, 1, tzinfo=CHINA)
    with pytest.raises(Conflict, match="read-only"):
        db.session.commit()
    db.session.rollback()
    db.session.expire_all()
    assert db.session.get(Household, household.id).room == "302"


def test_call_recordings_follow_the_securities_profile_and_bad_input_changes_nothing(flows, client, auth, project):
    archivist = auth("archivist")
    securities, property_ = project("rc2", "P001-F"), project("rc3", "P000-3")
    flows.set(datetime(2027, 1, 31, 9, tzinfo=CHINA))
    r = client.post("/api/v1/retention/records", headers=archivist, json={
        "record_class": "call_recording", "reference": "REC-20270131-0001", "project": securities,
        "title": "新开户回访录音 new-account call"})
    assert r.status_code == 201, r.json
    assert datetime.fromisoformat(r.json["result"]["retain_until"]).astimezone(CHINA).date().isoformat() == "2042-01-31"
    again = client.post("/api/v1/retention/records", headers=archivist, json={
        "record_class": "call_recording", "reference": "REC-20270131-0001", "project": securities})
    assert again.status_code == 201 and again.json["result"]["id"] == r.json["result"]["id"]  # filed once

    before = db.session.scalar(select(RetainedRecord.id).order_by(RetainedRecord.id.desc()).limit(1))
    for body, field in (({"record_class": "tape", "reference": "x"}, "record_class"),
                        ({"record_class": "call_recording", "reference": " "}, "reference"),
                        ({"record_class": "call_recording", "reference": "x", "project": "nope"}, "project")):
        bad = client.post("/api/v1/retention/records", headers=archivist, json=body)
        assert bad.status_code == 422 and bad.json["problems"][0]["field"] == field, bad.json
    assert db.session.scalar(select(RetainedRecord.id).order_by(RetainedRecord.id.desc()).limit(1)) == before
    assert client.post("/api/v1/retention/records", headers=auth("agent"),
                       json={"record_class": "call_recording", "reference": "y"}).status_code == 403
    listed = client.get(f"/api/v1/retention/records?record_class=call_recording&project={securities}",
                        headers=archivist).json["result"]
    assert [row["reference"] for row in listed] == ["REC-20270131-0001"]
    assert property_  # a property profile files no recordings of its own here


def test_filing_a_period_files_its_signout_sheet_for_two_years(flows, client, auth, project):
    from app.services.records.retention import start_due_filings

    key = project("rc4", "P000-3")
    flows.set(datetime(2027, 3, 15, 9, tzinfo=CHINA))
    start_due_filings()
    archivist = auth("archivist")
    [filing] = [f for f in client.get("/api/v1/retention/filings", headers=archivist).json["result"]
                if f["project"] == key]
    flows.set(datetime(2027, 4, 8, 16, tzinfo=CHINA))
    complete(client, archivist, tasks(client, archivist, filing["instance_id"])["file"],
             {"filed": True, "forms_filed": 3})
    record = db.session.scalar(select(RetainedRecord).where(RetainedRecord.reference == f"{key}:2027-03-01"))
    assert record.record_class == "signout_sheet" and record.filed_by == "archivist"
    assert _local(record.retain_until) == datetime(2029, 4, 8, 23, 59, 59, 999999, tzinfo=CHINA)


def test_expired_records_are_destroyed_by_the_witnessed_flow_and_a_hold_keeps_one(flows, client, auth, project):
    key = project("rc5", "P001-F")
    archivist, manager, sup = auth("archivist"), auth("manager"), auth("supervisor")
    flows.set(datetime(2027, 2, 1, 9, tzinfo=CHINA))
    ids = [client.post("/api/v1/retention/records", headers=archivist, json={
        "record_class": "call_recording", "reference": ref, "project": key, "title": f"录音 {ref}"}).json["result"]["id"]
        for ref in ("R-1", "R-2")]
    flows.set(datetime(2042, 3, 1, 9, tzinfo=CHINA))
    expired = client.get("/api/v1/retention/expired", headers=archivist).json["records"]
    assert set(ids) <= {r["id"] for r in expired}
    started = client.post("/api/v1/retention/destruction", headers=archivist)
    assert started.status_code == 201, started.json
    instance_id = started.json["result"]["instance_id"]
    complete(client, archivist, tasks(client, archivist, instance_id)["propose"], {"checked": True})
    complete(client, manager, tasks(client, manager, instance_id)["approve"], {"approved": True, "comment": "同意"})
    held = client.post(f"/api/v1/retention/records/{ids[0]}/hold", headers=manager, json={"reason": "监管调查"})
    assert held.status_code == 200 and held.json["result"]["legal_hold"] is True
    complete(client, sup, tasks(client, sup, instance_id)["witness"], {"witnessed": True, "method": "erase"})

    db.session.expire_all()
    kept, gone = db.session.get(RetainedRecord, ids[0]), db.session.get(RetainedRecord, ids[1])
    assert kept.destroyed_at is None and kept.title == "录音 R-1"
    assert gone.destroyed_at is not None and gone.title is None and gone.reference == "R-2"  # the tombstone
    [entry] = db.session.scalars(select(DestructionEntry).where(DestructionEntry.instance_id == instance_id,
                                                                DestructionEntry.record_id.in_(ids))).all()
    assert (entry.record_id, entry.category, entry.serials, entry.witnessed_by) == (
        ids[1], "call_recording", ["R-2"], "supervisor")
    released = client.post(f"/api/v1/retention/records/{ids[0]}/release", headers=manager, json={"reason": "结案"})
    assert released.status_code == 200
    assert ids[0] in {r["id"] for r in client.get("/api/v1/retention/expired", headers=archivist).json["records"]}


def test_the_retention_desk_lists_filings_records_and_holds_and_places_holds(flows, client, auth, project):
    from tests.app.conftest import browser_login

    key = project("rc6", "P001-F")
    flows.set(datetime(2027, 2, 1, 9, tzinfo=CHINA))
    made = client.post("/api/v1/retention/records", headers=auth("archivist"), json={
        "record_class": "call_recording", "reference": "R-desk", "project": key, "title": "录音 desk"})
    record_id = made.json["result"]["id"]
    manager = browser_login(client.application.test_client(), "manager")
    manager.get("/lang/en")
    page = manager.get("/retention/").get_data(as_text=True)
    assert f'data-record="{record_id}"' in page.split('id="records"')[1] and "录音 desk" in page
    refused = manager.post(f"/retention/record/{record_id}/hold", data={"reason": " "}, follow_redirects=True)
    assert "reason: a reason is required" in refused.get_data(as_text=True)
    assert db.session.get(RetainedRecord, record_id).legal_hold is False
    manager.post(f"/retention/record/{record_id}/hold", data={"reason": "仲裁 arbitration"})
    db.session.expire_all()
    assert db.session.get(RetainedRecord, record_id).legal_hold is True
    page = manager.get("/retention/").get_data(as_text=True)
    assert f'data-record="{record_id}"' in page.split('id="held"')[1].split('id="records"')[0]
    assert "仲裁 arbitration" in page
    # nothing has expired yet: starting a destruction says so and starts nothing
    page = manager.post("/retention/destroy", follow_redirects=True)
    assert page.status_code == 403  # managers approve destructions; archivists start them
    archivist = browser_login(client.application.test_client(), "archivist")
    archivist.get("/lang/en")
    page = archivist.post("/retention/destroy", follow_redirects=True).get_data(as_text=True)
    assert "no record has reached the end of its retention period" in page
    # the auditor reads the desk but holds nothing
    auditor = browser_login(client.application.test_client(), "auditor")
    page = auditor.get("/retention/").get_data(as_text=True)
    assert 'id="filings"' in page and "Release hold" not in page and "解除保全" not in page
    assert auditor.post(f"/retention/record/{record_id}/release", data={"reason": "x"}).status_code == 403


def test_a_profile_not_yet_in_effect_is_a_clear_conflict_not_a_server_error(flows, client, auth, project):
    key = project("rc7", "P001-F")
    flows.set(datetime(2001, 1, 1, 9, tzinfo=CHINA))  # before any profile version took effect
    r = client.post("/api/v1/retention/records", headers=auth("archivist"), json={
        "record_class": "call_recording", "reference": "R-early", "project": key})
    assert r.status_code == 409 and r.json["problems"][0]["field"] == "profile", r.json
    assert "no version in effect" in r.json["message"]
    assert db.session.scalar(select(RetainedRecord).where(RetainedRecord.reference == "R-early")) is None


def test_destroying_a_former_customers_file_removes_the_customers_personal_data(flows, client, auth, project):
    key = project("rc8", "P000-3")
    project_id = db.session.scalar(select(Project.id).where(Project.key == key))
    household = Household(project_id=project_id, building="6", room="601", file_no=f"{key}-6-601")
    db.session.add(household)
    db.session.flush()
    db.session.add(Customer(household_id=household.id, name="钱多多", role="owner", phone="13711112222",
                            id_number="110101199001011234", contact_notes="晚上联系"))
    db.session.commit()
    flows.set(datetime(2027, 3, 1, 9, tzinfo=CHINA))
    household.former_customer = True
    db.session.commit()
    record_id = db.session.scalar(select(RetainedRecord.id).where(
        RetainedRecord.reference == f"household:{household.id}"))

    archivist, manager, sup = auth("archivist"), auth("manager"), auth("supervisor")
    flows.set(datetime(2040, 3, 2, 9, tzinfo=CHINA))  # 13 years on
    started = client.post("/api/v1/retention/destruction", headers=archivist)
    assert started.status_code == 201, started.json
    instance_id = started.json["result"]["instance_id"]
    complete(client, archivist, tasks(client, archivist, instance_id)["propose"], {"checked": True})
    complete(client, manager, tasks(client, manager, instance_id)["approve"], {"approved": True, "comment": "同意"})
    complete(client, sup, tasks(client, sup, instance_id)["witness"], {"witnessed": True, "method": "shred"})

    db.session.expire_all()
    assert db.session.get(RetainedRecord, record_id).destroyed_at is not None
    customer = db.session.scalar(select(Customer).where(Customer.household_id == household.id))
    assert (customer.name, customer.phone, customer.id_number, customer.contact_notes) == (
        "（已销毁 destroyed）", None, None, None)
    assert db.session.get(Household, household.id).file_no == f"{key}-6-601"  # the unit itself stays
    [entry] = db.session.scalars(select(DestructionEntry).where(DestructionEntry.instance_id == instance_id,
                                                                DestructionEntry.record_id == record_id)).all()
    assert entry.category == "customer_file" and entry.witnessed_by == "supervisor"
