"""Repair sampling (SMP-01/02, SMP-04): which completed repairs get a follow-up visit, drawn once per
period by the worker (monthly samples of P002, daily draws of the fixed-rate profiles); seed, population
and sample are stored for audit (SMP-10)."""
from __future__ import annotations

import calendar
import secrets
from datetime import date, datetime, time, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from workflows import clock, localtime, policy as policy_rules
from workflows.actor import Actor
from workflows.errors import Conflict
from workflows.localtime import utc

from ...extensions import db
from ...models.intake import Project, ServiceEvent, WorkOrder
from ...models.visit import RepairSample
from ..policy import effective_policy
from .visits import SYSTEM, start_visit

# Sampling rules drawn day by day: their windows run from each repair's completion (P000-3: within 5 days,
# P000-4: [T+1d, T+2d]), too short for a month-end draw. A monthly rule (P002) names its sample_day instead.
DAILY_RULES = ("all", "fixed_rate", "role_quotas")
# A day's draw takes the repairs completed before that day, up to this many days back, not drawn before:
# late imports of 派工单 and a worker that was stopped are caught up.
DAILY_LOOKBACK_DAYS = 31


def sample_repairs(project: str, period: str, orders: list[dict], seed: str, actor: Actor = SYSTEM,
                   size: tuple[int, int] | None = None) -> RepairSample:
    """Draw a period's repair sample with POLICY's sample_size/draw_sample and start a visit for each.

    ``orders``: [{"id", "household", "household_id"?, "completed_at"?, "visitor"?}] — the period's completed
    repair orders. ``size`` (visits, minimum HOME) replaces the profile's size for ``orders`` (a daily draw
    tops up its month). A visit's window runs from its order's ``completed_at`` when given, else from now
    (P002: before the 5th of the next month). Seed, population and sample are stored for audit (SMP-10);
    a period is sampled once.
    """
    if db.session.scalar(select(RepairSample.id).where(RepairSample.project_key == project,
                                                       RepairSample.period == period)):
        raise Conflict(f"the repair orders of {project} {period} were already sampled")
    params = effective_policy(project).get("params") or {}
    k, min_home = size or policy_rules.sample_size(params, "repair", len(orders))
    ids = [o["id"] for o in orders]
    sample = policy_rules.draw_sample(ids, k, seed)
    home = sample[:min_home]
    by_id = {o["id"]: o for o in orders}
    row = RepairSample(project_key=project, period=period, seed=seed, population=ids, sample=sample, home=home,
                       rate=f"{k}/{len(ids)}", created_by=actor.username, created_at=clock.now())
    db.session.add(row)
    db.session.commit()
    for order_id in sample:
        order = by_id[order_id]
        trigger = utc(order.get("completed_at")) or clock.now()
        try:  # the profile's repair window (SMP-01: P002 before the 5th of the next month)
            due = policy_rules.visit_window(params, "repair", trigger)[1]
        except policy_rules.PolicyError:  # no window in the profile: a week, ending at 24:00 local
            due = localtime.days_later_end(trigger, 7)
        # No visitor named: the visit waits, unclaimed, in the inbox of every Agent.
        start_visit("repair", process="repair_followup", project=project, household=order.get("household"),
                    household_id=order.get("household_id"), actor=actor, trigger=trigger,
                    extra={"repair_order": order_id, "required_method": "HOME" if order_id in home else "PHONE",
                           "visit_due": due.isoformat(), "visitor": order.get("visitor")})
    return row


def completed_repairs(project, start: datetime, end: datetime) -> list[dict]:
    """The project's repairs completed in [start, end): imported 派工单 by number, and repair service events
    recorded by form or REST without a work order as ``E<event id>``."""
    orders = db.session.scalars(select(WorkOrder).where(
        WorkOrder.project_id == project.id, WorkOrder.service_type == "repair",
        WorkOrder.completed_at >= start, WorkOrder.completed_at < end).order_by(WorkOrder.number)).all()
    events = db.session.scalars(select(ServiceEvent).where(
        ServiceEvent.project_id == project.id, ServiceEvent.category == "repair", ServiceEvent.status == "completed",
        ServiceEvent.work_order_no.is_(None), ServiceEvent.duplicate_of_id.is_(None),
        ServiceEvent.completed_at >= start, ServiceEvent.completed_at < end).order_by(ServiceEvent.id)).all()
    return ([{"id": o.number, "household": o.household.label if o.household else None,
              "household_id": o.household_id, "completed_at": o.completed_at} for o in orders]
            + [{"id": f"E{e.id}", "household": e.household.label if e.household else None,
                "household_id": e.household_id, "completed_at": e.completed_at} for e in events])


def draw_due_repair_samples(actor: Actor = SYSTEM, day: date | None = None) -> list[RepairSample]:
    """What ``flask huifang worker`` draws on every sweep; idempotent per project and period, and two workers
    racing for one period leave one sample (the unique period row decides). ``day``: draw as of that local
    day instead of today (the demo replays its month).

    SMP-01: a monthly rule (P002) draws the month's completed repairs on its sample day (the 30th, or the
    month's last day when shorter). SMP-04: fixed-rate and every-repair rules draw once a day the repairs
    completed before that day and not drawn yet, as many as keep the month's draws at the profile's rate
    (≥ rate × their repairs, rounded up), so visits start while their windows, which run from each repair's
    completion, are still open."""
    zone = localtime.zone()
    now = clock.now().astimezone(zone)
    as_of = now if day is None or day >= now.date() else datetime.combine(day, time.max, tzinfo=zone)
    drawn = []
    for project in db.session.scalars(select(Project).order_by(Project.key)).all():
        params = effective_policy(project.key).get("params") or {}
        sampling = (params.get("categories", {}).get("repair") or {}).get("sampling") or {}
        if sampling.get("sample_day"):
            drawn.append(_draw_month(project, sampling["sample_day"], as_of, actor))
        elif sampling.get("rule") in DAILY_RULES:
            drawn.append(_draw_day(project, params, as_of, actor))
        # supervisor_sets (P001-Q): the supervisor sizes and draws the sample by hand (POST repair-sample)
    return [row for row in drawn if row is not None]


def _draw_month(project, sample_day: int, as_of: datetime, actor: Actor) -> RepairSample | None:
    month = as_of.strftime("%Y-%m")
    if as_of.day < min(sample_day, calendar.monthrange(as_of.year, as_of.month)[1]):
        return None
    if db.session.scalar(select(RepairSample.id).where(RepairSample.project_key == project.key,
                                                       RepairSample.period == month)):
        return None
    month_start = as_of.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    orders = completed_repairs(project, month_start, as_of + timedelta(microseconds=1))
    if not orders:
        return None
    return _stored_draw(project, month, orders, None, actor)


def _draw_day(project, params: dict, as_of: datetime, actor: Actor) -> RepairSample | None:
    period = as_of.date().isoformat()
    if db.session.scalar(select(RepairSample.id).where(RepairSample.project_key == project.key,
                                                       RepairSample.period == period)):
        return None
    cutoff = localtime.day_start(as_of.date())
    earliest = cutoff - timedelta(days=DAILY_LOOKBACK_DAYS)
    earlier = db.session.scalars(select(RepairSample).where(
        RepairSample.project_key == project.key,
        RepairSample.created_at >= earliest - timedelta(days=DAILY_LOOKBACK_DAYS))).all()
    seen = {order for row in earlier for order in row.population}
    orders = [o for o in completed_repairs(project, earliest, cutoff) if o["id"] not in seen]
    if not orders:
        return None
    # the month's draws so far (its days, or a month drawn by hand) and this one keep the profile's rate
    month_rows = [row for row in earlier if row.period.startswith(period[:7])]
    k_month, home_month = policy_rules.sample_size(params, "repair",
                                                   sum(len(r.population) for r in month_rows) + len(orders))
    k = max(0, min(len(orders), k_month - sum(len(r.sample) for r in month_rows)))
    home = max(0, min(k, home_month - sum(len(r.home) for r in month_rows)))
    return _stored_draw(project, period, orders, (k, home), actor)


def _stored_draw(project, period: str, orders: list[dict], size, actor: Actor) -> RepairSample | None:
    try:
        row = sample_repairs(project.key, period, orders, seed=secrets.token_hex(8), actor=actor, size=size)
    except (Conflict, IntegrityError):  # another worker drew this period first
        db.session.rollback()
        return None
    db.session.execute(update(WorkOrder).where(WorkOrder.project_id == project.id,
                                               WorkOrder.number.in_(row.sample)).values(sampled=True))
    db.session.commit()
    return row
