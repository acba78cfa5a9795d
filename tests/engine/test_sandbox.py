"""Scripts run in the sandbox: refused operations fail the step, name the task, change nothing."""
from __future__ import annotations

import pytest

from tests.conftest import ADMIN, AGENT, load_fixture
from tests.engine.diagrams import events, open_tasks, scripted, snapshot, task_of
from workflows import diagram as diagram_module
from workflows.actor import Actor
from workflows.errors import InvalidDiagram, ScriptFailed
from workflows.sandbox import SandboxScriptEngine
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException

OWNER = Actor("owner", frozenset({"ProcessOwner"}))
FORMS = load_fixture("two_step")[1]

REFUSED = {
    "import_os": ("import os\nx = os.getcwd()", "import of 'os' is not allowed"),
    "import_socket": ("import socket\ns = socket.socket()", "import of 'socket' is not allowed"),
    "from_import": ("from subprocess import run", "import of 'subprocess' is not allowed"),
    "open": ("x = open('/etc/passwd').read()", "open() is not allowed"),
    "eval": ("x = eval('1 + 1')", "Eval calls are not allowed"),
    "eval_by_name": ("f = [eval][0]\nx = f('1')", "eval() is not allowed"),
    "exec": ("exec('x = 1')", "Exec calls are not allowed"),
    "dunder_import": ("os = __import__('os')", "__import__"),
    "bases": ("x = ().__class__.__bases__", "__class__"),
    "getattr_dunder": ("x = getattr((), '__class__')", "name 'getattr' is not defined"),
    "format_escape": ("x = '{0.__class__}'.format(1)", "format*() methods of `str` is not safe"),
}


@pytest.fixture
def deploy_unchecked(engine, monkeypatch):
    """Deploy a scripted diagram with the deploy-time script check switched off."""
    def _deploy(script: str):
        with monkeypatch.context() as m:
            m.setattr(diagram_module, "check_script", lambda source: None)
            return engine.deploy("scripted", scripted(script), FORMS, OWNER)
    return _deploy


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_at_run_time_and_nothing_changes(name, engine, session, session_factory, deploy_unchecked):
    script, message = REFUSED[name]
    deploy_unchecked(script)
    instance = engine.start("scripted", ADMIN)
    visit = task_of(session, instance.id, "visit")
    before = snapshot(session_factory, instance.id)

    with pytest.raises(ScriptFailed) as caught:
        engine.complete(visit.id, AGENT, {"result": "satisfied"})
    assert caught.value.element_id == "run_script"
    assert "run_script" in str(caught.value) and message in str(caught.value)

    after = snapshot(session_factory, instance.id)
    assert after["state"] == before["state"]
    assert after["lock_version"] == before["lock_version"]
    assert after["tasks"] == before["tasks"] and [t[1] for t in after["tasks"]] == ["visit"]
    [error] = events(session, "error")
    assert error.id not in before["events"] and set(after["events"]) - set(before["events"]) == {error.id}
    assert (error.actor, error.instance_id, error.task_id) == ("li", instance.id, visit.id)
    assert error.detail["element_id"] == "run_script" and message in error.detail["message"]
    assert not events(session, "task_completed")

    # The instance is still usable: the same task fails the same way, nothing was half-applied.
    with pytest.raises(ScriptFailed):
        engine.complete(visit.id, AGENT, {"result": "satisfied"})
    assert snapshot(session_factory, instance.id)["lock_version"] == before["lock_version"]


@pytest.mark.parametrize("name", ["import_os", "import_socket", "from_import", "dunder_import", "bases"])
def test_deploy_time_check_also_rejects(name, engine, session):
    with pytest.raises(InvalidDiagram) as caught:
        engine.deploy("scripted", scripted(REFUSED[name][0]), FORMS, OWNER)
    assert [p.element_id for p in caught.value.problems] == ["run_script"]


@pytest.mark.parametrize("script", [REFUSED["import_os"][0], REFUSED["open"][0], REFUSED["bases"][0]])
def test_sandbox_engine_directly(script):
    """The workflow built by hand with the sandbox engine refuses the same things."""
    from workflows.diagram import build_specs
    spec, subs = build_specs(scripted(script), "scripted")
    workflow = BpmnWorkflow(spec, subs, script_engine=SandboxScriptEngine())
    workflow.do_engine_steps()
    visit = workflow.get_next_task(manual=True)
    assert visit.task_spec.bpmn_id == "visit"
    visit.data["result"] = "satisfied"
    visit.run()
    with pytest.raises(WorkflowTaskException) as caught:
        workflow.do_engine_steps()
    assert caught.value.task_spec.bpmn_id == "run_script"


def test_refused_at_start_records_error_and_stores_no_instance(engine, session, monkeypatch):
    from tests.engine.diagrams import count
    from workflows.models import ProcessInstance
    with monkeypatch.context() as m:
        m.setattr(diagram_module, "check_script", lambda source: None)
        xml, forms = load_fixture("two_step")
        engine.deploy("two_step", xml.replace(b"visit_due = (now()", b"import os\nvisit_due = (now()"), forms, OWNER)
    with pytest.raises(ScriptFailed) as caught:
        engine.start("two_step", ADMIN)
    assert caught.value.element_id == "set_due" and "import of 'os' is not allowed" in str(caught.value)
    assert count(session, ProcessInstance) == 0 and open_tasks(session) == []
    [error] = events(session, "error")
    assert error.actor == "admin" and error.detail["element_id"] == "set_due"


def test_normal_scripts_work(engine, session, frozen_clock):
    script = "\n".join([
        "total = sum([1, 2, 3]) * 2 + 10 // 3 - 2 ** 2",
        "squares = [n * n for n in range(5) if n % 2 == 0]",
        "info = {'a': 1, 'b': [1, 2]}",
        "info['c'] = len(info['b'])",
        "count = 0",
        "for key, value in sorted(info.items()):",
        "    count += 1",
        "due = (now() + timedelta(days=2, hours=3)).isoformat()",
        "stamp = datetime(2024, 1, 2, tzinfo=timezone.utc).date().isoformat()",
        "word = 'ok' if result == 'satisfied' else 'no'",
        "text = ', '.join(str(n) for n in squares)",
        "rounded = round(min(3.14159, 9), 2)",
    ])
    engine.deploy("scripted", scripted(script), FORMS, OWNER)
    instance = engine.start("scripted", ADMIN)
    engine.complete(task_of(session, instance.id, "visit").id, AGENT, {"result": "satisfied"})
    data = engine.workflow_data(instance.id)
    assert data["total"] == 12 + 3 - 4
    assert data["squares"] == [0, 4, 16]
    assert data["info"] == {"a": 1, "b": [1, 2], "c": 2}
    assert data["count"] == 3
    assert data["due"] == "2024-03-06T04:00:00+00:00"  # frozen clock 2024-03-04 01:00 + 2d3h
    assert data["stamp"] == "2024-01-02" and data["word"] == "ok"
    assert data["text"] == "0, 4, 16" and data["rounded"] == 3.14
    # Script helpers are not left behind in the task data.
    assert not {"now", "timedelta", "datetime", "__builtins__"} & set(data)
    assert [t.bpmn_id for t in open_tasks(session, instance.id)] == ["review"]
