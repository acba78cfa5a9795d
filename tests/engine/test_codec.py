"""workflows/codec.py: the state document, with finished tasks' dicts kept on the tasks between steps.

Every document must equal the one written from scratch, also after a task was reset."""
from __future__ import annotations

import json

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from tests.engine.diagrams import called_visit, caller, parallel
from workflows.codec import StateCodec

KEPT = "_huifang_dict"


def _workflow(*diagrams: bytes, process: str, **start_data) -> BpmnWorkflow:
    parser = SpiffBpmnParser()
    for xml in diagrams:
        parser.add_bpmn_str(xml)
    workflow = BpmnWorkflow(parser.get_spec(process), parser.get_subprocess_specs(process))
    workflow.get_next_task(state=TaskState.READY).set_data(**start_data)
    workflow.do_engine_steps()
    return workflow


def _all_tasks(workflow: BpmnWorkflow):
    for wf in (workflow, *workflow.subprocesses.values()):
        yield from wf.tasks.values()


def _from_scratch(workflow: BpmnWorkflow) -> dict:
    """The document as a codec writes it with nothing kept on the tasks."""
    for task in _all_tasks(workflow):
        task.__dict__.pop(KEPT, None)
    return json.loads(StateCodec().dumps(workflow))


def _complete_one(workflow: BpmnWorkflow, n: int) -> bool:
    task = workflow.get_next_task(state=TaskState.READY, manual=True)
    if task is None:
        return False
    task.data.update({"result": "satisfied", "step": n, "note": f"第{n}步 step {n}"})
    task.run()
    workflow.do_engine_steps()
    return True


def _run_and_compare(workflow: BpmnWorkflow) -> int:
    codec = StateCodec()
    steps = 0
    while True:
        kept = json.loads(codec.dumps(workflow))
        assert kept == _from_scratch(workflow)
        codec.dumps(workflow)  # keep the finished tasks' dicts again for the next step
        if not _complete_one(workflow, steps):
            return steps
        steps += 1


def test_every_step_writes_the_document_a_fresh_codec_writes():
    workflow = _workflow(parallel(), process="parallel")
    assert _run_and_compare(workflow) == 3
    assert workflow.is_completed()
    assert any(KEPT in task.__dict__ for task in _all_tasks(workflow))  # the dicts were kept and used


def test_a_called_process_is_written_alike():
    workflow = _workflow(caller("called_visit"), called_visit(), process="caller")
    assert _run_and_compare(workflow) == 1
    assert workflow.is_completed()


MULTI_INSTANCE = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="defs_mi"
    targetNamespace="http://huifang.example/bpmn">
  <bpmn:process id="each_unit" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="visit_unit" name="Visit each unit">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:multiInstanceLoopCharacteristics isSequential="false">
        <bpmn:loopDataInputRef>units</bpmn:loopDataInputRef>
        <bpmn:inputDataItem id="unit"/>
      </bpmn:multiInstanceLoopCharacteristics>
    </bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="visit_unit"/>
    <bpmn:sequenceFlow id="f2" sourceRef="visit_unit" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""


def test_finished_instances_of_a_running_multi_instance_task_are_written_anew():
    """Their parent takes each one's data as it finishes, so their delta from it changes without a state change."""
    workflow = _workflow(MULTI_INSTANCE, process="each_unit", units=["1-101", "1-102", "1-103"])
    assert _run_and_compare(workflow) == 3
    assert workflow.is_completed()


def test_a_reset_task_is_written_anew():
    workflow = _workflow(parallel(), process="parallel")
    codec = StateCodec()
    first = workflow.get_next_task(state=TaskState.READY, manual=True)
    _complete_one(workflow, 0)
    _complete_one(workflow, 1)
    codec.dumps(workflow)
    assert KEPT in first.__dict__
    workflow.reset_from_task_id(first.id)
    after_reset = json.loads(codec.dumps(workflow))
    assert after_reset == _from_scratch(workflow)
    assert after_reset["tasks"][str(first.id)]["state"] == TaskState.READY
    # Done again, with other data and new children: the dict kept from its first completion is stale.
    first.data.update({"result": "unsatisfied"})
    first.run()
    workflow.do_engine_steps()
    again = json.loads(codec.dumps(workflow))
    assert again == _from_scratch(workflow)
    assert again["tasks"][str(first.id)]["delta"]["updates"]["result"] == "unsatisfied"


def test_a_kept_document_restores_to_the_same_state():
    workflow = _workflow(parallel(), process="parallel")
    codec = StateCodec()
    _complete_one(workflow, 0)
    codec.dumps(workflow)
    _complete_one(workflow, 1)
    document = codec.dumps(workflow)
    restored = codec.loads(document, workflow.spec, workflow.subprocess_specs)
    assert json.loads(StateCodec().dumps(restored)) == json.loads(document)
