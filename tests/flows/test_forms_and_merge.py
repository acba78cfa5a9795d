"""The numbered 回访记录表 (FLOW-03, REC-01) and merging overlapping visits (SMP-08/AMB-40)."""
from __future__ import annotations

import threading

from sqlalchemy import select

from app.extensions import db
from app.models.visit import Visit, VisitForm
from app.services.flows import visits as service

from .helpers import PLAN, complete, start, tasks, visit


def _plan(client, sup, v):
    complete(client, sup, tasks(client, sup, v["instance_id"])["plan"], PLAN)


def test_rec01_serials_run_per_project_and_year_and_a_voided_form_stays_on_record(flows, client, auth):
    sup = auth("supervisor")
    a, b = start(client, sup, category="help"), start(client, sup, category="help", household="2栋-201")
    c = start(client, sup, category="help", project="other", household="3栋-301")
    for v in (a, b, c):
        _plan(client, sup, v)
    year = flows.now().year
    assert [visit(client, sup, v["id"])["serial"] for v in (a, b, c)] == [
        f"demo-{year}-00001", f"demo-{year}-00002", f"other-{year}-00001"]
    form_id = visit(client, sup, a["id"])["forms"][0]["id"]
    r = client.post(f"/api/v1/visit-forms/{form_id}/void", json={"reason": " "}, headers=sup)
    assert r.status_code == 422 and r.json["problems"][0]["field"] == "reason"
    r = client.post(f"/api/v1/visit-forms/{form_id}/void", json={"reason": "填写错误 spoiled"}, headers=sup)
    assert r.status_code == 200 and r.json["result"]["status"] == "voided"
    forms = visit(client, sup, a["id"])["forms"]
    # never reused: the replacement takes the next number; the voided one keeps its reason
    assert [(f["serial"], f["status"], f["void_reason"]) for f in forms] == [
        (f"demo-{year}-00001", "voided", "填写错误 spoiled"), (f"demo-{year}-00003", "signed_out", None)]
    assert client.post(f"/api/v1/visit-forms/{form_id}/void", json={"reason": "again"}, headers=sup).status_code == 409
    assert client.post(f"/api/v1/visit-forms/{form_id}/void", json={"reason": "x"},
                       headers=auth("agent")).status_code == 403


def test_rec01_concurrent_sign_outs_neither_reuse_nor_skip_numbers(flows, app_ctx, client, auth, backend):
    sup = auth("supervisor")
    ids = [start(client, sup, category="help", household=f"9栋-{i}")["id"] for i in range(8)]
    errors = []

    def sign(visit_id):
        with app_ctx.app_context():
            try:
                for _ in range(10):
                    try:
                        service.sign_out_form(db.session.get(Visit, visit_id), "supervisor")
                        return
                    except Exception as err:  # SQLite: "database is locked" under contention; retry
                        db.session.rollback()
                        last = err
                errors.append(last)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=sign, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    db.session.expire_all()
    numbers = sorted(db.session.scalars(select(VisitForm.number)).all())
    assert numbers == list(range(1, 9)), backend


def test_smp08_overlapping_visits_to_one_household_are_offered_for_merging(flows, client, auth):
    sup = auth("supervisor")
    a = start(client, sup, category="help", household="5栋-501")
    b = start(client, sup, category="decoration", household="5栋-501")
    other = start(client, sup, category="help", household="6栋-601")
    for v in (a, b, other):
        _plan(client, sup, v)
    r = client.get("/api/v1/visits/merge-candidates", headers=sup)
    assert [[v["id"] for v in group] for group in r.json["result"]] == [[a["id"], b["id"]]]
    r = client.post("/api/v1/visits/merge", json={"keep": a["id"], "merge": [other["id"]]}, headers=sup)
    assert r.status_code == 422 and r.json["problems"][0]["field"] == "merge"
    r = client.post("/api/v1/visits/merge", json={"keep": a["id"], "merge": [b["id"]]}, headers=sup)
    assert r.status_code == 200, r.json
    merged = visit(client, sup, b["id"])
    assert merged["status"] == "cancelled" and merged["status_reason"] == f"merged into #{a['id']}"
    r = client.get(f"/api/v1/instances/{b['instance_id']}", headers=sup)
    assert r.json["result"]["status"] == "cancelled"
    assert client.get("/api/v1/visits/merge-candidates", headers=sup).json["result"] == []
