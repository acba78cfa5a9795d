"""Import of work orders (派工单, REC-12) from .xlsx or .csv.

Every row is checked before anything is written; all bad rows are reported with their row number
(as a spreadsheet shows it: the header is row 1) and reason. With any bad row nothing is imported,
unless the caller asked for ``partial`` — then the good rows are imported. Either way the write is
one transaction, and the signals go out only after it committed.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from openpyxl import load_workbook
from sqlalchemy import select

from workflows import clock
from workflows.errors import Problem

from ...extensions import db
from ...models.intake import CATEGORIES, SEVERITIES, Project, ServiceEvent, WorkOrder
from .events import announce, clean_text, parse_datetime, resolve_household, route

# Column header (English or as Chinese staff write them) → field.
HEADERS = {
    "number": "number", "work_order_no": "number", "工单号": "number", "派工单号": "number", "编号": "number",
    "category": "category", "service_type": "category", "类别": "category", "服务类型": "category",
    "building": "building", "楼栋": "building", "楼号": "building",
    "room": "room", "房号": "room", "房间": "room",
    "file_no": "file_no", "档案号": "file_no",
    "assigned_staff": "assigned_staff", "staff": "assigned_staff", "派工人员": "assigned_staff",
    "维修人员": "assigned_staff",
    "received_at": "received_at", "受理时间": "received_at",
    "completed_at": "completed_at", "完成时间": "completed_at",
    "content": "content", "内容": "content",
    "subject": "subject", "主题": "subject",
    "severity": "severity", "严重程度": "severity",
}
REQUIRED = ["number", "category"]
# Category cells as Chinese staff write them.
CATEGORY_NAMES = {"投诉": "complaint", "维修": "repair", "报修": "repair", "特约服务": "special_service",
                  "求助": "help", "急病": "emergency_patient", "宣传活动": "publication_event", "社区活动": "publication_event",
                  "装修": "decoration", "调查": "survey_item", "其他": "other"}
SEVERITY_NAMES = {"重大": "MAJOR", "重要": "IMPORTANT", "一般": "MINOR"}


class ImportFileError(Exception):
    """The file as a whole cannot be read (wrong type, no header, missing columns)."""


@dataclass
class ImportResult:
    total: int = 0
    imported: int = 0
    errors: list[dict] = field(default_factory=list)
    committed: bool = False
    events: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"total": self.total, "imported": self.imported, "bad": len({e["row"] for e in self.errors}),
                "committed": self.committed, "errors": self.errors}


def read_rows(filename: str, content: bytes) -> list[tuple[int, dict]]:
    """(row number, {field: value}) for every non-empty data row."""
    name = (filename or "").lower()
    if name.endswith(".xlsx"):
        table = _xlsx_rows(content)
    elif name.endswith(".csv"):
        table = list(csv.reader(io.StringIO(_decode(content))))
    else:
        raise ImportFileError("the file must be .xlsx or .csv")
    if not table or not any(str(c or "").strip() for c in table[0]):
        raise ImportFileError("the file has no header row")
    columns = []
    unknown = []
    for cell in table[0]:
        text = str(cell or "").strip()
        columns.append(HEADERS.get(text) or HEADERS.get(text.lower()))
        if text and columns[-1] is None:
            unknown.append(text)
    if unknown:
        raise ImportFileError(f"unknown column(s): {', '.join(unknown)}")
    missing = [c for c in REQUIRED if c not in columns]
    if "file_no" not in columns and not {"building", "room"} <= set(columns):
        missing.append("building+room or file_no")
    if missing:
        raise ImportFileError(f"missing column(s): {', '.join(missing)}")
    rows = []
    for index, cells in enumerate(table[1:], start=2):
        if not any(str(c).strip() for c in cells if c is not None):
            continue
        rows.append((index, {col: cells[i] if i < len(cells) else None for i, col in enumerate(columns) if col}))
    return rows


def _decode(content: bytes) -> str:
    """UTF-8 (with or without BOM, as Excel writes it) or GBK (as Chinese Excel saves CSV)."""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return content.decode("gbk")
        except UnicodeDecodeError:
            raise ImportFileError("the CSV file is neither UTF-8 nor GBK text") from None


def _xlsx_rows(content: bytes) -> list[list]:
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as err:  # openpyxl raises several types for a damaged file
        raise ImportFileError(f"the .xlsx file cannot be read: {err}") from None
    sheet = book.worksheets[0]
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def import_work_orders(project: Project | None, filename: str, content: bytes, *, partial: bool,
                       actor: str) -> ImportResult:
    rows = read_rows(filename, content)
    result = ImportResult(total=len(rows))
    existing = set(db.session.scalars(select(WorkOrder.number).where(WorkOrder.project_id == project.id)))
    seen: dict[str, int] = {}
    good = []
    for row_no, values in rows:
        problems = _check_row(project, values, existing, seen, row_no)
        if problems:
            result.errors += [{"row": row_no, "field": p.field, "message": p.message} for p in problems]
        else:
            good.append((row_no, values))
    if result.errors and not partial:
        return result
    for _row_no, values in good:
        result.events.append(_add(project, values, actor))
    db.session.commit()
    result.committed = True
    result.imported = len(good)
    # By id: a failing receiver may roll the session back, which must not cost the other events their signal.
    for event_id in [event.id for event in result.events]:
        announce(db.session.get(ServiceEvent, event_id), recorded=True)
    return result


def _check_row(project, values, existing, seen, row_no) -> list[Problem]:
    problems: list[Problem] = []
    number = clean_text(values.get("number")) if values.get("number") not in (None, "") else ""
    if not number:
        problems.append(Problem("the work order number is missing", field="number"))
    elif number in seen:
        problems.append(Problem(f"work order {number} appears twice (also row {seen[number]})", field="number"))
    elif number in existing:
        problems.append(Problem(f"work order {number} was imported already", field="number"))
    if number and number not in seen:
        seen[number] = row_no
    category = str(values.get("category") or "").strip()
    category = CATEGORY_NAMES.get(category, category.lower())
    if category not in CATEGORIES:
        problems.append(Problem(f"unknown category '{values.get('category') or ''}'", field="category"))
    severity = str(values.get("severity") or "").strip()
    severity = SEVERITY_NAMES.get(severity, severity.upper()) or None
    if category == "complaint" and severity not in SEVERITIES:
        problems.append(Problem("a complaint needs severity MAJOR/IMPORTANT/MINOR (重大/重要/一般)", field="severity"))
    has_place = values.get("file_no") not in (None, "") or (
        values.get("building") not in (None, "") and values.get("room") not in (None, ""))
    household = resolve_household(project, values, problems, field="room") if has_place else None
    if not has_place:
        problems.append(Problem("building and room (or file_no) are required", field="room"))
    received_at = parse_datetime(values.get("received_at"), "received_at", problems)
    completed_at = parse_datetime(values.get("completed_at"), "completed_at", problems)
    if received_at and completed_at and completed_at < received_at:
        problems.append(Problem("completed_at is before received_at", field="completed_at"))
    values.update(number=number, category=category, severity=severity if category == "complaint" else None,
                  household=household, received_at=received_at or completed_at, completed_at=completed_at)
    return problems


def _add(project: Project, values: dict, actor: str) -> ServiceEvent:
    completed = values["completed_at"] is not None
    event = ServiceEvent(
        project=project, household=values["household"], category=values["category"], severity=values["severity"],
        source="b", subject=(str(values["subject"]).strip() if values.get("subject") else None),
        content=str(values.get("content") or f"派工单 {values['number']}").strip(),
        received_at=values["received_at"] or clock.now(), received_by=actor,
        completed_at=values["completed_at"],
        status=("closed" if values["category"] == "complaint" else "completed") if completed else "dispatched",
        routed_to=route(values["category"], values["severity"]), work_order_no=values["number"], extra={})
    order = WorkOrder(project=project, number=values["number"], service_type=values["category"],
                      household=values["household"], completed_at=values["completed_at"], service_event=event,
                      assigned_staff=(str(values["assigned_staff"]).strip() if values.get("assigned_staff") else None))
    db.session.add_all([event, order])
    return event
