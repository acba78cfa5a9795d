"""Intake (首接负责制, SOP_RULES §5.5): record and complete service events, FC-06 routing, masking.

Every entry path (admin form, REST, work-order import) goes through ``validate_event`` and
``announce`` so the rules and the signals are the same whichever way an event came in.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select, update

from workflows import clock, localtime
from workflows.errors import Conflict, InvalidInput, NotFound, Problem
from workflows.localtime import iso

from ...extensions import db
from ...models.intake import CATEGORIES, SEVERITIES, SOURCES, Customer, Household, Project, ServiceEvent
from ...signals import notify, service_event_recorded
from ..policy import effective_policy
from ..records.audit import record

logger = logging.getLogger(__name__)

# FC-06 routing: category → department; MAJOR (重大特殊类) goes to the project head.
ROUTING = {
    "complaint": "customer_service",
    "repair": "engineering",
    "decoration": "engineering",
    "special_service": "service",
    "emergency_patient": "security",  # 公共安全类: emergencies are handled by security management
    "help": "customer_service",
    "publication_event": "customer_service",
    "survey_item": "customer_service",
    "other": "customer_service",
}
# Categories that always concern one household (a community event or a general remark may not).
NEEDS_HOUSEHOLD = {"complaint", "repair", "special_service", "decoration", "emergency_patient"}


def route(category: str, severity: str | None) -> str:
    """FC-06: where a category is dispatched; major/special information goes to the project head."""
    if severity == "MAJOR":
        return "project_head"
    return ROUTING[category]


def file_no(project: Project, building: str, room: str) -> str:
    """RET-09: file no. = property code + building no. + room no."""
    return f"{project.property_code}-{building}-{room}"


# ---------------------------------------------------------------- masking (confidentiality)

def mask_phone(value: str | None) -> str | None:
    """138****5678: keep the first three and last four digits."""
    if not value:
        return value
    if len(value) <= 7:
        return value[:1] + "*" * (len(value) - 1)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_id(value: str | None) -> str | None:
    """1101**********1234: keep the first four and last four characters."""
    if not value:
        return value
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def can_unmask() -> bool:
    """Whether the current user may see full phone and ID numbers (``can_unmask`` on Household)."""
    return bool(current_app.appbuilder.sm.has_access("can_unmask", "Household"))


def record_personal_data_view(customers, where: str) -> None:
    """Issue 5: whenever full phone or ID numbers are shown, the trail says who saw whose (one entry per
    household), committed at once — reading has no transaction of its own to join."""
    by_household: dict[int, list[int]] = {}
    for customer in customers:
        if customer.phone or customer.id_number:
            by_household.setdefault(customer.household_id, []).append(customer.id)
    for household_id, ids in sorted(by_household.items()):
        record("personal_data.viewed", target_type="intake_household", target_id=household_id,
               details={"customers": ids, "where": where})
    if by_household:
        db.session.commit()


def customer_to_dict(customer: Customer, unmask: bool) -> dict:
    return {"id": customer.id, "household_id": customer.household_id, "name": customer.name,
            "role": customer.role,
            "phone": customer.phone if unmask else mask_phone(customer.phone),
            "id_number": customer.id_number if unmask else mask_id(customer.id_number),
            "contact_notes": customer.contact_notes}


def household_to_dict(household: Household, unmask: bool, customers: bool = True) -> dict:
    result = {"id": household.id, "project": household.project.key, "building": household.building,
              "unit": household.unit, "room": household.room, "file_no": household.file_no,
              "key_customer": household.key_customer, "former_customer": household.former_customer}
    if customers:
        result["customers"] = [customer_to_dict(c, unmask) for c in household.customers]
    return result


def event_to_dict(event: ServiceEvent) -> dict:
    return {"id": event.id, "project": event.project.key, "household_id": event.household_id,
            "household": event.household.file_no if event.household else None,
            "category": event.category, "severity": event.severity, "source": event.source,
            "subject": event.subject, "content": event.content, "received_at": iso(event.received_at),
            "received_by": event.received_by, "completed_at": iso(event.completed_at), "status": event.status,
            "routed_to": event.routed_to, "contract_start": iso(event.contract_start),
            "contract_end": iso(event.contract_end), "work_order_no": event.work_order_no,
            "duplicate_of": event.duplicate_of_id, "extra": event.extra or {}}


# ---------------------------------------------------------------- parsing

DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M",
                "%Y/%m/%d", "%Y.%m.%d")


def parse_datetime(value, field: str, problems: list[Problem]) -> datetime | None:
    """ISO 8601 (with or without offset) or the usual spreadsheet forms; naive times are local time."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        text = str(value).strip()
        parsed = None
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            for fmt in DATE_FORMATS:
                try:
                    parsed = datetime.strptime(text, fmt)
                    break
                except ValueError:
                    continue
        if parsed is None:
            problems.append(Problem(f"'{text}' is not a date/time (use 2024-03-05 or 2024-03-05T10:00:00+08:00)",
                                    field=field))
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=localtime.zone())
    return localtime.utc(parsed)


def customer_names(household_ids: set[int]) -> dict[int, str]:
    """The first recorded customer of each household (owners before tenants), for lists and forms."""
    if not household_ids:
        return {}
    names: dict[int, str] = {}
    rows = db.session.execute(select(Customer.household_id, Customer.name)
                              .where(Customer.household_id.in_(household_ids))
                              .order_by(Customer.household_id, Customer.role != "owner", Customer.id))
    for household_id, name in rows:
        names.setdefault(household_id, name)
    return names


def find_project(key) -> Project | None:
    if not key:
        return None
    return db.session.scalar(select(Project).where(Project.key == str(key)))


def resolve_household(project: Project | None, data: dict, problems: list[Problem],
                      field: str = "household") -> Household | None:
    """A household by id, by file number, or by building + room within the project."""
    if data.get("household_id") not in (None, ""):
        try:
            household = db.session.get(Household, int(data["household_id"]))
        except (TypeError, ValueError):
            household = None
        if household is None or (project is not None and household.project_id != project.id):
            problems.append(Problem(f"no household with id {data['household_id']!r}"
                                    + (f" in project {project.key}" if project else ""), field="household_id"))
            return None
        return household
    if data.get("file_no"):
        household = db.session.scalar(select(Household).where(Household.file_no == str(data["file_no"]).strip()))
        if household is None:
            problems.append(Problem(f"no household with file number {data['file_no']!r}", field="file_no"))
        return household
    building, room = data.get("building"), data.get("room")
    if building not in (None, "") and room not in (None, ""):
        if project is None:
            return None  # the project problem is reported already
        building, room = clean_text(building), clean_text(room)
        household = db.session.scalar(select(Household).where(
            Household.project_id == project.id, Household.building == building, Household.room == room))
        if household is None:
            problems.append(Problem(f"no household {building}-{room} in project {project.key}", field=field))
        return household
    return None


def clean_text(value) -> str:
    """Spreadsheet cells give 3.0 for building 3; keep what a person typed."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


# ---------------------------------------------------------------- recording

@dataclass
class EventInput:
    project: Project
    household: Household | None
    values: dict


def validate_event(data: dict) -> EventInput:
    """Check an intake payload; raise InvalidInput naming every bad field, change nothing."""
    problems: list[Problem] = []
    project = find_project(data.get("project"))
    household_given = any(data.get(k) not in (None, "") for k in ("household_id", "file_no", "building", "room"))
    if project is None and data.get("project"):
        problems.append(Problem(f"no project with key {data['project']!r}", field="project"))
    household = resolve_household(project, data, problems) if household_given else None
    if project is None and household is not None:
        project = household.project
    if project is None and not data.get("project"):
        problems.append(Problem("project is required (its key), unless household_id is given", field="project"))

    category = data.get("category")
    if category not in CATEGORIES:
        problems.append(Problem(f"category must be one of {', '.join(CATEGORIES)}", field="category"))
    severity = data.get("severity") or None
    if category == "complaint":
        # AMB-25: every complaint carries a severity (MAJOR/IMPORTANT/MINOR).
        if severity not in SEVERITIES:
            problems.append(Problem(f"a complaint needs severity {', '.join(SEVERITIES)}", field="severity"))
    elif severity is not None:
        problems.append(Problem("severity applies to complaints only", field="severity"))
    if category in NEEDS_HOUSEHOLD and household is None and not household_given:
        problems.append(Problem(f"a {category} event needs a household (household_id, file_no or building+room)",
                                field="household"))
    source = data.get("source") or "a"
    if source not in SOURCES:
        problems.append(Problem("source must be one of a–g (FC-02)", field="source"))
    content = data.get("content")
    if not isinstance(content, str) or not content.strip():
        problems.append(Problem("content is required", field="content"))
    subject = data.get("subject")
    if subject is not None and (not isinstance(subject, str) or len(subject) > 100):
        problems.append(Problem("subject must be text of at most 100 characters", field="subject"))
    extra = data.get("extra")
    if extra is not None and not isinstance(extra, dict):
        problems.append(Problem("extra must be an object", field="extra"))
    received_at = parse_datetime(data.get("received_at"), "received_at", problems) or clock.now()
    contract_start = parse_datetime(data.get("contract_start"), "contract_start", problems)
    contract_end = parse_datetime(data.get("contract_end"), "contract_end", problems)
    if category == "special_service":
        # CAT-SP-01: mid-term and end visits are computed from the contract period.
        if contract_start is None and not any(p.field == "contract_start" for p in problems):
            problems.append(Problem("a special-service contract needs contract_start", field="contract_start"))
        if contract_end is None and not any(p.field == "contract_end" for p in problems):
            problems.append(Problem("a special-service contract needs contract_end", field="contract_end"))
        if contract_start and contract_end and contract_end <= contract_start:
            problems.append(Problem("contract_end must be after contract_start", field="contract_end"))
    if problems:
        raise InvalidInput(problems)
    return EventInput(project, household, {
        "category": category, "severity": severity, "source": source, "subject": subject or None,
        "content": content.strip(), "received_at": received_at, "contract_start": contract_start,
        "contract_end": contract_end, "work_order_no": data.get("work_order_no") or None, "extra": extra or {},
    })


def build_event(checked: EventInput, received_by: str) -> ServiceEvent:
    values = checked.values
    return ServiceEvent(project=checked.project, household=checked.household, received_by=received_by,
                        status="received", routed_to=route(values["category"], values["severity"]), **values)


OPEN_EVENT_STATUSES = ("received", "dispatched", "in_progress")


def open_case_of_same_matter(event: ServiceEvent) -> ServiceEvent | None:
    """AMB-34: the open event of the same matter — same household, category and subject tag — that a new
    report (another channel, another department) belongs to. Without a subject tag nothing is the same matter."""
    if not event.subject or event.household is None:
        return None
    return db.session.scalar(select(ServiceEvent).where(
        ServiceEvent.household_id == event.household.id, ServiceEvent.category == event.category,
        ServiceEvent.subject == event.subject, ServiceEvent.status.in_(OPEN_EVENT_STATUSES),
        ServiceEvent.duplicate_of_id.is_(None)).order_by(ServiceEvent.id).limit(1))


def record_event(data: dict, received_by: str) -> ServiceEvent:
    """Validate, store and announce one service event (one transaction). A second report of an open
    matter (AMB-34) is kept, marked as a duplicate of that case, and starts nothing of its own."""
    event = build_event(validate_event(data), received_by)
    case = open_case_of_same_matter(event)
    if case is not None:
        event.duplicate_of_id, event.status = case.id, "duplicate"
    else:
        count_repeats(event)
    db.session.add(event)
    db.session.commit()
    if case is not None:
        return event
    event = announce(event, recorded=True)
    _announce_repeat(event)
    return event


def count_repeats(event: ServiceEvent) -> None:
    """FLOW-17/AMB-34: the how-many-th case of its matter (same household, category and subject tag) this
    event is, kept in ``extra.repeat_count`` for the period statistics; second reports of an open case
    (duplicates) are not new cases and do not count."""
    if not event.subject or event.household is None:
        return
    earlier = db.session.scalar(select(func.count(ServiceEvent.id)).where(
        ServiceEvent.household_id == event.household.id, ServiceEvent.category == event.category,
        ServiceEvent.subject == event.subject, ServiceEvent.duplicate_of_id.is_(None))) or 0
    if earlier:
        event.extra = {**(event.extra or {}), "repeat_count": earlier + 1}


def repeat_threshold(event: ServiceEvent) -> int | None:
    """The profile's repeat threshold for the event's category (P000-2: complaints ≥2, repairs ≥3; "以上" is
    inclusive, FLOW-17), None when the profile sets none."""
    thresholds = (effective_policy(event.project.key).get("params") or {}).get("repeat_thresholds") or {}
    return thresholds.get(event.category)


def _announce_repeat(event: ServiceEvent) -> None:
    """A matter reported again as often as the profile's threshold is told to the supervisors and the project
    head at once (FLOW-17: special attention, analysis, CAPA) instead of waiting for the period statistics."""
    count = (event.extra or {}).get("repeat_count")
    threshold = repeat_threshold(event) if count else None
    if not threshold or count < threshold:
        return
    where = event.household.file_no if event.household else event.project.name
    notify.send(current_app._get_current_object(), recipients=[], roles=["Supervisor", "Manager"],
                subject=f"重复{'投诉' if event.category == 'complaint' else '报修'} Repeated {event.category}: "
                        f"{event.subject} ×{count} ({where})",
                body=event.content, link=f"/serviceeventview/show/{event.id}")


def complete_event(event_id: int, completed_at=None) -> ServiceEvent:
    """A repair was completed / a complaint closed: the trigger of the follow-up visit."""
    event = db.session.get(ServiceEvent, event_id)
    if event is None:
        raise NotFound(f"no service event {event_id}")
    if event.status in ("completed", "closed"):
        raise Conflict(f"service event {event_id} is already {event.status}")
    if event.duplicate_of_id is not None:
        raise Conflict(f"service event {event_id} is a second report of #{event.duplicate_of_id} (AMB-34); "
                       f"complete that case")
    problems: list[Problem] = []
    at = parse_datetime(completed_at, "completed_at", problems) or clock.now()
    if not problems and at < event.received_at:
        problems.append(Problem("completed_at is before the event was received", field="completed_at"))
    if problems:
        raise InvalidInput(problems)
    event.completed_at = at
    event.status = "closed" if event.category == "complaint" else "completed"
    # its second reports (AMB-34) are done with it; they start no visits of their own
    db.session.execute(update(ServiceEvent).where(ServiceEvent.duplicate_of_id == event.id)
                       .values(status=event.status, completed_at=at))
    db.session.commit()
    return announce(event)


def announce(event: ServiceEvent, recorded: bool = False) -> ServiceEvent:
    """After commit: tell the flows; FC-04/ROLE-02: a MAJOR complaint is reported to supervisor and head."""
    app = current_app._get_current_object()
    event_id = event.id
    try:
        service_event_recorded.send(app, event=event)
    except Exception as err:  # noqa: BLE001 - the event is committed; a failing follow-up must not hide that
        # The intake stands (it was committed); the failure is logged and kept on the event for a person to see.
        # The receiver may have left the session broken or the object detached: start clean, load afresh.
        logger.exception("follow-up for service event %s failed", event_id)
        db.session.rollback()
        event = db.session.get(ServiceEvent, event_id, populate_existing=True)
        event.extra = {**(event.extra or {}), "follow_up_error": f"{type(err).__name__}: {err}"[:500]}
        db.session.commit()
    if recorded and event.category == "complaint" and event.severity == "MAJOR":
        where = event.household.file_no if event.household else event.project.name
        notify.send(app, recipients=[], roles=["Supervisor", "Manager"],
                    subject=f"重大投诉 Major complaint #{event.id} ({where})",
                    body=event.content, link=f"/serviceeventview/show/{event.id}")
    return event  # the caller's object may have been detached by a failing receiver: use this one


# ---------------------------------------------------------------- households

def create_household(data: dict) -> Household:
    problems: list[Problem] = []
    project = find_project(data.get("project"))
    if project is None:
        problems.append(Problem(f"no project with key {data.get('project')!r}", field="project"))
    for field in ("building", "room"):
        if data.get(field) in (None, ""):
            problems.append(Problem(f"{field} is required", field=field))
    if not problems:
        building, room = clean_text(data["building"]), clean_text(data["room"])
        exists = db.session.scalar(select(Household).where(
            Household.project_id == project.id, Household.building == building, Household.room == room))
        if exists:
            problems.append(Problem(f"household {building}-{room} exists already (id {exists.id})", field="room"))
    if problems:
        raise InvalidInput(problems)
    household = Household(project=project, building=building, room=room, unit=data.get("unit") or None,
                          file_no=file_no(project, building, room), key_customer=bool(data.get("key_customer")),
                          former_customer=bool(data.get("former_customer")))
    db.session.add(household)
    db.session.commit()
    return household


def create_customer(data: dict) -> Customer:
    problems: list[Problem] = []
    household = resolve_household(None, data, problems)
    if household is None and not problems:
        problems.append(Problem("household_id is required", field="household_id"))
    if not isinstance(data.get("name"), str) or not data["name"].strip():
        problems.append(Problem("name is required", field="name"))
    role = data.get("role") or "owner"
    if role not in ("owner", "tenant", "other"):
        problems.append(Problem("role must be owner, tenant or other", field="role"))
    if problems:
        raise InvalidInput(problems)
    customer = Customer(household=household, name=data["name"].strip(), role=role, phone=data.get("phone") or None,
                        id_number=data.get("id_number") or None, contact_notes=data.get("contact_notes") or None)
    db.session.add(customer)
    db.session.commit()
    return customer


# ---------------------------------------------------------------- demo

DEMO_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
DEMO_GIVEN = ["伟", "芳", "娜", "敏", "静", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明", "超", "秀英"]


def ensure_demo_project() -> Project:
    """翠苑小区 Cuiyuan Garden: 4 buildings × 3 floors × 2 rooms, one owner each (idempotent)."""
    project = find_project("cuiyuan")
    if project is None:
        project = Project(key="cuiyuan", name="翠苑小区 Cuiyuan Garden", property_type="residential",
                          property_code="CY", policy_profile="P000-3")
        db.session.add(project)
        db.session.flush()
    existing = {(h.building, h.room) for h in project.households}
    n = 0
    for building in ("1", "2", "3", "5"):  # no building 4 (四 sounds like 死): a realistic gap
        for floor in (1, 2, 3):
            for door in (1, 2):
                room = f"{floor}0{door}"
                n += 1
                if (building, room) in existing:
                    continue
                household = Household(project=project, building=building, unit="1", room=room,
                                      file_no=file_no(project, building, room), key_customer=(n % 11 == 0))
                name = DEMO_SURNAMES[n % len(DEMO_SURNAMES)] + DEMO_GIVEN[n % len(DEMO_GIVEN)]
                household.customers.append(Customer(
                    name=name, role="owner" if n % 5 else "tenant", phone=f"13{n % 10}{n:04d}{5678 + n:04d}",
                    id_number=f"110101{1960 + n}{n % 12 + 1:02d}{n % 28 + 1:02d}{n:03d}X"))
                db.session.add(household)
    db.session.commit()
    return project


def demo_received_at(days_ago: int, hour: int = 10) -> datetime:
    return localtime.local(clock.now() - timedelta(days=days_ago)).replace(hour=hour, minute=0, second=0,
                                                                          microsecond=0)
