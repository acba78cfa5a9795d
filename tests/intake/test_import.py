"""Work-order (派工单, REC-12) import: every bad row reported, all-or-nothing unless partial."""
from __future__ import annotations

import io

from openpyxl import Workbook

from app.extensions import db
from app.models.intake import ServiceEvent, WorkOrder

HEADER = ["工单号", "类别", "楼栋", "房号", "完成时间", "维修人员", "内容"]
GOOD = [
    ["WO-001", "维修", "1", "101", "2024-03-05 16:00", "老王", "换灯泡"],
    ["WO-002", "repair", "2", "202", "2024/03/06 09:30", "老李", "疏通下水道"],
    ["WO-003", "装修", "3", "301", "2024-03-07", "", "装修验收"],
]


def xlsx(rows) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_bytes(rows, encoding: str) -> bytes:
    text = "\n".join(",".join(str(c) for c in row) for row in rows) + "\n"
    return text.encode(encoding)


def upload(client, headers, content: bytes, name: str, query: str = ""):
    return client.post(f"/api/v1/work-orders/import?project=cuiyuan{query}", headers=headers,
                       data={"file": (io.BytesIO(content), name)}, content_type="multipart/form-data")


def test_good_xlsx_imports_every_row_and_announces_each(client, auth, project, signals):
    response = upload(client, auth("agent"), xlsx([HEADER, *GOOD]), "orders.xlsx")
    assert response.status_code == 200, response.json
    assert response.json["total"] == 3 and response.json["imported"] == 3 and response.json["errors"] == []
    orders = db.session.query(WorkOrder).order_by(WorkOrder.number).all()
    assert [o.number for o in orders] == ["WO-001", "WO-002", "WO-003"]
    assert orders[0].household.file_no == "CY-1-101" and orders[0].assigned_staff == "老王"
    assert [o.service_type for o in orders] == ["repair", "repair", "decoration"]
    events = db.session.query(ServiceEvent).all()
    assert {e.status for e in events} == {"completed"}
    assert {e.work_order_no for e in events} == {"WO-001", "WO-002", "WO-003"}
    assert sorted(signals["recorded"]) == sorted((e.id, "completed") for e in events)


def test_one_bad_row_imports_nothing_and_lists_every_bad_row(client, auth, project, signals):
    db.session.add(WorkOrder(project=project, number="WO-OLD", service_type="repair",
                             household=project.households[0]))
    db.session.commit()
    rows = [HEADER, *GOOD,
            ["WO-001", "维修", "1", "102", "2024-03-05", "", ""],  # row 5: duplicate in the file
            ["WO-OLD", "维修", "1", "102", "2024-03-05", "", ""],  # row 6: already in the database
            ["WO-007", "洗车", "1", "102", "2024-03-05", "", ""],  # row 7: unknown category
            ["WO-008", "维修", "9", "909", "2024-03-05", "", ""],  # row 8: no such household
            ["WO-009", "维修", "1", "102", "next tuesday", "", ""],  # row 9: bad date
            ["", "维修", "1", "102", "2024-03-05", "", ""]]  # row 10: no number
    response = upload(client, auth("agent"), xlsx(rows), "orders.xlsx")
    assert response.status_code == 422, response.json
    body = response.json
    assert body["committed"] is False and body["imported"] == 0 and body["bad"] == 6
    by_row = {(e["row"], e["field"]) for e in body["errors"]}
    assert by_row == {(5, "number"), (6, "number"), (7, "category"), (8, "room"), (9, "completed_at"),
                      (10, "number")}
    assert "row 2" in next(e["message"] for e in body["errors"] if e["row"] == 5)
    assert db.session.query(WorkOrder).count() == 1  # only the pre-existing order
    assert db.session.query(ServiceEvent).count() == 0
    assert signals["recorded"] == []


def test_partial_imports_only_the_good_rows(client, auth, project, signals):
    rows = [HEADER, GOOD[0], ["WO-X", "维修", "9", "909", "2024-03-05", "", ""], GOOD[1]]
    response = upload(client, auth("agent"), xlsx(rows), "orders.xlsx", "&partial=true")
    assert response.status_code == 200, response.json
    assert response.json["imported"] == 2 and response.json["bad"] == 1
    assert response.json["errors"][0]["row"] == 3
    assert sorted(o.number for o in db.session.query(WorkOrder)) == ["WO-001", "WO-002"]
    assert len(signals["recorded"]) == 2


def test_csv_in_gbk_and_utf8_with_bom(client, auth, project):
    gbk = upload(client, auth("agent"), csv_bytes([HEADER, GOOD[0]], "gbk"), "orders.csv")
    assert gbk.status_code == 200, gbk.json
    bom = upload(client, auth("agent"), csv_bytes([HEADER, GOOD[1]], "utf-8-sig"), "orders.csv")
    assert bom.status_code == 200, bom.json
    plain = upload(client, auth("agent"), csv_bytes([HEADER, GOOD[2]], "utf-8"), "orders.csv")
    assert plain.status_code == 200, plain.json
    orders = {o.number: o for o in db.session.query(WorkOrder)}
    assert set(orders) == {"WO-001", "WO-002", "WO-003"}
    assert orders["WO-001"].assigned_staff == "老王"  # GBK decoded correctly
    assert orders["WO-002"].assigned_staff == "老李"


def test_unreadable_files_name_the_problem(client, auth, project):
    wrong_type = upload(client, auth("agent"), b"hello", "orders.txt")
    assert wrong_type.status_code == 422 and wrong_type.json["problems"][0]["field"] == "file"
    missing = upload(client, auth("agent"), csv_bytes([["工单号", "楼栋"], ["1", "1"]], "utf-8"), "o.csv")
    assert "category" in missing.json["problems"][0]["message"]
    assert client.post("/api/v1/work-orders/import", headers=auth("agent")).status_code == 422
    assert upload(client, auth("auditor"), xlsx([HEADER, *GOOD]), "orders.xlsx").status_code == 403
    assert db.session.query(WorkOrder).count() == 0


def test_upload_page_reports_rows(app_ctx, project):
    from .conftest import browser_login

    client = browser_login(app_ctx.test_client(), "agent")
    page = client.get("/work-orders/import/")
    assert page.status_code == 200 and "cuiyuan" in page.get_data(as_text=True)
    bad = client.post("/work-orders/import/", data={
        "project": "cuiyuan", "file": (io.BytesIO(xlsx([HEADER, GOOD[0], ["WO-9", "维修", "9", "909", "", "", ""]])),
                                       "o.xlsx")}, content_type="multipart/form-data")
    html = bad.get_data(as_text=True)
    assert 'id="import-errors"' in html and "no household 9-909" in html
    assert db.session.query(WorkOrder).count() == 0
    good = client.post("/work-orders/import/", data={
        "project": "cuiyuan", "partial": "1",
        "file": (io.BytesIO(xlsx([HEADER, GOOD[0], ["WO-9", "维修", "9", "909", "", "", ""]])), "o.xlsx")},
        content_type="multipart/form-data")
    assert 'id="import-result"' in good.get_data(as_text=True)
    assert [o.number for o in db.session.query(WorkOrder)] == ["WO-001"]
