"""KPIs of the follow-up visits (SOP_RULES §6, §2, §5.2; issue 6), computed in SQL.

Every figure is one aggregate query (SQLAlchemy Core, GROUP BY) over the visit and service-event rows;
nothing loops over visits in Python. Each countable measure is a named predicate in ``MEASURES``; the
aggregates sum ``CASE WHEN <predicate>`` and the drill-down (``measure_visits``) selects the rows of the same
predicate, so a number and the list behind it cannot disagree.

Period of a visit: its ``trigger_at`` (the completed repair, the closed complaint …), the same instant that
puts its service event in the period, so a visit and the event it answers always fall in one period (see
docs/DECISIONS.md, "KPI periods"). Times are stored in UTC; period bounds are local (company zone) and
converted to UTC before they are bound.

Slices: ``by`` = project, team, visitor or category (issue 6: per project, team and visitor).
"""
from __future__ import annotations

from datetime import datetime
from fractions import Fraction

from flask import g
from sqlalchemy import and_, case, func, not_, or_, select, true

from workflows import clock, localtime
from workflows.errors import InvalidInput, Problem
from workflows.localtime import utc
from workflows.policy.profiles import PolicyError
from workflows.policy.reporting import Period, annual_grade, parse_period

from ...extensions import db
from ...models.intake import Household, Project, ServiceEvent
from ...models.visit import Visit
from ..policy import effective_policy

V = Visit.__table__
E = ServiceEvent.__table__
P = Project.__table__
H = Household.__table__

SLICES = {"project": V.c.project_key, "team": V.c.team, "visitor": V.c.visitor, "category": V.c.category}
DEFAULT_TARGET = 0.8  # KPI-04/05/07: coverage and success ≥ 80% (inclusive)


def period_bounds(label: str) -> tuple[Period, datetime, datetime]:
    """A period label (2024-03, 2024-Q1, 2024-H1, 2024) → (period, start, end) in UTC; bad input names the field."""
    try:
        period = parse_period(label)
    except PolicyError as err:
        raise InvalidInput(Problem(err.message if hasattr(err, "message") else str(err), field="period")) from None
    start, end = period.bounds(localtime.zone())
    return period, utc(start), utc(end)


def slice_column(by: str):
    if by not in SLICES:
        raise InvalidInput(Problem(f"cannot slice by {by!r}: one of {', '.join(SLICES)}", field="by"))
    return SLICES[by]


# ---------------------------------------------------------------- measures (shared by figures and drill-down)

def _visits(now: datetime):
    """Predicates over a visit row. ``now`` decides whether a window has closed (late vs still open)."""
    done = V.c.success.is_(True)
    on_time = and_(done, or_(V.c.due_at.is_(None), V.c.visited_at <= V.c.due_at))
    return {
        "due": true(),
        "attempted": V.c.visited_at.is_not(None),
        "visited": done,
        "unsuccessful": and_(V.c.visited_at.is_not(None), not_(done)),
        "home": and_(done, V.c.method == "HOME"),
        "on_time": on_time,
        "late": and_(not_(on_time), V.c.due_at.is_not(None),
                     or_(and_(done, V.c.visited_at > V.c.due_at), and_(not_(done), V.c.due_at < now))),
        "satisfied": V.c.satisfied.is_(True),
        "unsatisfied": and_(done, V.c.satisfied.is_(False)),
        "unqualified": V.c.qualified.is_(False),
    }


def _cases(now: datetime):
    """Predicates over a complaint case (KPI-15, §5.2): reply and resolve on time or breached."""
    reply_ok = and_(V.c.replied_at.is_not(None), V.c.replied_at <= V.c.reply_due)
    resolve_ok = and_(V.c.resolved_at.is_not(None), V.c.resolved_at <= V.c.due_at)
    return {
        "cases": true(),
        "reply_on_time": reply_ok,
        "reply_breached": and_(V.c.reply_due.is_not(None), not_(reply_ok),
                               or_(V.c.replied_at.is_not(None), V.c.reply_due < now)),
        "resolve_on_time": resolve_ok,
        "resolve_breached": and_(V.c.due_at.is_not(None), not_(resolve_ok),
                                 or_(V.c.resolved_at.is_not(None), V.c.due_at < now)),
    }


VISIT_MEASURES = ("due", "attempted", "visited", "unsuccessful", "home", "on_time", "late", "satisfied",
                  "unsatisfied", "unqualified")
CASE_MEASURES = ("cases", "reply_on_time", "reply_breached", "resolve_on_time", "resolve_breached")


def _is_visit():
    """A visit to a customer (not a complaint case, not merged away)."""
    return and_(V.c.process_key != "complaint_case", V.c.status != "cancelled")


def is_case():
    return and_(V.c.process_key == "complaint_case", V.c.status != "cancelled")


def _in_period(start: datetime, end: datetime, project: str | None):
    cond = [V.c.trigger_at >= utc(start), V.c.trigger_at < utc(end)]
    if project:
        cond.append(V.c.project_key == project)
    return and_(*cond)


def _count(predicate):
    return func.coalesce(func.sum(case((predicate, 1), else_=0)), 0)


def ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def meets(part: int, whole: int, target: float | None) -> bool | None:
    """part/whole ≥ target, exactly (80% of 5 is 4: 4/5 meets 0.8), in integers, no float rounding."""
    if target is None or not whole:
        return None
    t = Fraction(str(target))
    return part * t.denominator >= whole * t.numerator


# ---------------------------------------------------------------- KPI-12: visit rate per category


def profile_params(project_key: str | None) -> dict:
    """The project's effective profile params, looked up once per app context (a page asks for each project
    several times; a profile edit is seen by the next request)."""
    cache = g.setdefault("huifang_kpi_params", {})
    if project_key not in cache:
        cache[project_key] = effective_policy(project_key).get("params") or {}
    return cache[project_key]


def _category_targets(params: dict, category: str) -> tuple[float | None, float | None]:
    cat = (params.get("categories") or {}).get(category) or {}
    share = cat.get("min_home_share")
    if share is None:
        share = params.get("min_home_share")
    return cat.get("required_rate"), share


def eligible_events(start: datetime, end: datetime, project: str | None = None) -> dict[tuple[str, str], int]:
    """Trigger events of the period per (project, category): completed repairs, closed complaints …; a second
    report of a matter (AMB-34 duplicate) is the same case and not counted again."""
    query = (select(P.c.key, E.c.category, func.count()).select_from(E.join(P, E.c.project_id == P.c.id))
             .where(E.c.duplicate_of_id.is_(None), E.c.status.in_(("completed", "closed")),
                    E.c.completed_at >= utc(start), E.c.completed_at < utc(end))
             .group_by(P.c.key, E.c.category))
    if project:
        query = query.where(P.c.key == project)
    return {(key, cat): n for key, cat, n in db.session.execute(query)}


def visit_measures(start: datetime, end: datetime, *, by: str = "project", project: str | None = None,
                   category: bool = True, now: datetime | None = None) -> list[dict]:
    """Counts of every visit measure per slice (and category), one GROUP BY."""
    now = utc(now or clock.now())
    col = slice_column(by)
    preds = _visits(now)
    keys = [col.label("slice")] + ([V.c.category] if category and by != "category" else [])
    query = (select(*keys, *[_count(preds[m]).label(m) for m in VISIT_MEASURES])
             .where(_is_visit(), _in_period(start, end, project)).group_by(*keys).order_by(*keys))
    rows = []
    for row in db.session.execute(query).mappings():
        item = {"slice": row["slice"], "category": row.get("category", row["slice"] if by == "category" else None)}
        item.update({m: int(row[m]) for m in VISIT_MEASURES})
        rows.append(item)
    return rows


CUBE = ("project", "category", "team")


def measure_cube(start: datetime, end: datetime, *, project: str | None = None,
                 now: datetime | None = None) -> list[dict]:
    """Every visit measure grouped by (project, category, team) in one scan; ``rollup`` sums it to any of
    those slices, so a page showing several of them reads the period's visits once."""
    now = utc(now or clock.now())
    preds = _visits(now)
    keys = [V.c.project_key.label("project"), V.c.category.label("category"), V.c.team.label("team")]
    query = (select(*keys, *[_count(preds[m]).label(m) for m in VISIT_MEASURES])
             .where(_is_visit(), _in_period(start, end, project)).group_by(*keys))
    return [{k: (int(v) if k in VISIT_MEASURES else v) for k, v in row.items()}
            for row in db.session.execute(query).mappings()]


def rollup(cube: list[dict], by: str, category: bool = False) -> list[dict]:
    """The cube summed to one slice (and category): the same rows visit_measures would return."""
    sums: dict[tuple, dict] = {}
    for row in cube:
        key = (row[by], row["category"] if category and by != "category" else None)
        item = sums.setdefault(key, {"slice": key[0], "category": key[1] if category else (
            key[0] if by == "category" else None), **{m: 0 for m in VISIT_MEASURES}})
        for m in VISIT_MEASURES:
            item[m] += row[m]
    return sorted(sums.values(), key=lambda r: (str(r["slice"] or ""), str(r["category"] or "")))


def visit_rates(start: datetime, end: datetime, *, project: str | None = None,
                now: datetime | None = None, cube: list[dict] | None = None) -> list[dict]:
    """KPI-12 per project and category: visited ÷ eligible events vs the profile's required rate (SMP-04, ≥,
    exactly), the HOME share vs the minimum (AMB-28), and the on-time rate (visited by the window's end)."""
    events = eligible_events(start, end, project)
    if cube is None:
        cube = measure_cube(start, end, project=project, now=now)
    measures = {(r["slice"], r["category"]): r for r in rollup(cube, "project", category=True)}
    params = {}
    out = []
    for key in sorted(set(events) | set(measures), key=lambda k: (k[0] or "", k[1] or "")):
        proj, cat = key
        if proj not in params:
            params[proj] = profile_params(proj)
        m = measures.get(key) or {name: 0 for name in VISIT_MEASURES}
        eligible = events.get(key, 0)
        required, min_home = _category_targets(params[proj], cat)
        closed = m["on_time"] + m["late"]
        out.append({
            "project": proj, "category": cat, "eligible": eligible, **{k: m[k] for k in VISIT_MEASURES},
            "rate": ratio(m["visited"], eligible), "required_rate": required,
            "rate_met": meets(m["visited"], eligible, required),
            "home_share": ratio(m["home"], m["visited"]), "min_home_share": min_home,
            "home_met": meets(m["home"], m["visited"], min_home) if min_home else None,
            "on_time_rate": ratio(m["on_time"], closed),
        })
    return out


# ---------------------------------------------------------------- KPI-04/05/07: coverage and success (P001-S)

def _targets(project: str | None) -> tuple[float, float]:
    params = profile_params(project) if project else {}
    return (params.get("coverage_target") or DEFAULT_TARGET, params.get("success_target") or DEFAULT_TARGET)


def coverage(start: datetime, end: datetime, *, by: str = "team", project: str | None = None,
             now: datetime | None = None, cube: list[dict] | None = None) -> list[dict]:
    """KPI-04 coverage = actual visits ÷ visits due (every completed project has its visit, AMB-17);
    KPI-05 success = successful ÷ actual visits; KPI-07 the rate report is invalid if either is < 80%."""
    cov_target, ok_target = _targets(project)
    out = []
    rows = rollup(cube, by) if cube is not None and by in CUBE else visit_measures(
        start, end, by=by, project=project, category=False, now=now)
    for m in rows:
        out.append({"slice": m["slice"], "due": m["due"], "attempted": m["attempted"], "visited": m["visited"],
                    "unsuccessful": m["unsuccessful"],
                    "coverage": ratio(m["attempted"], m["due"]), "coverage_target": cov_target,
                    "success_rate": ratio(m["visited"], m["attempted"]), "success_target": ok_target,
                    "valid": bool(meets(m["attempted"], m["due"], cov_target)
                                  and meets(m["visited"], m["attempted"], ok_target))})
    return out


# ---------------------------------------------------------------- KPI-08/09: satisfaction scores

def _team_pairs(start: datetime, end: datetime, project: str | None, bucket=None):
    """One scan, grouped by (operating team, signing team[, month]): visits attempted and successful, and
    the sums and counts of both scores of successful visits. Units are combined from these few rows."""
    ok = V.c.success.is_(True)
    keys = [V.c.team, V.c.market_team] + ([bucket.label("bucket")] if bucket is not None else [])
    query = (select(*keys, _count(V.c.visited_at.is_not(None)).label("attempted"), _count(ok).label("ok"),
                    func.sum(case((ok, V.c.score_operating))).label("op_sum"),
                    func.count(case((ok, V.c.score_operating))).label("op_n"),
                    func.sum(case((ok, V.c.score_market))).label("mk_sum"),
                    func.count(case((ok, V.c.score_market))).label("mk_n"))
             .where(_is_visit(), _in_period(start, end, project),
                    or_(V.c.team.is_not(None), V.c.market_team.is_not(None))).group_by(*keys))
    return db.session.execute(query).mappings().all()


def _unit_totals(rows) -> dict:
    """unit → [score total, scores, attempted, successful]: a unit earns the operating score as operating
    team and the market score as contract-signing team (KPI-08 note 2); a visit counts once per unit."""
    units: dict = {}
    for r in rows:
        for unit, total, n in ((r["team"], r["op_sum"], r["op_n"]), (r["market_team"], r["mk_sum"], r["mk_n"])):
            if unit is None:
                continue
            item = units.setdefault(unit, [0, 0, 0, 0])
            item[0] += int(total or 0)
            item[1] += int(n or 0)
        for unit in {r["team"], r["market_team"]} - {None}:
            units[unit][2] += int(r["attempted"])
            units[unit][3] += int(r["ok"])
    return units


def satisfaction(start: datetime, end: datetime, *, project: str | None = None) -> list[dict]:
    """KPI-08 per business unit: average = total score ÷ number of scores of its successful visits; the
    score table is invalid for a unit whose success rate is below 80%."""
    _cov, ok_target = _targets(project)
    out = []
    for unit, (total, count, attempted, ok) in sorted(_unit_totals(_team_pairs(start, end, project)).items()):
        if not count:
            continue
        out.append({"unit": unit, "total": total, "scores": count, "average": round(total / count, 2),
                    "attempted": attempted, "successful": ok, "success_rate": ratio(ok, attempted),
                    "valid": bool(meets(ok, attempted, ok_target))})
    return out


def annual_grades(year: int, *, project: str | None = None) -> list[dict]:
    """KPI-09: each unit's year = the average of its monthly averages; ≥9 优秀, ≥7 良好, ≥6 及格, else 不及格."""
    period = parse_period(str(year))
    start, end = (utc(x) for x in period.bounds(localtime.zone()))
    months = period.months()
    bucket = case(*[(V.c.trigger_at < utc(m.bounds(localtime.zone())[1]), i) for i, m in enumerate(months)],
                  else_=len(months))
    monthly: dict = {}
    by_month: dict = {}
    for row in _team_pairs(start, end, project, bucket=bucket):
        by_month.setdefault(row["bucket"], []).append(row)
    for rows in by_month.values():
        for unit, (total, count, _att, _ok) in _unit_totals(rows).items():
            if count:
                monthly.setdefault(unit, []).append(total / count)
    out = []
    for unit, averages in sorted(monthly.items()):
        avg = round(sum(averages) / len(averages), 4)
        grade = annual_grade(avg)
        out.append({"unit": unit, "year": year, "months": len(averages), "average": round(avg, 2), "grade": grade[0],
                    "grade_zh": grade[1]})
    return out


# ---------------------------------------------------------------- KPI-13: complaint rate

def complaint_rates(start: datetime, end: datetime, *, project: str | None = None) -> list[dict]:
    """KPI-13: complaints received in the period (a second report of the same matter is one complaint,
    AMB-34) ÷ the project's households; target "below 1%" (以下: inclusive) where the profile sets one."""
    complaints = (select(E.c.project_id, func.count().label("n")).where(
        E.c.category == "complaint", E.c.duplicate_of_id.is_(None), E.c.received_at >= utc(start),
        E.c.received_at < utc(end)).group_by(E.c.project_id)).subquery("c")
    households = select(H.c.project_id, func.count().label("n")).group_by(H.c.project_id).subquery("h")
    query = (select(P.c.key, func.coalesce(complaints.c.n, 0), func.coalesce(households.c.n, 0))
             .select_from(P.outerjoin(complaints, complaints.c.project_id == P.c.id)
                          .outerjoin(households, households.c.project_id == P.c.id)).order_by(P.c.key))
    if project:
        query = query.where(P.c.key == project)
    out = []
    for key, n, homes in db.session.execute(query):
        target = profile_params(key).get("complaint_rate_target")
        rate = ratio(int(n), int(homes))
        met = None if target is None or not homes else Fraction(int(n), int(homes)) <= Fraction(str(target))
        out.append({"project": key, "complaints": int(n), "households": int(homes), "rate": rate, "target": target,
                    "met": met})
    return out


# ---------------------------------------------------------------- KPI-15: complaint SLA compliance

def sla_compliance(start: datetime, end: datetime, *, project: str | None = None,
                   now: datetime | None = None) -> list[dict]:
    """KPI-15 per severity: complaint cases received in the period, replied and resolved within the §5.2
    deadlines; a deadline that passed without the step is a breach, one still open is not counted yet."""
    now = utc(now or clock.now())
    preds = _cases(now)
    query = (select(V.c.severity, *[_count(preds[m]).label(m) for m in CASE_MEASURES])
             .where(is_case(), _in_period(start, end, project)).group_by(V.c.severity).order_by(V.c.severity))
    out = []
    for row in db.session.execute(query).mappings():
        item = {"severity": row["severity"], **{m: int(row[m]) for m in CASE_MEASURES}}
        item["reply_compliance"] = ratio(item["reply_on_time"], item["reply_on_time"] + item["reply_breached"])
        item["resolve_compliance"] = ratio(item["resolve_on_time"], item["resolve_on_time"] + item["resolve_breached"])
        out.append(item)
    return out


# ---------------------------------------------------------------- trend series (charts)

def monthly_series(months: list[Period], *, project: str | None = None, now: datetime | None = None) -> list[dict]:
    """Per month: visits due/visited/on time, complaints received; one query per table, bucketed by CASE."""
    now = utc(now or clock.now())
    bounds = [tuple(utc(x) for x in m.bounds(localtime.zone())) for m in months]
    start, end = bounds[0][0], bounds[-1][1]
    v_bucket = case(*[(V.c.trigger_at < b[1], i) for i, b in enumerate(bounds)], else_=len(bounds))
    preds = _visits(now)
    visits = {int(r[0]): r for r in db.session.execute(
        select(v_bucket, _count(preds["due"]), _count(preds["visited"]), _count(preds["on_time"]),
               _count(preds["unsatisfied"]))
        .where(_is_visit(), _in_period(start, end, project)).group_by(v_bucket))}
    e_bucket = case(*[(E.c.received_at < b[1], i) for i, b in enumerate(bounds)], else_=len(bounds))
    cq = (select(e_bucket, func.count()).where(E.c.category == "complaint", E.c.duplicate_of_id.is_(None),
                                                E.c.received_at >= start, E.c.received_at < end).group_by(e_bucket))
    if project:
        cq = cq.where(E.c.project_id == select(P.c.id).where(P.c.key == project).scalar_subquery())
    complaints = {int(b): int(n) for b, n in db.session.execute(cq)}
    out = []
    for i, month in enumerate(months):
        row = visits.get(i)
        out.append({"period": month.label, "due": int(row[1]) if row else 0, "visited": int(row[2]) if row else 0,
                    "on_time": int(row[3]) if row else 0, "unsatisfied": int(row[4]) if row else 0,
                    "complaints": complaints.get(i, 0)})
    return out


# ---------------------------------------------------------------- drill-down

def measure_visits(measure: str, start: datetime, end: datetime, *, project: str | None = None,
                   by: str | None = None, value: str | None = None, category: str | None = None,
                   severity: str | None = None, limit: int = 500, now: datetime | None = None):
    """The visits behind one number: the same predicate the figure summed. Returns (rows, total)."""
    now = utc(now or clock.now())
    if measure in VISIT_MEASURES:
        cond = [_is_visit(), _visits(now)[measure]]
    elif measure in CASE_MEASURES:
        cond = [is_case(), _cases(now)[measure]]
    else:
        raise InvalidInput(Problem(f"unknown measure {measure!r}: one of "
                                   f"{', '.join(VISIT_MEASURES + CASE_MEASURES)}", field="measure"))
    cond.append(_in_period(start, end, project))
    if by:
        col = slice_column(by)
        cond.append(col.is_(None) if value in (None, "") else col == value)
    if category:
        cond.append(V.c.category == category)
    if severity:
        cond.append(V.c.severity == severity)
    where = and_(*cond)
    total = db.session.scalar(select(func.count()).select_from(V).where(where))
    rows = db.session.execute(select(V).where(where).order_by(V.c.trigger_at, V.c.id).limit(limit)).mappings().all()
    return [dict(r) for r in rows], int(total)
