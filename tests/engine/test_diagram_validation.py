"""Deploy-time checks: every problem names its element (and line), and nothing is stored."""
from __future__ import annotations

import pytest

from tests.conftest import load_fixture
from tests.engine.diagrams import caller, count, events, gateway, no_tasks, scripted
from workflows.actor import Actor
from workflows.errors import InvalidDiagram
from workflows.models import EngineEvent, ProcessModel, ProcessVersion

OWNER = Actor("owner", frozenset({"ProcessOwner"}))


@pytest.fixture
def two_step():
    return load_fixture("two_step")


@pytest.fixture
def rejected(engine, session):
    """Deploy and expect InvalidDiagram; check nothing was stored; return the problems."""
    def _rejected(xml: bytes, forms: dict, key: str = "bad"):
        versions, models, trail = count(session, ProcessVersion), count(session, ProcessModel), count(session, EngineEvent)
        with pytest.raises(InvalidDiagram) as caught:
            engine.deploy(key, xml, forms, OWNER)
        session.rollback()
        assert count(session, ProcessVersion) == versions
        assert count(session, ProcessModel) == models
        assert count(session, EngineEvent) == trail
        assert caught.value.problems, "InvalidDiagram without problems"
        assert caught.value.to_dict()["error"] == "invalid_bpmn"
        return caught.value.problems
    return _rejected


def _line_of(xml: bytes, needle: bytes) -> int:
    return xml[:xml.index(needle)].count(b"\n") + 1


def _only(problems, element_id):
    found = [p for p in problems if p.element_id == element_id]
    assert found, f"no problem names {element_id}: {problems}"
    return found[0]


def test_malformed_xml_names_the_line(rejected, two_step):
    xml, forms = two_step
    broken = xml.replace(b'<bpmn:endEvent id="end">', b'<bpmn:endEvent id="end" name=unquoted>')
    [problem] = rejected(broken, forms)
    assert "not well-formed" in problem.message
    assert problem.line == _line_of(broken, b"name=unquoted")


def test_not_bpmn_root(rejected):
    [problem] = rejected(b'<?xml version="1.0"?>\n<html><body/></html>', {})
    assert "bpmn:definitions" in problem.message and problem.line == 2


def test_xsd_violation_names_element_and_line(rejected, two_step):
    xml, forms = two_step
    bad = xml.replace(b'<bpmn:startEvent id="start">', b'<bpmn:startEvent id="start"><bpmn:frobnicate/>')
    problems = rejected(bad, forms)
    problem = _only(problems, "start")
    assert problem.message.startswith("XSD") and "frobnicate" in problem.message
    assert problem.line == _line_of(bad, b"<bpmn:frobnicate/>")


def test_lane_without_role(rejected, two_step):
    xml, forms = two_step
    bad = xml.replace(b'<spiffworkflow:property name="role" value="Supervisor"/>', b"")
    problem = _only(rejected(bad, forms), "lane_supervisor")
    assert "no role" in problem.message
    assert problem.line == _line_of(bad, b'<bpmn:lane id="lane_supervisor"')


def test_lane_with_unknown_role(engine, session, two_step):
    xml, forms = two_step
    with pytest.raises(InvalidDiagram) as caught:
        engine.deploy("two_step", xml, forms, OWNER, known_roles={"Agent"})
    assert _only(caught.value.problems, "lane_supervisor").message.endswith("unknown role 'Supervisor'")
    session.rollback()
    assert count(session, ProcessVersion) == 0


def test_user_task_without_form(rejected, two_step):
    xml, forms = two_step
    bad = xml.replace(b'<spiffworkflow:property name="formJsonSchemaFilename" value="visit.schema.json"/>', b"")
    problem = _only(rejected(bad, forms), "visit")
    assert "has no form" in problem.message and problem.line == _line_of(bad, b'<bpmn:userTask id="visit"')


def test_form_file_not_supplied(rejected, two_step):
    xml, forms = two_step
    forms = {k: v for k, v in forms.items() if k != "review.schema.json"}
    problems = rejected(xml, forms)
    # Both tasks that use the form are named.
    assert {p.element_id for p in problems} == {"review", "escalate"}
    assert all("review.schema.json, which was not supplied" in p.message for p in problems)


def test_form_is_not_a_valid_json_schema(rejected, two_step):
    xml, forms = two_step
    forms = dict(forms, **{"visit.schema.json": {"type": "no-such-type"}})
    problem = _only(rejected(xml, forms), "visit")
    assert "not a valid JSON Schema" in problem.message


def test_unquoted_timer_duration(rejected, two_step):
    xml, forms = two_step
    bad = xml.replace(b"<bpmn:timeDate>visit_due</bpmn:timeDate>", b"<bpmn:timeDuration>PT1D</bpmn:timeDuration>")
    problem = _only(rejected(bad, forms), "visit_overdue")
    assert "not quoted" in problem.message
    assert problem.line == _line_of(bad, b"<bpmn:timeDuration>")


def test_quoted_timer_with_days_after_t(rejected, two_step):
    xml, forms = two_step
    bad = xml.replace(b"<bpmn:timeDate>visit_due</bpmn:timeDate>", b'<bpmn:timeDuration>"PT1D"</bpmn:timeDuration>')
    problem = _only(rejected(bad, forms), "visit_overdue")
    assert "days come before the T" in problem.message and '"P1D"' in problem.message


def test_quoted_valid_duration_deploys(engine, two_step):
    xml, forms = two_step
    good = xml.replace(b"<bpmn:timeDate>visit_due</bpmn:timeDate>", b'<bpmn:timeDuration>"P1D"</bpmn:timeDuration>')
    assert engine.deploy("two_step", good, forms, OWNER).number == 1


@pytest.mark.parametrize("script, words", [
    ("import os\nx = 1", ["imports os", "not allowed"]),
    ("from os import path", ["imports os", "not allowed"]),
    ("x = (", ["does not compile"]),
    ("x = ().__class__.__bases__", ["does not compile"]),
])
def test_bad_script_names_the_task(rejected, two_step, script, words):
    problem = _only(rejected(scripted(script), two_step[1]), "run_script")
    for word in words:
        assert word in problem.message
    assert problem.line == _line_of(scripted(script), b"<bpmn:script>")


def test_condition_that_does_not_compile(rejected, two_step):
    bad = gateway('result == ')
    problem = _only(rejected(bad, two_step[1]), "f_yes")
    assert "condition" in problem.message and "not a valid expression" in problem.message
    assert problem.line == _line_of(bad, b"<bpmn:conditionExpression>")


def test_gateway_branch_without_condition_and_not_default(rejected, two_step):
    problem = _only(rejected(gateway(default=False), two_step[1]), "gw")
    assert "f_no" in problem.message and "without a condition" in problem.message


def test_good_gateway_deploys_and_routes(engine, session, two_step):
    from tests.conftest import AGENT, ADMIN
    from tests.engine.diagrams import task_of
    engine.deploy("gated", gateway(), two_step[1], OWNER)
    happy = engine.start("gated", ADMIN)
    engine.complete(task_of(session, happy.id, "visit").id, AGENT, {"result": "satisfied"})
    unhappy = engine.start("gated", ADMIN)
    engine.complete(task_of(session, unhappy.id, "visit").id, AGENT, {"result": "unsatisfied"})
    assert session.get(type(happy), happy.id).status == "completed"
    assert task_of(session, unhappy.id, "review") is not None


def test_call_activity_to_undeployed_process(rejected):
    bad = caller("sub_proc")
    problem = _only(rejected(bad, {}), "call_sub")
    assert "'sub_proc'" in problem.message and "not deployed" in problem.message
    assert problem.line == _line_of(bad, b"<bpmn:callActivity")


def test_call_activity_to_deployed_process(engine, session):
    from tests.conftest import ADMIN
    engine.deploy("sub", no_tasks("sub_proc", "called = True"), {}, OWNER)
    version = engine.deploy("caller", caller("sub_proc"), {}, OWNER)
    assert "sub_proc" in version.called_processes
    instance = engine.start("caller", ADMIN)
    assert instance.status == "completed"


def test_several_executable_processes(rejected, two_step):
    xml, forms = two_step
    second = no_tasks("other").split(b'targetNamespace="http://huifang.example/bpmn">')[1].replace(b"</bpmn:definitions>", b"")
    bad = xml.replace(b"</bpmn:definitions>", second + b"</bpmn:definitions>")
    problem = _only(rejected(bad, forms), "other")
    assert "several executable processes" in problem.message
    assert problem.line == _line_of(bad, b'<bpmn:process id="other"')


def test_several_problems_are_all_reported(rejected, two_step):
    xml, forms = two_step
    bad = (xml.replace(b'<spiffworkflow:property name="role" value="Supervisor"/>', b"")
              .replace(b"<bpmn:timeDate>visit_due</bpmn:timeDate>", b"<bpmn:timeDuration>PT1D</bpmn:timeDuration>")
              .replace(b"visit_due = (now()", b"import os\nvisit_due = (now()"))
    ids = {p.element_id for p in rejected(bad, forms)}
    assert {"lane_supervisor", "visit_overdue", "set_due"} <= ids


@pytest.mark.parametrize("extension", [
    b'<bpmn:extensionElements><x:thing xmlns:x="http://example.com/x" a="1"><x:inner>t</x:inner></x:thing>'
    b'</bpmn:extensionElements>',
    b'<bpmn:extensionElements><spiffworkflow:unknownThing foo="bar"/></bpmn:extensionElements>',
    b'<x:alien xmlns:x="http://example.com/x"/>',
])
def test_unknown_extension_deploys_or_is_cleanly_rejected(engine, session, two_step, extension):
    xml, forms = two_step
    odd = xml.replace(b'<bpmn:startEvent id="start">', b'<bpmn:startEvent id="start">' + extension)
    try:
        version = engine.deploy("two_step", odd, forms, OWNER)
    except InvalidDiagram as err:
        assert err.problems
        session.rollback()
        assert count(session, ProcessVersion) == 0
    else:
        assert version.number == 1
        from tests.conftest import ADMIN
        assert engine.start("two_step", ADMIN).status == "running"


# ---------------------------------------------------------------- versions

def test_identical_redeploy_returns_the_same_version(engine, session, two_step):
    xml, forms = two_step
    first = engine.deploy("two_step", xml, forms, OWNER)
    first_id, first_hash = first.id, first.content_hash
    again = engine.deploy("two_step", xml, forms, OWNER)
    assert (again.id, again.number, again.content_hash) == (first_id, 1, first_hash)
    assert count(session, ProcessVersion) == 1
    assert len(events(session, "version_deployed")) == 1


def test_changed_diagram_gets_next_number_and_versions_are_immutable(engine, session, two_step):
    xml, forms = two_step
    v1 = engine.deploy("two_step", xml, forms, OWNER, comment="first")
    v1_id, v1_hash, v1_xml = v1.id, v1.content_hash, v1.bpmn_xml
    changed = xml.replace(b"\xe5\xae\xa1\xe6\xa0\xb8 Review", b"Review v2")
    v2 = engine.deploy("two_step", changed, forms, OWNER, comment="second")
    assert v2.number == 2 and v2.id != v1_id and v2.content_hash != v1_hash
    # A changed form alone is a change too.
    forms3 = dict(forms, **{"review.schema.json": dict(forms["review.schema.json"], title="Review")})
    assert engine.deploy("two_step", changed, forms3, OWNER).number == 3
    session.expire_all()
    stored = session.get(ProcessVersion, v1_id)
    assert (stored.number, stored.content_hash, stored.bpmn_xml) == (1, v1_hash, v1_xml)
    assert len(v1_hash) == 64
    deployed = events(session, "version_deployed")
    assert [e.detail["number"] for e in deployed] == [1, 2, 3]
    assert all(e.actor == "owner" for e in deployed)
    # Redeploying the first content again is still version 1, not 4.
    assert engine.deploy("two_step", xml, forms, OWNER).number == 1
    assert count(session, ProcessVersion) == 3


def test_flow_to_a_missing_element_names_the_flow_and_line(rejected, two_step):
    xml, forms = two_step
    broken = xml.replace(b'sourceRef="review" targetRef="end"', b'sourceRef="review" targetRef="end_gone"')
    problems = rejected(broken, forms)
    [problem] = [p for p in problems if p.element_id == "f4"]
    assert "targetRef points to 'end_gone'" in problem.message
    assert problem.line == _line_of(broken, b'id="f4"')


def test_a_called_processs_user_tasks_and_forms_become_part_of_the_callers_version(engine, session, two_step):
    """A call activity's user tasks get their role, form and due date from the called version; a changed
    called process makes a new caller version; a form name meaning two things is refused."""
    from tests.conftest import ADMIN
    from tests.engine.diagrams import open_tasks
    from workflows.errors import InvalidDiagram

    xml, forms = two_step
    engine.deploy("two_step", xml, forms, OWNER)
    version = engine.deploy("caller", caller("two_step"), {}, OWNER)
    assert {"visit", "review"} <= set(version.user_tasks) and set(forms) <= set(version.forms)
    instance = engine.start("caller", ADMIN, {"household": "C-1"})
    [task] = open_tasks(session, instance.id)
    assert (task.bpmn_id, task.role, task.form_key) == ("visit", "Agent", "visit.schema.json")
    assert task.due_at is not None
    assert engine.deploy("caller", caller("two_step"), {}, OWNER).number == version.number  # nothing changed
    engine.deploy("two_step", xml.replace(b'name="Two step"', b'name="Two steps"'), forms, OWNER)
    assert engine.deploy("caller", caller("two_step"), {}, OWNER).number == version.number + 1
    clash = {"visit.schema.json": {"type": "object", "properties": {"other": {"type": "string"}}}}
    with pytest.raises(InvalidDiagram) as err:
        engine.deploy("caller", caller("two_step"), clash, OWNER)
    assert err.value.problems[0].field == "visit.schema.json" and "two_step" in err.value.problems[0].message
