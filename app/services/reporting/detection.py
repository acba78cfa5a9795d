"""Detection rules of the periodic statistics (SOP_RULES §4.4, FLOW-12/13/17, RPR-07, 003-FC 3.6; issue 6).

* ``unqualified`` — the visits the supervisor classified unqualified (FLOW-09) in the period: one finding per
  project and period listing them (each one already went through complaint handling, FLOW-10; the statistics
  ask whether the pattern needs CAPA, FLOW-13).
* ``repeat_complaint`` — the same matter complained about ≥ N times consecutively (连续…两次以上; N from the
  profile's ``repeat_thresholds.complaint``: 2, P003: 3). Same matter = household + category + subject tag
  (AMB-34; a second report of an open case is the same complaint and does not count again). Consecutive =
  within the period with no satisfied visit of that matter in between; a satisfied visit restarts the count
  (AMB-06). "以上" is inclusive (FLOW-17).
* ``repeat_repair`` — the same repair (household + subject tag) reported ≥ N times in the period (RPR-07).
* ``rising_complaints`` — more complaints than the previous period (上期对比) or the same period a year
  earlier (同期对比) (003-FC 3.1, 3.6).

All four are SQL (window functions for the runs); each finding names its visits, so a manager can open them
and start a CAPA (capa.py) from the finding.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import String, and_, func, literal_column, select, union_all

from workflows import clock, localtime
from workflows.localtime import utc
from workflows.policy.reporting import Period

from ...extensions import db
from ...models.intake import Household
from .kpis import E, P, V, is_case, profile_params

SATISFIED_LOOKBACK = timedelta(days=93)
RULES = ("unqualified", "repeat_complaint", "repeat_repair", "rising_complaints")
RULE_TITLES = {
    "unqualified": "不合格回访 Unqualified visit",
    "repeat_complaint": "同一事项连续投诉 Same matter complained about repeatedly",
    "repeat_repair": "同一维修多次 Same repair repeatedly",
    "rising_complaints": "投诉上升 Complaints rising",
}


def _key(*parts) -> str:
    text = ":".join(str(p) for p in parts)
    if len(text) <= 200:
        return text
    return text[:150] + ":" + hashlib.sha256(text.encode()).hexdigest()[:40]


def _thresholds(kind: str) -> dict[str, int]:
    keys = db.session.scalars(select(P.c.key).order_by(P.c.key)).all()
    return {key: int((profile_params(key).get("repeat_thresholds") or {}).get(kind) or (2 if kind == "complaint" else 3))
            for key in keys}


def findings(period: Period, *, project: str | None = None, rules=RULES, now: datetime | None = None) -> list[dict]:
    start, end = (utc(x) for x in period.bounds(localtime.zone()))
    out: list[dict] = []
    if "unqualified" in rules:
        out += unqualified(period, start, end, project)
    if "repeat_complaint" in rules:
        out += repeat_complaints(period, start, end, project)
    if "repeat_repair" in rules:
        out += repeat_repairs(period, start, end, project)
    if "rising_complaints" in rules:
        out += rising_complaints(period, project)
    return out


def _finding(rule: str, key: str, project: str | None, period: Period, title: str, visit_ids: list[int], **extra):
    return {"rule": rule, "key": key, "project": project, "period": period.label, "title": title,
            "rule_title": RULE_TITLES[rule], "visit_ids": sorted(visit_ids), **extra}


def unqualified(period: Period, start, end, project: str | None) -> list[dict]:
    """One finding per project and period: its unqualified visits (FLOW-09/13, REC-04)."""
    query = (select(V.c.project_key, func.count(), func.aggregate_strings(func.cast(V.c.id, String), ","))
             .where(V.c.qualified.is_(False), V.c.trigger_at >= start, V.c.trigger_at < end)
             .group_by(V.c.project_key).order_by(V.c.project_key))
    if project:
        query = query.where(V.c.project_key == project)
    return [_finding("unqualified", _key("unqualified", proj or "", period.label), proj, period,
                     f"{RULE_TITLES['unqualified']} ×{n}", _ids(ids), count=int(n), threshold=1)
            for proj, n, ids in db.session.execute(query)]


def _ids(text) -> list[int]:
    return sorted(int(x) for x in (text or "").split(",") if x)


def _matter_events(category: str, start, end, project: str | None):
    cond = [E.c.category == category, E.c.duplicate_of_id.is_(None), E.c.subject.is_not(None),
            E.c.household_id.is_not(None), E.c.received_at >= start, E.c.received_at < end]
    if project:
        cond.append(P.c.key == project)
    return cond


def _visits_by_event(event_ids: list[int]) -> dict[int, list[int]]:
    """The visits (cases and follow-ups) of many events, in one query."""
    out: dict[int, list[int]] = {}
    for start in range(0, len(event_ids), 5000):
        for event_id, visit_id in db.session.execute(select(V.c.service_event_id, V.c.id).where(
                V.c.service_event_id.in_(event_ids[start:start + 5000]))):
            out.setdefault(event_id, []).append(visit_id)
    return out


def _labels(household_ids) -> dict[int, str]:
    ids = sorted({h for h in household_ids if h is not None})
    out: dict[int, str] = {}
    for start in range(0, len(ids), 5000):
        for hid, building, room in db.session.execute(select(Household.id, Household.building, Household.room)
                                                      .where(Household.id.in_(ids[start:start + 5000]))):
            out[hid] = f"{building}-{room}"
    return out


def _matter_findings(rule: str, period: Period, rows, thresholds: dict[str, int]) -> list[dict]:
    """rows: (project, household_id, subject, count, "event,ids") already at or above the threshold."""
    rows = [r for r in rows if int(r[3]) >= thresholds.get(r[0], 3 if rule == "repeat_repair" else 2)]
    events = {tuple(r[:3]): _event_order(r[4]) for r in rows}
    by_event = _visits_by_event([e for ids in events.values() for e in ids])
    labels = _labels(r[1] for r in rows)
    out = []
    for proj, household_id, subject, n, _ids_text in sorted(rows, key=lambda r: (r[0], r[1], r[2])):
        event_ids = events[(proj, household_id, subject)]
        label = labels.get(household_id, str(household_id))
        out.append(_finding(rule, _key(rule, proj, household_id, subject, period.label), proj, period,
                            f"{RULE_TITLES[rule]}: {label} {subject} ×{int(n)}",
                            [v for e in event_ids for v in by_event.get(e, [])], event_ids=event_ids,
                            household=label, household_id=household_id, subject=subject, count=int(n),
                            threshold=thresholds.get(proj)))
    return out


def _event_order(text) -> list[int]:
    """Event ids as aggregated ("received_at|id" pairs sort by time)."""
    pairs = sorted(x.split("|") for x in (text or "").split(",") if x)
    return [int(i) for _at, i in pairs]


def _at_id(at_col, id_col):
    """A sortable "time|id" text per event, aggregated into one string per group (string_agg/group_concat)."""
    return func.aggregate_strings(func.cast(at_col, String) + "|" + func.cast(id_col, String), ",")


def repeat_complaints(period: Period, start, end, project: str | None) -> list[dict]:
    """AMB-06 runs: complaints (1) and satisfied complaint visits (0) of each matter in time order; the run
    number is the count of satisfied visits so far, so a satisfied visit starts a new run."""
    thresholds = _thresholds("complaint")
    if not thresholds:
        return []
    matter = [P.c.key.label("project"), E.c.household_id.label("household_id"), E.c.subject.label("subject")]
    complaints = (select(*matter, E.c.received_at.label("at"), literal_column("1").label("is_complaint"),
                         E.c.id.label("event_id"))
                  .select_from(E.join(P, E.c.project_id == P.c.id)).where(*_matter_events("complaint", start, end,
                                                                                          project)))
    satisfied = (select(*matter, V.c.visited_at, literal_column("0"), E.c.id)
                 .select_from(V.join(E, V.c.service_event_id == E.c.id).join(P, E.c.project_id == P.c.id))
                 .where(E.c.category == "complaint", E.c.subject.is_not(None), E.c.household_id.is_not(None),
                        V.c.process_key != "complaint_case", V.c.success.is_(True), V.c.satisfied.is_(True),
                        V.c.visited_at >= start, V.c.visited_at < end,
                        # the complaint a satisfied visit answers was received at most ~3 months before it (the
                        # longest window is 2 months, §2.2): the events' (category, received_at) index drives this
                        E.c.received_at >= start - SATISFIED_LOOKBACK, E.c.received_at < end,
                        *([P.c.key == project] if project else [])))
    stream = union_all(complaints, satisfied).subquery("stream")
    part = (stream.c.project, stream.c.household_id, stream.c.subject)
    runs = select(stream, func.sum(1 - stream.c.is_complaint).over(
        partition_by=part, order_by=(stream.c.at, stream.c.is_complaint)).label("run")).subquery("runs")
    grouped = (select(runs.c.project, runs.c.household_id, runs.c.subject, runs.c.run,
                      func.sum(runs.c.is_complaint).label("n"), _at_id(runs.c.at, runs.c.event_id))
               .where(runs.c.is_complaint == 1)
               .group_by(runs.c.project, runs.c.household_id, runs.c.subject, runs.c.run)
               .having(func.sum(runs.c.is_complaint) >= min(thresholds.values())))
    best: dict[tuple, tuple] = {}
    for proj, household_id, subject, _run, n, ids in db.session.execute(grouped):
        key = (proj, household_id, subject)
        if key not in best or int(n) > int(best[key][3]):
            best[key] = (proj, household_id, subject, int(n), ids)
    return _matter_findings("repeat_complaint", period, list(best.values()), thresholds)


def repeat_repairs(period: Period, start, end, project: str | None) -> list[dict]:
    thresholds = _thresholds("repair")
    if not thresholds:
        return []
    query = (select(P.c.key, E.c.household_id, E.c.subject, func.count(), _at_id(E.c.received_at, E.c.id))
             .select_from(E.join(P, E.c.project_id == P.c.id)).where(*_matter_events("repair", start, end, project))
             .group_by(P.c.key, E.c.household_id, E.c.subject)
             .having(func.count() >= min(thresholds.values())))
    return _matter_findings("repeat_repair", period, db.session.execute(query).all(), thresholds)


def _complaint_counts(period: Period, project: str | None) -> dict[str, int]:
    start, end = (utc(x) for x in period.bounds(localtime.zone()))
    query = (select(P.c.key, func.count()).select_from(E.join(P, E.c.project_id == P.c.id))
             .where(E.c.category == "complaint", E.c.duplicate_of_id.is_(None), E.c.received_at >= start,
                    E.c.received_at < end).group_by(P.c.key))
    if project:
        query = query.where(P.c.key == project)
    return {key: int(n) for key, n in db.session.execute(query)}


def rising_complaints(period: Period, project: str | None) -> list[dict]:
    """More complaints than in the previous period (上期) or the same period a year earlier (同期)."""
    current = _complaint_counts(period, project)
    compared = {"previous": (period.previous(), _complaint_counts(period.previous(), project)),
                "year_earlier": (period.year_earlier(), _complaint_counts(period.year_earlier(), project))}
    start, end = (utc(x) for x in period.bounds(localtime.zone()))
    out = []
    for proj, n in sorted(current.items()):
        for basis, (other, counts) in compared.items():
            before = counts.get(proj, 0)
            if n <= before:
                continue
            visits = list(db.session.scalars(select(V.c.id).where(
                is_case(), V.c.project_key == proj, V.c.trigger_at >= start, V.c.trigger_at < end)))
            basis_zh = "环比 vs previous period" if basis == "previous" else "同比 vs a year earlier"
            out.append(_finding("rising_complaints", _key("rising_complaints", basis, proj, period.label), proj,
                                period, f"{RULE_TITLES['rising_complaints']} ({basis_zh}): {before} → {n}", visits,
                                basis=basis, compared_period=other.label, count=n, before=before))
    return out


def find(key: str, period: Period, project: str | None = None) -> dict | None:
    """The finding with this key in the period as it stands now (a CAPA starts only from a real finding)."""
    rule = key.split(":", 1)[0]
    if rule not in RULES:
        return None
    for finding in findings(period, project=project, rules=(rule,), now=clock.now()):
        if finding["key"] == key:
            return finding
    return None


__all__ = ["RULES", "findings", "find", "and_"]
