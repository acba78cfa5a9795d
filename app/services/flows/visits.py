"""Follow-up visits on the web side: start the right flow for a service event, keep Visit rows in
sync with task completions, sign out serially numbered 回访记录表, merge overlapping visits (which
repairs are visited at all is repair_sampling.py).

The BPMN flows know nothing of the database; everything here runs in the web layer after (or
around) an engine call. Policy numbers come from POLICY (``app.services.policy.effective_policy``
and ``workflows.policy``) — this module never restates them.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from workflows import clock, localtime, policy as policy_rules
from workflows.actor import Actor
from workflows.engine import running_instance_id
from workflows.errors import Conflict, InvalidInput, NotFound, Problem
from workflows.localtime import iso, utc
from workflows.models import HumanTask
from workflows.policy.reporting import period_containing

from ... import signals
from ...extensions import db
from ...models.intake import ServiceEvent
from ...models.stats import VisitTheme
from ...models.visit import Visit, VisitForm, VisitSerial
from ..engine import get_engine
from ..intake.events import OPEN_EVENT_STATUSES, complete_event
from ..policy import effective_policy
from ..records import shredding

SYSTEM = Actor("system", frozenset({"Supervisor"}))
# The flows whose instances carry a Visit row (started by start_visit).
VISIT_PROCESSES = ("followup_visit", "complaint_case", "repair_followup")
OPEN_STATUSES = ("planned", "in_progress", "review")
# Categories visited through followup_visit once the service is completed (§2); complaints go through
# complaint_case first, repairs through the monthly sample (SMP-01/02).
VISIT_CATEGORIES = {"special_service", "help", "emergency_patient", "publication_event", "decoration",
                    "survey_item", "other"}


# ---------------------------------------------------------------- links in notifications

def visit_link(visit: Visit) -> str:
    """The visit's page (FAB's show view of VisitView)."""
    return f"/visits/show/{visit.id}"


def open_task_link(instance_id: int | None, bpmn_id: str) -> str | None:
    """The inbox page of the instance's open task ``bpmn_id``, if there is one."""
    task_id = db.session.scalar(select(HumanTask.id).where(HumanTask.instance_id == instance_id,
                                                         HumanTask.bpmn_id == bpmn_id).limit(1))
    return f"/inbox/task/{task_id}" if task_id else None


def flow_notify(users=None, roles=None, subject: str = "", body: str = "", task: str | None = None) -> None:
    """``notify(...)`` in BPMN scripts (FLOW-04 due-soon reminders, overdue escalation): in-app and e-mail
    notifications that commit or roll back with the engine step. ``task`` names the instance's open task
    to link to; otherwise the link is the visit's page."""
    instance_id = running_instance_id()
    visit = db.session.scalar(select(Visit).where(Visit.instance_id == instance_id)) if instance_id else None
    link = (open_task_link(instance_id, task) if task else None) or (visit_link(visit) if visit else None)
    signals.notify.send(current_app._get_current_object(), recipients=[users] if isinstance(users, str) else users,
                        roles=[roles] if isinstance(roles, str) else roles, subject=subject, body=body, link=link,
                        kind="reminder", in_transaction=True)


# ---------------------------------------------------------------- starting flows

def _quarter_theme(project: str | None, at: datetime) -> str | None:
    """GOV-01: the theme published for the quarter of ``at`` (the project's own, else the company's)."""
    quarter = period_containing(at, "quarter", localtime.zone()).label
    rows = dict(db.session.execute(select(VisitTheme.scope, VisitTheme.theme).where(
        VisitTheme.quarter == quarter, VisitTheme.scope.in_([project or "", "company"]))).all())
    return rows.get(project or "") or rows.get("company")


def start_visit(category: str, *, project: str | None, household: str | None, household_id: int | None = None,
                service_event_id: int | None = None, severity: str | None = None, trigger: datetime | None = None,
                process: str = "followup_visit", actor: Actor = SYSTEM, extra: dict | None = None,
                window: tuple[datetime, datetime] | None = None, team: str | None = None,
                market_team: str | None = None) -> Visit:
    """Start a flow for one visit and record its Visit row (status planned). ``window`` replaces the
    profile's window for the category (the mid-term visit of a contract, AMB-19)."""
    trigger = trigger or clock.now()
    policy = effective_policy(project) if project else {"params": {}, "profile_version_id": None}
    data = {"service_event_id": service_event_id, "project": project, "household": household or "",
            "category": category, "severity": severity, "trigger": trigger.isoformat(),
            "policy": policy.get("params") or {}, "profile_version_id": policy.get("profile_version_id")}
    opens = due = None
    if policy.get("params"):
        if process == "complaint_case":
            explained = policy_rules.explain(policy["params"], category, trigger, severity=severity)
            data["reply_due"], data["resolve_due"] = explained.get("reply_due"), explained.get("resolve_due")
        else:
            try:
                opens, due = policy_rules.visit_window(policy["params"], category, trigger)
                data["policy_due"] = due.isoformat()
                # §1.2: who visits and how, by category/severity and profile, for the planner to follow
                explained = policy_rules.explain(policy["params"], category, trigger, severity=severity)
                data["visitor_role"] = explained.get("visitor_role")
                data["allowed_methods"] = explained.get("allowed_methods")
            except policy_rules.PolicyError:
                opens = due = None  # the profile sets no window for this category: the planner's applies
    if window is not None:
        opens, due = window
        data["policy_due"] = due.isoformat()
    data.update(extra or {})
    theme = _quarter_theme(project, trigger)
    if theme and "theme" not in data:
        data["theme"] = theme  # GOV-01: the quarter's theme is part of every visit's content
    engine = get_engine()
    now = clock.now()
    visit = Visit(category=category, project_key=project, household=household, household_id=household_id,
                  service_event_id=service_event_id, severity=severity, window_opens=utc(opens), due_at=utc(due),
                  profile_version_id=policy.get("profile_version_id"), process_key=process,
                  instance_id=None, status="planned", revisits=0, created_at=now, updated_at=now,
                  trigger_at=utc(trigger), team=team, market_team=market_team)
    if process == "complaint_case":  # §5.2 (KPI-15): the reply deadline; due_at is the resolve deadline
        visit.reply_due, visit.due_at = utc(data.get("reply_due")), utc(data.get("resolve_due"))
    db.session.add(visit)
    # The visit exists (flushed, not committed) before its flow: the flow's first event quotes the household,
    # sealed under the visit's trail key; the engine's commit links and commits both (crypto-shredding).
    db.session.flush()
    with shredding.starting(visit):
        instance = engine.start(process, actor, data, business_key=household)
    visit.instance_id = instance.id
    db.session.commit()
    return visit


def start_for_event(event) -> list[Visit]:
    """The flows a recorded service event needs (SOP §2); nothing twice for one event."""
    already = db.session.scalars(select(Visit.process_key).where(Visit.service_event_id == event.id)).all()
    project = event.project.key if getattr(event, "project", None) else None
    household = event.household.label if getattr(event, "household", None) else None
    extra = event.extra or {}
    # the responsible unit: the event's team (P001-S business unit) or its FC-06 routing department
    common = dict(project=project, household=household, household_id=event.household_id,
                  service_event_id=event.id, severity=event.severity,
                  team=extra.get("team") or getattr(event, "routed_to", None), market_team=extra.get("market_team"))
    started = []
    if event.category == "complaint":
        if "complaint_case" not in already and event.status in ("received", "dispatched", "in_progress"):
            started.append(start_visit("complaint", process="complaint_case", trigger=utc(event.received_at),
                                       **common))
    elif event.category in VISIT_CATEGORIES and event.status in ("completed", "closed") and not already:
        if event.category == "special_service" and event.contract_start and event.contract_end:
            # CAT-SP-01/AMB-19: a mid-term visit (midpoint ± the profile's half width) and an end visit
            # (the category's window after the contract ends); profiles without a mid-term (P000-6): end only.
            start, end = utc(event.contract_start), utc(event.contract_end)
            mid = _mid_term_window(project, start + (end - start) / 2)
            if mid is not None:
                started.append(start_visit(event.category, trigger=start + (end - start) / 2, window=mid,
                                           extra={"stage": "mid"}, **common))
            started.append(start_visit(event.category, trigger=end, extra={"stage": "end"}, **common))
        else:
            started.append(start_visit(event.category, trigger=utc(event.completed_at) or clock.now(), **common))
    return started


def _mid_term_window(project: str | None, midpoint: datetime) -> tuple[datetime, datetime] | None:
    """AMB-19: [midpoint − w, midpoint + w] in whole local days, w from the profile (7 days by default);
    None when the profile has no mid-term visit."""
    params = effective_policy(project).get("params") if project else None
    if not params:
        return _days_around(midpoint, 7)
    mid = (params.get("categories", {}).get("special_service") or {}).get("mid_term_visit")
    if not mid:
        return None
    return _days_around(midpoint, mid["half_width"]["n"])


def _days_around(moment: datetime, days: int) -> tuple[datetime, datetime]:
    day = localtime.local_date(moment)
    return localtime.day_start(day - timedelta(days=days)), localtime.day_end(day + timedelta(days=days))


def on_service_event_recorded(sender, event=None, **_kwargs):
    """INTAKE committed the event before sending; if a flow fails to start, INTAKE's ``announce``
    logs it and keeps the error on the event (extra.follow_up_error) for a person to follow up."""
    if event is not None:
        start_for_event(event)


def connect_signals() -> None:
    signals.service_event_recorded.connect(on_service_event_recorded, weak=False)


# ---------------------------------------------------------------- serial numbers (FLOW-03, REC-01)

def sign_out_form(visit: Visit, username: str) -> VisitForm:
    """Issue the next 回访记录表 number of the visit's project and year.

    The counter row is incremented with one UPDATE (which holds its row lock until commit on
    PostgreSQL and the database write lock on SQLite), and the form is inserted in the same
    transaction: numbers are neither reused nor skipped, even under concurrent sign-outs.
    """
    now = clock.now()
    project, year = visit.project_key or "default", localtime.local(now).year
    for _attempt in range(5):
        bumped = db.session.execute(
            update(VisitSerial).where(VisitSerial.project_key == project, VisitSerial.year == year)
            .values(last_number=VisitSerial.last_number + 1)).rowcount
        if not bumped:
            try:
                with db.session.begin_nested():
                    db.session.add(VisitSerial(project_key=project, year=year, last_number=1))
            except IntegrityError:
                continue  # another sign-out created the counter first; increment it
        number = db.session.scalar(select(VisitSerial.last_number).where(
            VisitSerial.project_key == project, VisitSerial.year == year))
        serial = f"{project}-{year}-{number:05d}"
        form = VisitForm(visit_id=visit.id, project_key=project, year=year, number=number, serial=serial,
                         signed_out_by=username, signed_out_at=now, status="signed_out")
        db.session.add(form)
        visit.serial = serial
        db.session.commit()
        return form
    raise Conflict("could not allocate a visit form number; try again")


def void_form(form_id: int, username: str, reason: str) -> VisitForm:
    """A voided form stays on record with its reason; the visit gets a fresh number."""
    if not (reason or "").strip():
        raise InvalidInput(Problem("a reason is required to void a visit form", field="reason"))
    form = db.session.get(VisitForm, form_id)
    if form is None:
        raise NotFound(f"visit form {form_id} does not exist")
    if form.status == "voided":
        raise Conflict(f"visit form {form.serial} is already voided")
    form.status, form.void_reason, form.voided_by, form.voided_at = "voided", reason.strip(), username, clock.now()
    db.session.commit()
    visit = form.visit
    if visit.status in OPEN_STATUSES:
        sign_out_form(visit, username)
    return form


# ---------------------------------------------------------------- task completions

def check_visitor_and_method(bpmn_id: str, flow: dict, data: dict) -> None:
    """§1.2: the profile says who visits (visitor_role, by category or complaint severity) and how
    (allowed_methods); the start data carries both. The plan must name a user holding one of those roles,
    and plan and visit must use an allowed method; a sampled repair drawn for the HOME share (SMP-02) is
    visited at home. Nothing is completed otherwise."""
    problems = []
    allowed = flow.get("allowed_methods") or []
    method = data.get("method")
    if allowed and method and method not in allowed:
        problems.append(Problem(f"method {method} is not allowed for this visit by its policy profile "
                                f"(allowed: {', '.join(allowed)})", field="method"))
    elif flow.get("required_method") == "HOME" and method and method != "HOME":
        # SMP-02/SMP-03: the sample's HOME share was drawn with the sample; a phone call does not count for it
        problems.append(Problem(f"this repair was drawn for a home visit (the profile's minimum HOME share of the "
                                f"sample): record a HOME visit, not {method}", field="method"))
    scoring = ((flow.get("policy") or {}).get("categories", {}).get(flow.get("category") or "") or {}).get("scoring")
    if bpmn_id == "visit" and scoring and (data.get("outcome") or "reached") == "reached":
        low, high = scoring.get("scale") or [1, 10]
        for item in scoring.get("items") or []:
            field = f"score_{item.replace('_staff', '')}"
            value = data.get(field)
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                problems.append(Problem(f"KPI-01: the customer scores {item.replace('_', ' ')} from {low} to {high} "
                                        f"on a reached visit of this profile", field=field))
    roles = flow.get("visitor_role") or []
    roles = [roles] if isinstance(roles, str) else roles
    if bpmn_id == "plan" and roles:
        problems += _visitor_problems(data, roles, joint=flow.get("category") == "complaint" and len(roles) > 1)
    if problems:
        raise InvalidInput(problems)


def _visitor_problems(data: dict, roles: list[str], joint: bool) -> list[Problem]:
    """The named visitors exist and hold the profile's roles; a joint visit (AMB-44: the complained
    department's head and the visitor for a general complaint) needs two people covering two roles."""
    problems, held = [], []
    fields = ["visitor", "co_visitor"] if joint else ["visitor"]
    if joint and not data.get("co_visitor"):
        problems.append(Problem("a general complaint is visited jointly (AMB-44): name the second visitor, "
                                f"so that the roles {' and '.join(roles)} both take part", field="co_visitor"))
    for field in fields:
        name = data.get(field)
        if not name:
            continue
        user = current_app.appbuilder.sm.find_user(username=name)
        if user is None or not user.active:
            problems.append(Problem(f"there is no active user named {name}", field=field))
            continue
        mine = {role.name for role in user.roles} & set(roles)
        if not mine:
            problems.append(Problem(f"{name} may not make this visit: the policy profile asks for a visitor "
                                    f"with the role {' or '.join(roles)}", field=field))
        held.append(mine)
    if joint and len(held) == 2 and not problems:
        if data["visitor"] == data["co_visitor"] or len(held[0] | held[1]) < 2:
            problems.append(Problem(f"a joint visit needs two different people holding the roles "
                                    f"{' and '.join(roles)}", field="co_visitor"))
    return problems


def after_task_completed(process: str, bpmn_id: str, instance_id: int, actor: Actor, data: dict) -> None:
    visit = db.session.scalar(select(Visit).where(Visit.instance_id == instance_id))
    if visit is None or visit.archived_at is not None:  # a filed visit is read-only (RET-01)
        return
    engine = get_engine()
    instance_status = engine._instance(instance_id).status
    flow = engine.workflow_data(instance_id)
    visit.updated_at = clock.now()
    if process == "followup_visit":
        _followup_step(visit, bpmn_id, actor, data, flow)
    elif process == "repair_followup" and bpmn_id == "visit":
        visit.method, visit.result = data.get("method"), "satisfied" if data.get("satisfied") else "unsatisfied"
        visit.visited_at, visit.success, visit.satisfied = utc(data.get("visited_at")) or clock.now(), True, \
            bool(data.get("satisfied"))
        if not data.get("satisfied"):
            visit.revisits += 1
            visit.status = "in_progress"
    elif process == "complaint_case" and bpmn_id in ("reply", "resolve"):  # KPI-15: SLA compliance
        if bpmn_id == "reply" and visit.replied_at is None:  # the declared reply time, never after it was recorded
            declared = utc(data.get("replied_at"))
            visit.replied_at = min(declared, clock.now()) if declared else clock.now()
        elif bpmn_id == "resolve":
            visit.resolved_at = clock.now()
    elif process == "complaint_case" and bpmn_id == "close":
        visit.status = "archived"
        visit.result = "closed"
        db.session.commit()
        _complaint_visit(visit)
        _close_complaint_event(visit)
    if instance_status == "completed" and visit.status in OPEN_STATUSES:
        visit.status = "escalated" if flow.get("revisit_count", 0) >= 3 and not flow.get("qualified") else "archived"
        if process == "followup_visit" and "handle_overdue" == bpmn_id:
            visit.status = "overdue"
    db.session.commit()


def _followup_step(visit: Visit, bpmn_id: str, actor: Actor, data: dict, flow: dict) -> None:
    if bpmn_id == "plan":
        visit.visitor, visit.method, visit.status = data.get("visitor"), data.get("method"), "in_progress"
        if flow.get("visit_due"):
            visit.due_at = utc(flow["visit_due"])
        if not visit.serial:
            sign_out_form(visit, actor.username)
        # FLOW-02: the supervisor's plan notifies the visitor.
        signals.notify.send(current_app._get_current_object(), recipients=[data.get("visitor")],
                            subject=f"回访任务 Visit assigned: {visit.household or ''} ({visit.serial})",
                            body=data.get("content") or "", link=open_task_link(visit.instance_id, "visit")
                            or visit_link(visit))
    elif bpmn_id == "visit":
        visit.method = data.get("method") or visit.method
        # KPI-02/04/05: every attempt is an actual visit; reached ones are successful and carry the scores
        visit.visited_at = utc(data.get("visited_at")) or clock.now()
        visit.success = flow.get("last_outcome") == "reached"
        visit.satisfied = bool(data.get("satisfied")) if visit.success else None
        visit.score_market, visit.score_operating = ((data.get("score_market"), data.get("score_operating"))
                                                     if visit.success else (None, None))
        visit.result = flow.get("last_outcome") if flow.get("last_outcome") != "reached" else (
            "satisfied" if data.get("satisfied") else "unsatisfied")
        visit.status = "review" if flow.get("last_outcome") == "reached" or flow.get("attempts", 0) >= 3 \
            else "in_progress"
    elif bpmn_id == "review":
        visit.qualified = bool(data.get("qualified"))
        if data.get("qualified"):
            visit.status = "archived"
        else:
            visit.status, visit.result = "in_progress", "unqualified"
            # FLOW-10: the flow itself now runs complaint handling (call activity complaint_case); the
            # manager, who records the processing opinion afterwards, is told at once.
            signals.notify.send(current_app._get_current_object(), roles=["Manager"],
                                subject=f"回访不合格 Unqualified visit {visit.serial}", body=data.get("comment", ""),
                                link=visit_link(visit))
    elif bpmn_id == "manager_opinion":
        visit.revisits = flow.get("revisit_count", visit.revisits)
        if flow.get("revisit_count", 0) >= 3:
            visit.status = "escalated"  # AMB-21: to the VP
            signals.notify.send(current_app._get_current_object(), roles=["VP"],
                                subject=f"三次回访仍不满意 Unsatisfied after 3 re-visits {visit.serial}",
                                body=data.get("opinion", ""), link=visit_link(visit))
    elif bpmn_id == "handle_overdue":
        visit.status = "overdue"


def _complaint_visit(case: Visit) -> None:
    """Closing a complaint triggers its 100% complaint visit (§2.1)."""
    if case.service_event_id is not None and db.session.scalar(select(Visit.id).where(
            Visit.service_event_id == case.service_event_id, Visit.process_key == "followup_visit",
            Visit.category == "complaint", Visit.status.in_(OPEN_STATUSES))):
        return
    start_visit("complaint", project=case.project_key, household=case.household, household_id=case.household_id,
                service_event_id=case.service_event_id, severity=case.severity, team=case.team,
                market_team=case.market_team)


def _close_complaint_event(case: Visit) -> None:
    """Closing the case closes the complaint it handled (and its second reports): a later report of the same
    matter is then a new case, a repeat (FLOW-17/AMB-34), instead of joining a case that is over."""
    if case.service_event_id is None:
        return
    event = db.session.get(ServiceEvent, case.service_event_id)
    if event is not None and event.status in OPEN_EVENT_STATUSES:
        complete_event(event.id, max(clock.now(), utc(event.received_at)))


# ---------------------------------------------------------------- merging (SMP-08/AMB-40)

def merge_candidates() -> list[list[Visit]]:
    """Open visits to one household whose windows overlap, grouped."""
    visits = db.session.scalars(select(Visit).where(Visit.status.in_(OPEN_STATUSES), Visit.household.is_not(None),
                                                    Visit.process_key == "followup_visit")
                                .order_by(Visit.household, Visit.id)).all()
    groups: dict[str, list[Visit]] = {}
    for visit in visits:
        groups.setdefault(visit.household, []).append(visit)
    out = []
    for items in groups.values():
        group = [v for v in items if any(o is not v and _overlap(v, o) for o in items)]
        if len(group) > 1:
            out.append(group)
    return out


def _overlap(a: Visit, b: Visit) -> bool:
    a0, a1 = utc(a.window_opens) or utc(a.created_at), utc(a.due_at)
    b0, b1 = utc(b.window_opens) or utc(b.created_at), utc(b.due_at)
    if a1 is None or b1 is None:
        return False
    return a0 <= b1 and b0 <= a1


def merge(keep_id: int, merge_ids: list[int], actor: Actor) -> Visit:
    keep = db.session.get(Visit, keep_id)
    if keep is None:
        raise NotFound(f"visit {keep_id} does not exist")
    candidates = {v.id for group in merge_candidates() for v in group if keep in group}
    problems = [Problem(f"visit {i} cannot be merged into #{keep_id}: not an open visit to the same household "
                        "with an overlapping window", field="merge") for i in merge_ids
                if i == keep_id or i not in candidates]
    if not merge_ids:
        problems.append(Problem("name at least one visit to merge", field="merge"))
    if problems:
        raise InvalidInput(problems)
    engine = get_engine()
    for visit_id in merge_ids:
        visit = db.session.get(Visit, visit_id)
        reason = f"merged into #{keep_id}"
        engine.cancel(visit.instance_id, actor, reason)
        visit.status, visit.status_reason, visit.updated_at = "cancelled", reason, clock.now()
        db.session.commit()
    return keep


def sync_status(visit: Visit) -> None:
    """Timers fire in the worker, outside the web layer: an overdue escalation (FLOW-04) shows up as
    an open handle_overdue task, which is folded into the row when it is read."""
    if visit.status in OPEN_STATUSES and visit.instance_id and db.session.scalar(
            select(HumanTask.id).where(HumanTask.instance_id == visit.instance_id,
                                       HumanTask.bpmn_id == "handle_overdue").limit(1)):
        visit.status, visit.updated_at = "overdue", clock.now()
        db.session.commit()


def visit_to_dict(visit: Visit) -> dict:
    return {
        "id": visit.id, "category": visit.category, "project": visit.project_key, "household": visit.household,
        "household_id": visit.household_id, "service_event_id": visit.service_event_id, "severity": visit.severity,
        "window_opens": iso(visit.window_opens), "due_at": iso(visit.due_at),
        "profile_version_id": visit.profile_version_id, "process": visit.process_key,
        "instance_id": visit.instance_id, "serial": visit.serial, "visitor": visit.visitor, "method": visit.method,
        "result": visit.result, "revisits": visit.revisits, "status": visit.status,
        "status_reason": visit.status_reason, "created_at": iso(visit.created_at),
        "forms": [form_to_dict(f) for f in visit.forms],
    }


def form_to_dict(form: VisitForm) -> dict:
    return {"id": form.id, "visit_id": form.visit_id, "serial": form.serial, "number": form.number,
            "year": form.year, "project": form.project_key, "status": form.status,
            "signed_out_by": form.signed_out_by, "signed_out_at": iso(form.signed_out_at),
            "void_reason": form.void_reason, "voided_by": form.voided_by, "voided_at": iso(form.voided_at)}
