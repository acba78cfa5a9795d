"""Small diagrams built in code, so each test shows the one element it is about."""
from __future__ import annotations

from xml.sax.saxutils import escape

import sqlalchemy as sa
from sqlalchemy import func, select

from tests.conftest import load_fixture
from workflows.models import EngineEvent, HumanTask, ProcessInstance, ProcessVersion, Timer

HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" '
        'id="defs_{pid}" targetNamespace="http://huifang.example/bpmn">\n')


def _role(role: str) -> str:
    return ('<bpmn:extensionElements><spiffworkflow:properties>'
            f'<spiffworkflow:property name="role" value="{role}"/>'
            '</spiffworkflow:properties></bpmn:extensionElements>')


def _form(name: str) -> str:
    return ('<bpmn:extensionElements><spiffworkflow:properties>'
            f'<spiffworkflow:property name="formJsonSchemaFilename" value="{name}"/>'
            '</spiffworkflow:properties></bpmn:extensionElements>')


def scripted(script: str, pid: str = "scripted") -> bytes:
    """start -> visit (Agent) -> run_script -> review (Supervisor) -> end."""
    return (HEAD.format(pid=pid) + f'''
  <bpmn:process id="{pid}" isExecutable="true">
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="lane_agent" name="Agent">{_role("Agent")}
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>visit</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>run_script</bpmn:flowNodeRef>
      </bpmn:lane>
      <bpmn:lane id="lane_supervisor" name="Supervisor">{_role("Supervisor")}
        <bpmn:flowNodeRef>review</bpmn:flowNodeRef><bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="visit" name="Visit">{_form("visit.schema.json")}
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:scriptTask id="run_script" name="Run script">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:script>{escape(script)}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:userTask id="review" name="Review">{_form("review.schema.json")}
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="visit"/>
    <bpmn:sequenceFlow id="f2" sourceRef="visit" targetRef="run_script"/>
    <bpmn:sequenceFlow id="f3" sourceRef="run_script" targetRef="review"/>
    <bpmn:sequenceFlow id="f4" sourceRef="review" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
''').encode()


def gateway(condition: str = 'result == "satisfied"', default: bool = True, pid: str = "gated") -> bytes:
    """start -> visit -> gw: satisfied ends at once, otherwise (default flow) review -> end."""
    default_attr = ' default="f_no"' if default else ""
    return (HEAD.format(pid=pid) + f'''
  <bpmn:process id="{pid}" isExecutable="true">
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="lane_agent" name="Agent">{_role("Agent")}
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>visit</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>gw</bpmn:flowNodeRef><bpmn:flowNodeRef>end_ok</bpmn:flowNodeRef>
      </bpmn:lane>
      <bpmn:lane id="lane_supervisor" name="Supervisor">{_role("Supervisor")}
        <bpmn:flowNodeRef>review</bpmn:flowNodeRef><bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="visit" name="Visit">{_form("visit.schema.json")}
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:exclusiveGateway id="gw" name="Satisfied?"{default_attr}>
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f_yes</bpmn:outgoing><bpmn:outgoing>f_no</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:userTask id="review" name="Review">{_form("review.schema.json")}
      <bpmn:incoming>f_no</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end_ok"><bpmn:incoming>f_yes</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="end"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="visit"/>
    <bpmn:sequenceFlow id="f2" sourceRef="visit" targetRef="gw"/>
    <bpmn:sequenceFlow id="f_yes" sourceRef="gw" targetRef="end_ok">
      <bpmn:conditionExpression>{escape(condition)}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_no" sourceRef="gw" targetRef="review"/>
    <bpmn:sequenceFlow id="f4" sourceRef="review" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
''').encode()


def no_tasks(pid: str, script: str = "x = 1") -> bytes:
    """start -> script -> end: a process another may call."""
    return (HEAD.format(pid=pid) + f'''
  <bpmn:process id="{pid}" isExecutable="true">
    <bpmn:startEvent id="{pid}_start"><bpmn:outgoing>{pid}_f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="{pid}_script"><bpmn:incoming>{pid}_f1</bpmn:incoming><bpmn:outgoing>{pid}_f2</bpmn:outgoing>
      <bpmn:script>{escape(script)}</bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="{pid}_end"><bpmn:incoming>{pid}_f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="{pid}_f1" sourceRef="{pid}_start" targetRef="{pid}_script"/>
    <bpmn:sequenceFlow id="{pid}_f2" sourceRef="{pid}_script" targetRef="{pid}_end"/>
  </bpmn:process>
</bpmn:definitions>
''').encode()


def caller(called: str, pid: str = "caller") -> bytes:
    """start -> call activity (calledElement=called) -> end."""
    return (HEAD.format(pid=pid) + f'''
  <bpmn:process id="{pid}" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:callActivity id="call_sub" name="Call" calledElement="{called}">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:callActivity>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="call_sub"/>
    <bpmn:sequenceFlow id="f2" sourceRef="call_sub" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
''').encode()


def parallel(pid: str = "parallel", review_due: str | None = None) -> bytes:
    """start -> fork: visit_a and visit_b (Agent, at the same time) -> join -> review (Supervisor) -> end.
    ``review_due`` is the review's dueAt expression."""
    due = (f'<spiffworkflow:property name="dueAt" value="{escape(review_due, {chr(34): "&quot;"})}"/>'
           if review_due else "")
    return (HEAD.format(pid=pid) + f'''
  <bpmn:process id="{pid}" isExecutable="true">
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="lane_agent" name="Agent">{_role("Agent")}
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>fork</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>visit_a</bpmn:flowNodeRef><bpmn:flowNodeRef>visit_b</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>join</bpmn:flowNodeRef>
      </bpmn:lane>
      <bpmn:lane id="lane_supervisor" name="Supervisor">{_role("Supervisor")}
        <bpmn:flowNodeRef>review</bpmn:flowNodeRef><bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:parallelGateway id="fork"><bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>fa</bpmn:outgoing><bpmn:outgoing>fb</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:userTask id="visit_a" name="Visit A">{_form("visit.schema.json")}
      <bpmn:incoming>fa</bpmn:incoming><bpmn:outgoing>fa2</bpmn:outgoing></bpmn:userTask>
    <bpmn:userTask id="visit_b" name="Visit B">{_form("visit.schema.json")}
      <bpmn:incoming>fb</bpmn:incoming><bpmn:outgoing>fb2</bpmn:outgoing></bpmn:userTask>
    <bpmn:parallelGateway id="join"><bpmn:incoming>fa2</bpmn:incoming><bpmn:incoming>fb2</bpmn:incoming>
      <bpmn:outgoing>f2</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:userTask id="review" name="Review">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formJsonSchemaFilename" value="review.schema.json"/>{due}
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="fork"/>
    <bpmn:sequenceFlow id="fa" sourceRef="fork" targetRef="visit_a"/>
    <bpmn:sequenceFlow id="fb" sourceRef="fork" targetRef="visit_b"/>
    <bpmn:sequenceFlow id="fa2" sourceRef="visit_a" targetRef="join"/>
    <bpmn:sequenceFlow id="fb2" sourceRef="visit_b" targetRef="join"/>
    <bpmn:sequenceFlow id="f2" sourceRef="join" targetRef="review"/>
    <bpmn:sequenceFlow id="f3" sourceRef="review" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
''').encode()


def called_visit(pid: str = "called_visit") -> bytes:
    """A process another may call: start -> sub_visit (Agent) -> end."""
    return (HEAD.format(pid=pid) + f'''
  <bpmn:process id="{pid}" isExecutable="true">
    <bpmn:laneSet id="{pid}_lanes">
      <bpmn:lane id="{pid}_lane_agent" name="Agent">{_role("Agent")}
        <bpmn:flowNodeRef>{pid}_start</bpmn:flowNodeRef><bpmn:flowNodeRef>sub_visit</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>{pid}_end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="{pid}_start"><bpmn:outgoing>{pid}_f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="sub_visit" name="Visit in the called process">{_form("visit.schema.json")}
      <bpmn:incoming>{pid}_f1</bpmn:incoming><bpmn:outgoing>{pid}_f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="{pid}_end"><bpmn:incoming>{pid}_f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="{pid}_f1" sourceRef="{pid}_start" targetRef="sub_visit"/>
    <bpmn:sequenceFlow id="{pid}_f2" sourceRef="sub_visit" targetRef="{pid}_end"/>
  </bpmn:process>
</bpmn:definitions>
''').encode()


def two_step() -> tuple[bytes, dict]:
    return load_fixture("two_step")


# ---------------------------------------------------------------- reading the database

class Statements:
    """The SQL an engine sends while ``active`` (cursor events fire for the prebuilt statements too)."""

    def __init__(self, db):
        self.sent: list[str] = []
        self.active = False
        self._db = db
        sa.event.listen(db, "before_cursor_execute", self._seen)

    def _seen(self, conn, cursor, statement, *args):
        if self.active:
            self.sent.append(" ".join(statement.split()).upper())

    def during(self, call):
        self.sent.clear()
        self.active = True
        try:
            return call()
        finally:
            self.active = False

    def reads(self) -> list[str]:
        return [s for s in self.sent if s.startswith("SELECT")]

    def close(self):
        sa.event.remove(self._db, "before_cursor_execute", self._seen)



def count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def events(session, kind: str | None = None, **where) -> list[EngineEvent]:
    query = select(EngineEvent).order_by(EngineEvent.id)
    if kind:
        query = query.where(EngineEvent.kind == kind)
    for key, value in where.items():
        query = query.where(getattr(EngineEvent, key) == value)
    return list(session.scalars(query))


def open_tasks(session, instance_id: int | None = None) -> list[HumanTask]:
    query = select(HumanTask).order_by(HumanTask.created_at, HumanTask.id)
    if instance_id is not None:
        query = query.where(HumanTask.instance_id == instance_id)
    return list(session.scalars(query))


def task_of(session, instance_id: int, bpmn_id: str) -> HumanTask:
    return session.scalar(select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.bpmn_id == bpmn_id))


def snapshot(session_factory, instance_id: int) -> dict:
    """What the database holds for one instance, read on a fresh session."""
    with session_factory() as s:
        instance = s.get(ProcessInstance, instance_id)
        return {
            "state": bytes(instance.state), "lock_version": instance.lock_version, "status": instance.status,
            "tasks": sorted((t.id, t.bpmn_id, t.assignee) for t in open_tasks(s, instance_id)),
            "timers": sorted((t.id, t.fire_at) for t in s.scalars(select(Timer).where(Timer.instance_id == instance_id))),
            "events": [e.id for e in events(s)],
        }


__all__ = ["scripted", "gateway", "no_tasks", "caller", "parallel", "called_visit", "two_step", "Statements", "count",
           "events", "open_tasks", "task_of", "snapshot", "ProcessVersion"]
