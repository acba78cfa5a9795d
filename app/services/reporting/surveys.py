"""Quarterly visit themes (GOV-01) and satisfaction surveys whose dissatisfaction items flow back into
follow-up visits (§2.10 CAT-SV-01…05, GOV-11; half-yearly by default, AMB-11).

A theme is published once per quarter (company-wide, or a project's own under it) and is put into the start
data of every visit of that quarter (visits.start_visit). A survey is issued per project and period; each
household's answers are recorded once; every item answered "unsatisfied" must carry the specific reason
(CAT-SV-01) and starts one ``survey_item`` follow-up visit (CAT-SV-02: 100% of them; who visits and how comes
from the profile's survey_item category).
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from workflows import clock, localtime
from workflows.actor import Actor
from workflows.errors import Conflict, InvalidInput, NotFound, Problem
from workflows.policy.profiles import PolicyError
from workflows.policy.reporting import parse_period, period_containing

from ...extensions import db
from ...models.intake import Household, Project
from ...models.stats import Survey, SurveyResponse, VisitTheme
from ..flows.visits import start_visit
from .kpis import profile_params


def publish_theme(quarter: str, theme: str, content: str | None, actor: Actor, scope: str | None = None) -> VisitTheme:
    problems = []
    try:
        if parse_period(quarter).kind != "quarter":
            raise PolicyError("quarter", "")
    except PolicyError:
        problems.append(Problem(f"{quarter!r} is not a quarter: write 2024-Q1", field="quarter"))
    if not (theme or "").strip():
        problems.append(Problem("the theme is required", field="theme"))
    if problems:
        raise InvalidInput(problems)
    row = VisitTheme(quarter=quarter.strip(), scope=(scope or "company").strip(), theme=theme.strip()[:200],
                     content=(content or "").strip() or None, published_by=actor.username, published_at=clock.now())
    db.session.add(row)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(f"the theme of {quarter} ({row.scope}) was already published") from None
    return row


def issue_survey(project: str, period: str, items: list[str], actor: Actor) -> Survey:
    problems = []
    if not db.session.scalar(select(Project.id).where(Project.key == (project or ""))):
        problems.append(Problem(f"there is no project {project!r}", field="project"))
    try:
        kind = parse_period(period).kind
    except PolicyError as err:
        problems.append(Problem(err.message, field="period"))
    else:
        # CAT-SV-05/AMB-11: the profile's survey frequency (half-yearly unless it says yearly or quarterly)
        frequency = profile_params(project).get("survey_frequency") or "half_year" if not problems else None
        if frequency and kind != frequency:
            example = {"half_year": "2024-H1", "year": "2024", "quarter": "2024-Q1", "month": "2024-03"}[frequency]
            problems.append(Problem(f"this project's profile surveys per {frequency.replace('_', '-')}: "
                                    f"name such a period, e.g. {example}", field="period"))
    items = [str(i).strip() for i in items or [] if str(i).strip()]
    if not items:
        problems.append(Problem("name at least one survey item", field="items"))
    elif len(set(items)) != len(items):
        problems.append(Problem("survey items must differ", field="items"))
    if problems:
        raise InvalidInput(problems)
    survey = Survey(project_key=project, period=period.strip(), items=items, issued_by=actor.username,
                    issued_at=clock.now())
    db.session.add(survey)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(f"the survey of {project} {period} was already issued") from None
    return survey


# Asked when a project has no survey yet to take the items from (REC-09: 服务满意度调查表).
DEFAULT_ITEMS = ["客户服务 Customer service", "维修服务 Repairs", "保洁 Cleaning", "绿化 Landscaping",
                 "安全秩序 Security", "停车管理 Parking"]
SCHEDULER = Actor("system", frozenset({"Supervisor"}))


def issue_due_surveys() -> list[Survey]:
    """Each project's survey of the current period, at the profile's frequency (CAT-SV-05/AMB-11: half-yearly
    unless the profile says otherwise), with the items of its last survey; the worker calls this every sweep
    and a period is issued once (the unique key decides between racing workers)."""
    issued = []
    for key in db.session.scalars(select(Project.key).order_by(Project.key)).all():
        frequency = profile_params(key).get("survey_frequency") or "half_year"
        label = period_containing(clock.now(), frequency, localtime.zone()).label
        if db.session.scalar(select(Survey.id).where(Survey.project_key == key, Survey.period == label)):
            continue
        last = db.session.scalar(select(Survey).where(Survey.project_key == key).order_by(Survey.id.desc()).limit(1))
        try:
            issued.append(issue_survey(key, label, list(last.items) if last else DEFAULT_ITEMS, SCHEDULER))
        except Conflict:
            continue  # another worker issued it first
    return issued


def record_response(survey_id: int, household_id: int, answers: list[dict], actor: Actor) -> SurveyResponse:
    """Record one household's answers; start a follow-up visit for each unsatisfied item."""
    survey = db.session.get(Survey, survey_id)
    if survey is None:
        raise NotFound(f"survey {survey_id} does not exist")
    household = db.session.get(Household, household_id) if isinstance(household_id, int) else None
    problems = []
    if household is None or household.project.key != survey.project_key:
        problems.append(Problem(f"household {household_id!r} is not a household of {survey.project_key}",
                                field="household_id"))
    if not isinstance(answers, list) or not answers:
        problems.append(Problem("answers must be a list of {item, satisfied, reason}", field="answers"))
        answers = []
    seen = set()
    for i, answer in enumerate(answers):
        where = f"answers[{i}]"
        if not isinstance(answer, dict):
            problems.append(Problem("must be an object", field=where))
            continue
        item = answer.get("item")
        if item not in survey.items:
            problems.append(Problem(f"{item!r} is not an item of this survey ({', '.join(survey.items)})",
                                    field=f"{where}.item"))
        elif item in seen:
            problems.append(Problem(f"{item} is answered twice", field=f"{where}.item"))
        seen.add(item)
        if not isinstance(answer.get("satisfied"), bool):
            problems.append(Problem("satisfied must be true or false", field=f"{where}.satisfied"))
        elif answer["satisfied"] is False and not str(answer.get("reason") or "").strip():
            problems.append(Problem("CAT-SV-01: ask the customer for the specific reason of 'unsatisfied' and "
                                    "record it", field=f"{where}.reason"))
    if problems:
        raise InvalidInput(problems)
    if db.session.scalar(select(SurveyResponse.id).where(SurveyResponse.survey_id == survey.id,
                                                         SurveyResponse.household_id == household.id)):
        raise Conflict(f"household {household.label} has already answered this survey")
    unsatisfied = [a for a in answers if a["satisfied"] is False]
    response = SurveyResponse(survey_id=survey.id, household_id=household.id, household=household.label,
                              answers=answers, unsatisfied=len(unsatisfied), visit_ids=[],
                              recorded_by=actor.username, recorded_at=clock.now())
    db.session.add(response)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(f"household {household.label} has already answered this survey") from None
    visit_ids = []
    for answer in unsatisfied:
        visit = start_visit("survey_item", project=survey.project_key, household=household.label,
                            household_id=household.id, actor=actor,
                            extra={"survey_id": survey.id, "survey_item": answer["item"],
                                   "survey_reason": answer["reason"], "content": f"{answer['item']}: {answer['reason']}"})
        visit_ids.append(visit.id)
    response.visit_ids = visit_ids
    db.session.commit()
    return response


def survey_summary(survey_id: int) -> dict:
    """Per item: answers, unsatisfied, satisfaction rate (REC-09/REC-15)."""
    survey = db.session.get(Survey, survey_id)
    if survey is None:
        raise NotFound(f"survey {survey_id} does not exist")
    counts = {item: [0, 0] for item in survey.items}
    for answers in db.session.scalars(select(SurveyResponse.answers).where(SurveyResponse.survey_id == survey.id)):
        for answer in answers:
            counts[answer["item"]][0] += 1
            counts[answer["item"]][1] += 0 if answer["satisfied"] else 1
    return {"survey": survey.id, "project": survey.project_key, "period": survey.period, "items": [
        {"item": item, "answers": n, "unsatisfied": bad, "satisfaction": round((n - bad) / n, 4) if n else None}
        for item, (n, bad) in counts.items()]}
