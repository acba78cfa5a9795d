"""SCRIPT_FUNCTIONS in a running BPMN script: a diagram computes SOP deadlines from the policy snapshot."""
from __future__ import annotations

from tests.conftest import ADMIN, AGENT, load_fixture
from tests.engine.diagrams import scripted, task_of
from workflows.actor import Actor
from workflows.policy import load_profiles

OWNER = Actor("owner", frozenset({"ProcessOwner"}))
FORMS = load_fixture("two_step")[1]


def test_bpmn_script_uses_visit_window_working_days_and_complaint_deadlines(engine, session):
    """P000-2 repair [T+1M, T+2M] (AMB-39), 10 working days over Spring Festival 2024 (AMB-20),
    P003 MAJOR complaint reply in 2 clock hours (AMB-33) — all computed inside the script task."""
    script = "\n".join([
        "t = datetime.fromisoformat(trigger)",
        "opens, due = visit_window(policy, 'repair', t)",
        "window = [opens.isoformat(), due.isoformat()]",
        "wd = add_working_days(datetime.fromisoformat('2024-02-02T10:00:00+08:00'), 10).date().isoformat()",
        "sla = complaint_deadlines(p003, 'MAJOR', t)",
        "reply = sla['reply_due'].isoformat()",
        "k, home = sample_size(p002, 'repair', 37)",
        "del opens, due, t, sla",
    ])
    engine.deploy("scripted", scripted(script), FORMS, OWNER)
    profiles = load_profiles()
    instance = engine.start("scripted", ADMIN, {"policy": profiles["P000-2"], "p003": profiles["P003"],
                                                 "p002": profiles["P002"], "trigger": "2024-01-31T10:00:00+08:00"})
    engine.complete(task_of(session, instance.id, "visit").id, AGENT, {"result": "satisfied"})
    data = engine.workflow_data(instance.id)
    assert data["window"] == ["2024-02-29T00:00:00+08:00", "2024-03-31T23:59:59.999999+08:00"]
    assert data["wd"] == "2024-02-21"
    assert data["reply"] == "2024-01-31T12:00:00+08:00"
    assert (data["k"], data["home"]) == (12, 6)
