"""Moving running instances to a newer version of their diagram, with SpiffWorkflow's diff/migrate.

An instance is pinned to the version it started on. Moving it is explicit: ``plan`` says what would
change and whether it may; ``migrate`` does it in one transaction (the instance row's lock_version
guards it like any step). It is refused, with the reason, when a task that already ran (completed,
started — e.g. a called process in progress — or failed) would change or disappear, or when an open
task or waiting timer would disappear. Open tasks and waiting timers whose element changed are reset
onto the new element (same task id, new name/role/form/due date/timer), as SpiffWorkflow's
``migrate_workflow`` does; predicted (future) tasks follow the new diagram.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import delete, select, update
from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff, migrate_workflow
from SpiffWorkflow.util.task import TaskState

from .errors import Conflict, EngineError, NotFound
from .models import HumanTask, ProcessInstance, ProcessVersion, Timer

# Tasks that already ran (or are running): the diagram under them must not change.
_RAN = TaskState.COMPLETED | TaskState.STARTED | TaskState.ERROR
# Tasks that exist for real (not merely predicted): they must not disappear.
_DEFINITE = _RAN | TaskState.READY | TaskState.WAITING


class MigrationRefused(Conflict):
    code = "migration_refused"

    def __init__(self, instance_id: int, reasons: list[str]):
        self.instance_id = instance_id
        self.reasons = reasons
        super().__init__(f"instance {instance_id} cannot be migrated: " + "; ".join(reasons))

    def to_dict(self) -> dict:
        return {**super().to_dict(), "instance_id": self.instance_id, "reasons": self.reasons}


@dataclass
class MigrationPlan:
    instance_id: int
    business_key: str | None
    from_version_id: int
    from_number: int
    to_version_id: int
    to_number: int
    allowed: bool = True
    reasons: list[str] = field(default_factory=list)  # why it is refused
    changes: list[str] = field(default_factory=list)  # what migrating would do to this instance

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _label(task) -> str:
    spec = task.task_spec
    name = getattr(spec, "bpmn_name", None)
    bpmn_id = getattr(spec, "bpmn_id", None) or spec.name
    return f"'{name}' ({bpmn_id})" if name else bpmn_id


def _state(task) -> str:
    return TaskState.get_name(task.state).lower()


def _check(diff: WorkflowDiff, spec_diff: SpecDiff, where: str, plan: MigrationPlan) -> None:
    changed = spec_diff.changed
    for task in diff.removed:
        if task.has_state(_DEFINITE):
            plan.reasons.append(f"{where}task {_label(task)} is {_state(task)} and does not exist in "
                                f"version {plan.to_number}")
    for task in diff.changed:
        what = ", ".join(sorted(changed.get(task.task_spec, [])))
        if task.has_state(_RAN):
            plan.reasons.append(f"{where}task {_label(task)} is {_state(task)} and would change ({what})")
        elif task.has_state(TaskState.READY | TaskState.WAITING) and task not in diff.removed:
            kind = "open task" if task.has_state(TaskState.READY) else "waiting task"
            plan.changes.append(f"{where}{kind} {_label(task)} is reset onto the new version ({what})")


def _workflow_of(engine, instance_id: int):
    row = engine.session.execute(select(ProcessInstance.id, ProcessInstance.version_id, ProcessInstance.status,
                                        ProcessInstance.business_key, ProcessInstance.lock_version,
                                        ProcessInstance.state).where(ProcessInstance.id == instance_id)).first()
    if row is None:
        raise NotFound(f"process instance {instance_id} does not exist")
    return row


def plan(engine, instance_id: int, target_version_id: int):
    """What migrating the instance to the target version would do; returns (plan, migrated workflow or None).

    Works on a fresh copy of the instance's workflow: nothing is written and the cache is untouched."""
    row = _workflow_of(engine, instance_id)
    source = engine.loaded_version(row.version_id)
    target = engine.loaded_version(target_version_id)
    result = MigrationPlan(instance_id, row.business_key, source.id, source.number, target.id, target.number)
    if row.status != "running":
        result.reasons.append(f"the instance is {row.status}")
    if source.process_key != target.process_key:
        result.reasons.append(f"version {target.number} belongs to '{target.process_key}', "
                              f"not to '{source.process_key}'")
    if source.id == target.id:
        result.reasons.append(f"the instance already runs on version {target.number}")
    if result.reasons:
        result.allowed = False
        return result, None

    workflow = engine.codec.loads(row.state, source.spec, source.subprocess_specs)
    workflow.script_engine = engine.script_engine
    registry = engine.codec.registry
    top_spec_diff = SpecDiff(registry, workflow.spec, target.spec)
    top = WorkflowDiff(workflow, top_spec_diff)
    _check(top, top_spec_diff, "", result)
    sub_diffs = {}
    for sp_id, sub in workflow.subprocesses.items():
        name = sub.spec.name
        where = f"called process '{name}': "
        if name not in target.subprocess_specs:
            result.reasons.append(f"{where}it is running and version {target.number} does not call it")
            continue
        sub_spec_diff = SpecDiff(registry, sub.spec, target.subprocess_specs[name])
        sub_diffs[sp_id] = WorkflowDiff(sub, sub_spec_diff)
        _check(sub_diffs[sp_id], sub_spec_diff, where, result)
    added = [getattr(s, "bpmn_name", None) or s.bpmn_id for s in top_spec_diff.added
             if getattr(s, "bpmn_id", None)]
    if added:
        result.changes.append(f"version {target.number} adds {', '.join(sorted(added))}")
    if result.reasons:
        result.allowed = False
        return result, None

    try:
        migrate_workflow(top, workflow, target.spec)
        for sp_id, diff in sub_diffs.items():
            sub = workflow.subprocesses[sp_id]
            migrate_workflow(diff, sub, target.subprocess_specs[sub.spec.name])
        workflow.subprocess_specs = target.subprocess_specs
        engine._run_engine_steps(workflow)
        # The stored document must restore against the new version's specs.
        engine.codec.loads(engine.codec.dumps(workflow), target.spec, target.subprocess_specs)
    except EngineError as err:
        result.allowed, result.reasons = False, [f"the instance fails on version {target.number}: {err}"]
        return result, None
    except Exception as err:  # noqa: BLE001 - SpiffWorkflow's own refusal, reported, never a server error
        result.allowed = False
        result.reasons = [f"SpiffWorkflow cannot move the instance: {type(err).__name__}: {err}"]
        return result, None
    if not result.changes:
        result.changes.append("no open task changes; the instance continues on the new version")
    return result, workflow


def migrate(engine, instance_id: int, target_version_id: int, actor) -> MigrationPlan:
    """Move one running instance to the target version, or raise MigrationRefused (nothing changes)."""
    from .engine import _InstanceRow, _open_rows

    result, workflow = plan(engine, instance_id, target_version_id)
    if not result.allowed:
        engine._rollback()
        raise MigrationRefused(instance_id, result.reasons)
    row = _workflow_of(engine, instance_id)
    target = engine.loaded_version(target_version_id)
    instance = _InstanceRow(row.id, row.version_id, row.lock_version, row.business_key, row.status)
    claims = {r.id: (r.assignee, r.claimed_at) for r in engine.session.execute(
        select(HumanTask.id, HumanTask.assignee, HumanTask.claimed_at)
        .where(HumanTask.instance_id == instance_id, HumanTask.assignee.is_not(None)))}
    with engine._rolled_back_on_error(actor, instance_id, None):
        engine._workflows.take(instance_id, row.lock_version)  # the cached copy is of the old version
        engine._write_state(instance, workflow, version_id=target.id)
        engine._writes.write(engine.session)  # the instance row first: its lock orders concurrent writers
        engine.session.execute(delete(HumanTask).where(HumanTask.instance_id == instance_id))
        engine.session.execute(delete(Timer).where(Timer.instance_id == instance_id))
        engine._save(instance, workflow, target, actor, existing_tasks=frozenset(), existing_timers=frozenset(),
                     rows=_open_rows(workflow, target), new=True)
        engine._event("instance_migrated", actor, instance_id=instance_id, version_id=target.id,
                      process=target.process_key, from_version=result.from_number, to_version=target.number,
                      changes=result.changes)
        engine._writes.write(engine.session)
        for task_id, (assignee, claimed_at) in claims.items():
            engine.session.execute(update(HumanTask).where(HumanTask.id == task_id)
                                   .values(assignee=assignee, claimed_at=claimed_at))
        engine._commit()
    # Not put back in the cache: the next step restores the migrated workflow from its row.
    return result


def running_instances(session, version_id: int) -> list[int]:
    return list(session.scalars(select(ProcessInstance.id).where(
        ProcessInstance.version_id == version_id, ProcessInstance.status == "running").order_by(ProcessInstance.id)))


def latest_version_id(session, model_id: int) -> int:
    version_id = session.scalar(select(ProcessVersion.id).where(ProcessVersion.model_id == model_id)
                                .order_by(ProcessVersion.number.desc()).limit(1))
    if version_id is None:
        raise NotFound(f"process model {model_id} has no version")
    return version_id

