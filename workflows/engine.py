"""The engine: deploy diagrams, start instances, work tasks, fire timers.

Every public operation is one database transaction that changes the workflow document,
the relational rows derived from it (open human tasks, waiting timers) and the event trail
together, or nothing at all. Concurrent changes to one instance are detected with the
instance's ``lock_version``: the loser gets ``Conflict`` and its transaction is rolled back.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Callable
from uuid import UUID

import jsonschema
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session, make_transient_to_detached, scoped_session
from sqlalchemy.orm.attributes import instance_state
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState

from . import clock
from .actor import SYSTEM, Actor
from .cache import CachedWorkflow, WorkflowCache
from .codec import StateCodec
from .diagram import Diagram, UserTaskInfo, build_specs, check_diagram, content_hash
from .errors import (Conflict, EngineError, Forbidden, InvalidDiagram, InvalidForm, NotFound, Problem,
                     ScriptFailed)
from .models import EngineEvent, HumanTask, ProcessInstance, ProcessModel, ProcessVersion, Timer
from .sandbox import SandboxScriptEngine, SandboxViolation
from .statements import Step, first_outside_transaction, numbered_ids
from .writes import (DELETE_ASSIGNED_TASK, DELETE_CLAIMABLE_TASK, DELETE_TASKS, DELETE_TIMERS, INSERT_INSTANCE,
                     INSTANCE_ROW, INSTANCE_STATE, LATEST_VERSION_ID, NEW_INSTANCE, TASK_TO_COMPLETE, PendingWrites,
                     write_state_statement)

# The instance whose steps run right now, for script functions the app supplies (e.g. a notification
# that links to the instance's task page); None while a new instance runs its first steps.
_running_instance: ContextVar[int | None] = ContextVar("huifang_running_instance", default=None)


def running_instance_id() -> int | None:
    return _running_instance.get()


RESERVED_DATA_KEYS = {"typename"}


@dataclass
class LoadedVersion:
    """A version's parsed specs, built once per process and shared by its instances."""
    id: int
    process_key: str
    number: int
    spec: Any
    subprocess_specs: dict
    user_tasks: dict
    forms: dict
    has_timers: bool
    validators: dict = field(default_factory=dict)  # form key -> jsonschema validator, built on first use

    def validator(self, form_key: str | None):
        schema = self.forms.get(form_key) if form_key else None
        if schema is None:
            return None
        validator = self.validators.get(form_key)
        if validator is None:
            validator = jsonschema.validators.validator_for(schema)(schema, format_checker=jsonschema.FormatChecker())
            self.validators[form_key] = validator
        return validator


def _aware(value) -> datetime | None:
    """Interpret a due date a script produced: datetime, date or ISO string; naive means UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime.combine(value, time(23, 59, 59))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def _utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; the engine stores and compares UTC throughout."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def default_script_functions() -> dict[str, Callable]:
    # Policy date arithmetic (visit_window, add_working_days, complaint_deadlines …) so BPMN scripts
    # compute SOP deadlines the same way as the app does.
    from .policy import SCRIPT_FUNCTIONS

    return {
        "now": clock.now,
        "datetime": datetime,
        "date": date,
        "timedelta": timedelta,
        "timezone": timezone,
        **SCRIPT_FUNCTIONS,
    }


DESTROYED = "destroyed"  # an instance whose document was destroyed with its records (RET-14)

_MAPPERS = {model: sa_inspect(model) for model in (ProcessInstance, HumanTask, Timer)}


@dataclass
class _InstanceRow:
    """What a step needs of its instance row, read with one Core statement (the document itself
    only on a cache miss). Loaded ProcessInstance objects of the same row are expired after a write."""
    id: int
    version_id: int
    lock_version: int
    business_key: str | None
    status: str


# How an event's detail is stored: ``sealer(session, kind, instance_id, detail) -> detail``. The app supplies
# one that encrypts the personal parts (crypto-shredding, RET-14); without it details are stored as given.
EventSealer = Callable[[Session, str, "int | None", dict], dict]


class Engine:
    def __init__(self, session: Session, script_functions: dict[str, Callable] | None = None,
                 cache_size: int = 512, event_sealer: EventSealer | None = None):
        self.session = session
        self.event_sealer = event_sealer
        functions = default_script_functions()
        functions.update(script_functions or {})
        self.script_engine = SandboxScriptEngine(functions)
        self.codec = StateCodec()
        self._versions: dict[int, LoadedVersion] = {}
        self._workflows = WorkflowCache(cache_size)
        self._writes = PendingWrites()

    # ------------------------------------------------------------------ transactions
    def _send(self, mark: tuple[int, int] = (0, 0), commit: bool = False) -> None:
        """Send the queued writes (after ``mark``). Loaded ProcessInstance objects of rows they updated
        are expired once more: one reloaded between queueing and sending would hold the old row."""
        try:
            self._writes.write(self.session, mark, commit)
        finally:
            self._expire_updated()

    def _expire_updated(self) -> None:
        for instance_id in self._writes.updated:
            self._expire(self._loaded(ProcessInstance, instance_id))
        self._writes.updated.clear()

    def _loaded(self, model, key):
        """The session's object of this row, if it holds one (no query)."""
        return self.session.identity_map.get(_MAPPERS[model].identity_key_from_primary_key((key,)))

    def _expire(self, loaded) -> None:
        if loaded is not None and not instance_state(loaded).expired:  # an expired object holds nothing
            self.session.expire(loaded)

    def _commit(self) -> None:
        try:
            self._send(commit=self._writes_are_all())
            self.session.commit()
        except Exception:
            self._rollback()
            raise

    def _writes_are_all(self) -> bool:
        """Whether the queued writes are all the session's commit would send: no pending ORM changes (a
        script's notification) and nobody listening to write at commit. Then they may go with the COMMIT."""
        session = self._plain_session()
        return not (_has_pending_changes(session) or session.dispatch.before_commit)

    def _plain_session(self) -> Session:
        """The Session itself, also when the engine was given a scoped_session (the app's)."""
        return self.session() if isinstance(self.session, scoped_session) else self.session

    def _rollback(self) -> None:
        self._writes.clear()
        self.session.rollback()

    def _event(self, kind: str, actor: Actor | str, instance_id=None, task_id=None, version_id=None, **detail):
        if self.event_sealer is not None:  # in the operation's transaction, like the event itself
            detail = self.event_sealer(self.session, kind, instance_id, detail)
        self._writes.add(EngineEvent, at=clock.now(), actor=actor if isinstance(actor, str) else actor.username,
                       kind=kind, instance_id=instance_id, task_id=task_id, version_id=version_id, detail=detail)

    def _record_error(self, actor: Actor, instance_id, task_id, err: Exception) -> None:
        """Errors are recorded in a transaction of their own, after the failed one was rolled back."""
        self._rollback()
        self._event("error", actor, instance_id=instance_id, task_id=task_id, message=str(err),
                    element_id=getattr(err, "element_id", None))
        self._commit()

    @contextmanager
    def _rolled_back_on_error(self, actor: Actor, instance_id, task_id):
        """Undo everything the operation wrote when any step fails, not only the workflow run:
        a due-date expression or a database error while saving must not leave pending changes
        in the session for the next commit to pick up. Failing scripts are recorded as 'error'."""
        try:
            yield
        except Conflict:
            self._rollback()
            raise
        except EngineError as err:
            self._record_error(actor, instance_id, task_id, err)
            raise
        except DBAPIError as err:
            self._rollback()
            if _is_transient(err):
                raise Conflict("the instance was being changed at the same moment; try again") from None
            raise
        except Exception:
            self._rollback()
            raise

    # ------------------------------------------------------------------ versions
    def deploy(self, model_key: str, xml: bytes | str, forms: dict[str, dict] | None, actor: Actor,
               name: str | None = None, comment: str | None = None, known_roles: set[str] | None = None
               ) -> ProcessVersion:
        """Check a diagram and store it as the model's next immutable version.

        Deploying content identical to an existing version of the model returns that version.
        """
        diagram = check_diagram(xml, forms, known_roles=known_roles, resolve_process=self._deployed_process_xml,
                                filename=f"{model_key}.bpmn")
        self._include_called_versions(diagram)
        model = self.session.scalar(select(ProcessModel).where(ProcessModel.key == model_key))
        if model is None:
            model = ProcessModel(key=model_key, name=name or diagram.name, created_at=clock.now())
            self.session.add(model)
            self.session.flush()
        existing = self.session.scalar(select(ProcessVersion).where(
            ProcessVersion.model_id == model.id, ProcessVersion.content_hash == diagram.content_hash))
        if existing is not None:
            return existing
        number = (max((v.number for v in model.versions), default=0)) + 1
        try:
            version = self._store_version(model, number, diagram, actor, comment)
            self._event("version_deployed", actor, version_id=version.id, model=model_key, number=number,
                        content_hash=diagram.content_hash, comment=comment)
            self._commit()
        except IntegrityError:
            # Two deploys of one model raced for the same number (or the same new model key).
            self._rollback()
            raise Conflict(f"another version of '{model_key}' was deployed at the same time; deploy again") from None
        return version

    def _store_version(self, model: ProcessModel, number: int, diagram: Diagram, actor: Actor, comment):
        version = ProcessVersion(
            model_id=model.id, number=number, process_id=diagram.process_id, content_hash=diagram.content_hash,
            bpmn_xml=diagram.xml.decode("utf-8"), forms=diagram.forms,
            called_processes={k: v.decode("utf-8") for k, v in diagram.called_processes.items()},
            lanes=diagram.lanes, user_tasks={k: vars(v) for k, v in diagram.user_tasks.items()},
            comment=comment, created_by=actor.username, created_at=clock.now())
        self.session.add(version)
        self.session.flush()
        return version

    def _deployed_version_of(self, process_id: str) -> ProcessVersion | None:
        return self.session.scalar(select(ProcessVersion).where(ProcessVersion.process_id == process_id)
                                   .order_by(ProcessVersion.id.desc()).limit(1))

    def _deployed_process_xml(self, process_id: str) -> bytes | None:
        version = self._deployed_version_of(process_id)
        return version.bpmn_xml.encode("utf-8") if version else None

    def _include_called_versions(self, diagram: Diagram) -> None:
        """A call activity runs the called process's newest deployed version inside this instance: its
        user tasks (lane → role, form, due date), forms and own called processes become part of this
        version, and so part of its content hash (a changed called process makes a new version)."""
        problems = []
        for process_id in sorted(diagram.called_processes):
            called = self._deployed_version_of(process_id)
            for key, info in (called.user_tasks or {}).items():
                if key in diagram.user_tasks:
                    problems.append(Problem(f"user task id '{key}' is used here and in the called process "
                                            f"'{process_id}'; rename one of them", element_id=key))
                else:
                    diagram.user_tasks[key] = UserTaskInfo(**info)
            for name, schema in (called.forms or {}).items():
                if diagram.forms.setdefault(name, schema) != schema:
                    problems.append(Problem(f"form {name} differs from the one of the called process "
                                            f"'{process_id}'; give one of them another name", field=name))
            for lane, role in (called.lanes or {}).items():
                diagram.lanes.setdefault(lane, role)
            for nested, xml in (called.called_processes or {}).items():
                diagram.called_processes.setdefault(nested, xml.encode("utf-8"))
        if problems:
            raise InvalidDiagram(problems)
        if diagram.called_processes:
            called_xml = b"".join(diagram.called_processes[k] for k in sorted(diagram.called_processes))
            diagram.content_hash = content_hash(diagram.xml + called_xml, diagram.forms)

    def latest_version(self, model_key: str) -> ProcessVersion:
        version = self.session.scalar(
            select(ProcessVersion).join(ProcessModel).where(ProcessModel.key == model_key)
            .order_by(ProcessVersion.number.desc()).limit(1))
        if version is None:
            raise NotFound(f"process model '{model_key}' has no deployed version")
        return version

    def _new_instance(self, model_key: str, version_id: int | None) -> tuple[int | None, int]:
        """A new instance's id, and its version: ``version_id`` or else the model's latest (only its id: the ORM
        object would load the whole diagram). Where the database has sequences the id is drawn now, with the
        latest version in the same read and outside any transaction if none is open yet (so a start's writes
        may go as one statement); elsewhere the id is None here and comes with the instance's INSERT."""
        connection = self.session.connection()
        instance_id = latest = None
        if connection.dialect.supports_sequences:
            row = first_outside_transaction(connection, NEW_INSTANCE, {"key": model_key})
            instance_id, latest = row.id, row.version_id
        elif version_id is None:
            row = LATEST_VERSION_ID.first(connection, {"key": model_key})
            latest = row.id if row else None
        version_id = version_id or latest
        if version_id is None:
            raise NotFound(f"process model '{model_key}' has no deployed version")
        return instance_id, version_id

    def loaded_version(self, version_id: int) -> LoadedVersion:
        loaded = self._versions.get(version_id)
        if loaded is None:
            row = self.session.get(ProcessVersion, version_id)
            if row is None:
                raise NotFound(f"process version {version_id} does not exist")
            called = {k: v.encode("utf-8") for k, v in (row.called_processes or {}).items()}
            spec, subprocess_specs = build_specs(row.bpmn_xml.encode("utf-8"), row.process_id, called)
            has_timers = any(
                isinstance(getattr(ts, "event_definition", None), TimerEventDefinition)
                for s in [spec, *subprocess_specs.values()] for ts in s.task_specs.values())
            loaded = LoadedVersion(row.id, row.model.key, row.number, spec, subprocess_specs,
                                   row.user_tasks or {}, row.forms or {}, has_timers)
            self._versions[version_id] = loaded
        return loaded

    # ------------------------------------------------------------------ instances
    def start(self, model_key: str, actor: Actor, data: dict | None = None, business_key: str | None = None,
              version_id: int | None = None) -> ProcessInstance:
        _check_data_keys(data or {})
        instance_id, version_id = self._new_instance(model_key, version_id)
        version = self.loaded_version(version_id)
        workflow = BpmnWorkflow(version.spec, version.subprocess_specs, script_engine=self.script_engine)
        # Start data goes on the start task, so every later task inherits it.
        workflow.get_next_task(state=TaskState.READY).set_data(**(data or {}))
        with self._rolled_back_on_error(actor, None, None):
            self._run_engine_steps(workflow)
            now = clock.now()
            status = "completed" if workflow.is_completed() else "running"
            # One INSERT with the first state; lock_version starts at 1.
            row = {"id": instance_id, "version_id": version.id, "business_key": business_key, "status": status,
                   "state": self.codec.dumps(workflow), "lock_version": 1, "started_by": actor.username,
                   "started_at": now, "updated_at": now, "ended_at": now if status == "completed" else None}
            if instance_id is None:  # the database assigns the id: needed now, for the rows that point at it
                instance_id = INSERT_INSTANCE.first(self.session.connection(), row).id
            else:  # goes with the step's other writes, first
                self._writes.statement(Step(INSERT_INSTANCE, row))
            instance = _InstanceRow(instance_id, version.id, 1, business_key, status)
            self._event("instance_started", actor, instance_id=instance_id, version_id=version.id,
                        process=version.process_key, number=version.number, business_key=business_key)
            rows = self._save(instance, workflow, version, actor, frozenset(), frozenset(),
                              _open_rows(workflow, version), new=True)
            self._commit()
        self._cache(instance, workflow, rows)
        return self._instance_object(instance_id)

    def cancel(self, instance_id: int, actor: Actor, reason: str) -> ProcessInstance:
        if not (reason or "").strip():
            raise InvalidForm(Problem("a reason is required to cancel an instance", field="reason"))
        instance = self._instance_row(instance_id)
        if instance.status != "running":
            raise Conflict(f"instance {instance_id} is already {instance.status}")
        version = self.loaded_version(instance.version_id)
        workflow = self._workflow(instance, version).workflow
        workflow.cancel()
        with self._rolled_back_on_error(actor, instance.id, None):
            self._write_state(instance, workflow, status="cancelled", ended_at=clock.now(), end_reason=reason.strip())
            self._send()  # the instance row first: its lock orders concurrent writers
            self.session.execute(delete(HumanTask).where(HumanTask.instance_id == instance.id))
            self.session.execute(delete(Timer).where(Timer.instance_id == instance.id))
            self._event("instance_cancelled", actor, instance_id=instance.id, version_id=version.id,
                        reason=reason.strip())
            self._commit()
        return self._instance_object(instance_id)

    def purge(self, instance_id: int, actor: Actor, reason: str) -> None:
        """Destroy an ended instance's document and business key (the witnessed destruction of its records): the
        row stays as the tombstone its events and records point at, with status ``destroyed``. The caller commits,
        with the rest of the destruction."""
        instance = self._instance(instance_id)
        if instance.status == DESTROYED:
            return
        if instance.status == "running":
            raise Conflict(f"instance {instance_id} is still running; only ended instances can be destroyed")
        self._workflows.take(instance.id, instance.lock_version)  # drop the cached copy
        # the business key is the caller's name for the record (a visit's: its household): it goes too
        instance.state, instance.status, instance.end_reason, instance.business_key = b"", DESTROYED, reason, None
        self._event("instance_destroyed", actor, instance_id=instance.id, version_id=instance.version_id,
                    reason=reason)
        self.session.flush()
        self._writes.write(self.session)

    def _instance(self, instance_id: int) -> ProcessInstance:
        instance = self.session.get(ProcessInstance, instance_id)
        if instance is None:
            raise NotFound(f"process instance {instance_id} does not exist")
        return instance

    def _instance_row(self, instance_id: int) -> _InstanceRow:
        row = INSTANCE_ROW.first(self.session.connection(), {"id": instance_id})
        if row is None:
            raise NotFound(f"process instance {instance_id} does not exist")
        return _InstanceRow(*row)

    def _instance_object(self, instance_id: int) -> ProcessInstance:
        """The ORM object of an instance without a query: the loaded one, or a reference whose
        attributes load on first use (most callers only need the id)."""
        instance = self._loaded(ProcessInstance, instance_id)
        if instance is None:
            instance = ProcessInstance(id=instance_id)
            make_transient_to_detached(instance)
            self.session.add(instance)
        return instance

    def _workflow(self, instance, version: LoadedVersion) -> CachedWorkflow:
        """The instance's workflow with the ids of its open-task and timer rows: from the cache when it
        holds this lock_version, else restored from the row (document and lock_version read together,
        so they always match)."""
        cached = self._workflows.take(instance.id, instance.lock_version)
        if cached is None:
            row = INSTANCE_STATE.first(self.session.connection(), {"id": instance.id})
            if row is None:
                raise NotFound(f"process instance {instance.id} does not exist")
            state, instance.lock_version = row
            workflow = self.codec.loads(state, version.spec, version.subprocess_specs)
            workflow.script_engine = self.script_engine  # never the default engine after a restore
            # Every committed step leaves the rows equal to the workflow's ready user tasks and
            # waiting timers, so their ids are read from the workflow instead of queried.
            ready, waiting = _open_rows(workflow, version)
            cached = CachedWorkflow(instance.lock_version, workflow, frozenset(ready), frozenset(waiting),
                                    instance.version_id, instance.business_key)
        return cached

    def _cache(self, instance, workflow, rows: tuple[frozenset[str], frozenset[str]]) -> None:
        """Keep a workflow whose state was committed at the instance's lock_version."""
        self._workflows.put(instance.id, CachedWorkflow(instance.lock_version, workflow, rows[0], rows[1],
                                                        instance.version_id, instance.business_key))

    def workflow_data(self, instance_id: int) -> dict:
        """The instance's current data (read-only use: case pages, PDFs)."""
        instance = self._instance_row(instance_id)
        if instance.status == DESTROYED:
            raise Conflict(f"process instance {instance_id} was destroyed with its records (RET-14)")
        version = self.loaded_version(instance.version_id)
        cached = self._workflow(instance, version)
        self._workflows.put(instance.id, cached)
        workflow = cached.workflow
        data = dict(workflow.data)
        # Only an end event copies task data to the workflow; while running it lives on the open tasks.
        for task in workflow.get_tasks(state=TaskState.READY | TaskState.WAITING):
            data.update(task.data)
        return data

    # ------------------------------------------------------------------ tasks
    def task(self, task_id: str) -> HumanTask:
        task = self.session.get(HumanTask, task_id)
        if task is None:
            raise NotFound(f"task {task_id} does not exist or is no longer open")
        return task

    def task_form(self, task_id: str) -> dict:
        task = self.task(task_id)
        version = self.loaded_version(task.instance.version_id)
        info = version.user_tasks.get(task.bpmn_id, {})
        return {
            "schema": version.forms.get(task.form_key) if task.form_key else None,
            "ui_schema": version.forms.get(info.get("ui_form")) if info.get("ui_form") else None,
            "instructions": info.get("instructions"),
        }

    def _authorize(self, task: HumanTask, actor: Actor) -> None:
        if task.assignee and task.assignee != actor.username:
            raise Forbidden(f"task {task.id} is claimed by {task.assignee}")
        if not task.assignee and task.role and task.role not in actor.roles:
            raise Forbidden(f"task {task.id} is for role {task.role}, which {actor.username} does not hold")

    def claim(self, task_id: str, actor: Actor) -> HumanTask:
        task = self.task(task_id)
        if task.assignee == actor.username:
            return task
        self._authorize(task, actor)
        done = self.session.execute(
            update(HumanTask).where(HumanTask.id == task_id, HumanTask.assignee.is_(None))
            .values(assignee=actor.username, claimed_at=clock.now()))
        if done.rowcount != 1:
            self._rollback()
            raise Conflict(f"task {task_id} was claimed by someone else")
        self._event("task_claimed", actor, instance_id=task.instance_id, task_id=task_id)
        self._commit()
        return self.task(task_id)

    def release(self, task_id: str, actor: Actor) -> HumanTask:
        task = self.task(task_id)
        if task.assignee != actor.username:
            raise Forbidden(f"task {task_id} is not claimed by {actor.username}")
        done = self.session.execute(
            update(HumanTask).where(HumanTask.id == task_id, HumanTask.assignee == actor.username)
            .values(assignee=None, claimed_at=None))
        if done.rowcount != 1:
            self._rollback()
            raise Conflict(f"task {task_id} changed while releasing it")
        self._event("task_released", actor, instance_id=task.instance_id, task_id=task_id)
        self._commit()
        return self.task(task_id)

    def reassign(self, task_id: str, actor: Actor, to_user: str, reason: str) -> HumanTask:
        """Hand a task to someone else (a supervisor's act; the caller checks that permission)."""
        if not (reason or "").strip():
            raise InvalidForm(Problem("a reason is required to reassign a task", field="reason"))
        task = self.task(task_id)
        previous = task.assignee
        self.session.execute(update(HumanTask).where(HumanTask.id == task_id)
                             .values(assignee=to_user, claimed_at=clock.now()))
        self._event("task_reassigned", actor, instance_id=task.instance_id, task_id=task_id,
                    previous=previous, assignee=to_user, reason=reason.strip())
        self._commit()
        return self.task(task_id)

    def validate_form(self, task: HumanTask, data: dict, version: LoadedVersion) -> None:
        problems = self._form_problems(task.form_key, data, version)
        if problems:
            raise InvalidForm(problems)

    @staticmethod
    def _form_problems(form_key: str | None, data: dict, version: LoadedVersion) -> list[Problem]:
        problems = _data_key_problems(data)
        reported: set[str] = set()
        validator = version.validator(form_key)
        if validator is not None:
            for err in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path)):
                path = "/".join(str(p) for p in err.absolute_path)
                if err.validator == "required":
                    # One problem per missing field, so the form can mark each of them.
                    for name in err.validator_value:
                        field = "/".join(filter(None, [path, name]))
                        if name not in (err.instance or {}) and field not in reported:
                            reported.add(field)
                            problems.append(Problem(f"'{name}' is a required property", field=field))
                    continue
                problems.append(Problem(err.message, field=path or None))
        return problems

    def complete(self, task_id: str, actor: Actor, data: dict | None = None) -> ProcessInstance:
        data = dict(data or {})
        if self._may_start_over():
            hit = self._workflows.take_task(task_id)
            if hit is not None:
                instance = self._complete_cached(task_id, actor, data, *hit)
                if instance is not None:
                    return instance
        task_row = TASK_TO_COMPLETE.first(self.session.connection(), {"id": task_id})
        if task_row is None:
            done = self.session.scalar(select(EngineEvent).where(
                EngineEvent.kind == "task_completed", EngineEvent.task_id == task_id).limit(1))
            if done is not None:  # the loser of a race learns who won
                raise Conflict(f"task {task_id} was already completed by {done.actor}")
            raise NotFound(f"task {task_id} does not exist or is no longer open")
        self._authorize(task_row, actor)
        instance = _InstanceRow(task_row.instance_id, task_row.version_id, task_row.lock_version,
                                task_row.business_key, task_row.status)
        version = self.loaded_version(instance.version_id)
        self.validate_form(task_row, data, version)
        cached = self._workflow(instance, version)
        workflow = cached.workflow
        task = workflow.get_task_from_id(UUID(task_id))
        if task is None or task.state != TaskState.READY:
            raise Conflict(f"task {task_id} is not ready (it was completed or cancelled)")
        # Claims change the task row and not the instance: the row read above may have been claimed since.
        finished = self._finish_task(task_id, actor, claimable=not task_row.role or task_row.role in actor.roles,
                                     mismatch=lambda: Conflict(f"task {task_id} was completed or claimed by "
                                                               "someone else meanwhile"))
        with self._rolled_back_on_error(actor, instance.id, task_id), self.session.no_autoflush:
            rows = self._run_task(instance, cached, version, task, task_row.name, actor, data, finished)
            self._commit()
        self._cache(instance, workflow, rows)
        return self._instance_object(instance.id)

    def _may_start_over(self) -> bool:
        """Whether rolling back would undo nothing of the caller's: the session has no transaction, or
        one that has sent nothing yet (no connection taken) and holds no pending changes."""
        session = self._plain_session()
        transaction = session.get_transaction()
        if transaction is None:
            return True
        if transaction.nested or transaction.parent is not None or getattr(transaction, "_connections", True):
            return False
        return not _has_pending_changes(session)

    def _complete_cached(self, task_id: str, actor: Actor, data: dict, instance_id: int, cached: CachedWorkflow
                         ) -> ProcessInstance | None:
        """Complete a task of a cached workflow without reading the task and instance rows.

        The checks those rows serve move into the writes: the guarded UPDATE finds out whether the
        cached workflow is still the instance's state (another process may have changed it), the
        DELETE of the task row whether the task is still open and not claimed by someone else (the
        task's role, fixed by the version, is checked here). If either does not hold, or anything
        else goes wrong, the transaction is rolled back and None returned: the caller then takes the
        path that reads the rows and reports what it finds (Conflict, Forbidden, InvalidForm ...).
        Only used when the session's transaction has sent nothing yet (``_may_start_over``), so the
        rollback undoes nothing but this attempt."""
        version = self.loaded_version(cached.version_id)
        workflow = cached.workflow
        task = workflow.get_task_from_id(UUID(task_id))
        if task is None or task.state != TaskState.READY or not task.task_spec.manual:
            return None
        spec = task.task_spec
        info = version.user_tasks.get(spec.bpmn_id, {})
        if (info.get("role") and info["role"] not in actor.roles  # allowed only if assigned to the actor
                or self._form_problems(info.get("form"), data, version)):  # the reading path reports it
            self._workflows.put(instance_id, cached)  # unchanged: the reading path takes it again
            return None
        instance = _InstanceRow(instance_id, cached.version_id, cached.lock_version, cached.business_key, "running")
        finished = self._finish_task(task_id, actor, claimable=True, mismatch=_CacheMiss)
        try:
            with self.session.no_autoflush:
                rows = self._run_task(instance, cached, version, task, spec.bpmn_name or spec.bpmn_id, actor, data,
                                      finished)
                self._commit()
        except Exception:
            self._rollback()
            return None
        self._cache(instance, workflow, rows)
        return self._instance_object(instance_id)

    def _finish_task(self, task_id: str, actor: Actor, claimable: bool, mismatch) -> Step:
        """The DELETE of the completed task's row, which also checks that nobody else claimed it:
        an unclaimed task (the actor holds its role) or one assigned to the actor."""
        statement = DELETE_CLAIMABLE_TASK if claimable else DELETE_ASSIGNED_TASK
        return Step(statement, {"id": task_id, "user": actor.username}, expect=1, mismatch=mismatch)

    def _run_task(self, instance: _InstanceRow, cached: CachedWorkflow, version: LoadedVersion, task, name: str,
                  actor: Actor, data: dict, finished: Step) -> tuple[frozenset[str], frozenset[str]]:
        """Complete the user task in the workflow, run what follows and queue the step's writes."""
        task.data.update(data)
        with self._running(instance.id):
            task.run()
            self._run_engine_steps(cached.workflow)
        self._event("task_completed", actor, instance_id=instance.id, task_id=finished.values["id"],
                    bpmn_id=task.task_spec.bpmn_id, name=name, data=_jsonable(data))
        return self._save(instance, cached.workflow, version, actor, cached.tasks, cached.timers,
                          _open_rows(cached.workflow, version), finished=finished)

    # ------------------------------------------------------------------ timers
    def due_timers(self, limit: int = 100, lock: bool = False) -> list[Timer]:
        # Strictly before now, as SpiffWorkflow decides: a timer due this very instant would not fire yet.
        query = select(Timer).where(Timer.fire_at < clock.now()).order_by(Timer.fire_at).limit(limit)
        if lock and self.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return list(self.session.scalars(query))

    def fire_due_timers(self, batch: int = 50, max_batches: int | None = None) -> int:
        """Fire every due timer once. Safe to run in several processes at the same time.

        On PostgreSQL each batch locks its timer rows and instance rows with SKIP LOCKED, so
        concurrent workers take disjoint work; elsewhere the optimistic lock decides.
        """
        actor = Actor.system()
        fired = 0
        batches = 0
        while max_batches is None or batches < max_batches:
            batches += 1
            timers = self.due_timers(batch, lock=True)
            if not timers:
                self._rollback()
                break
            instance_ids = sorted({t.instance_id for t in timers})
            if self.session.get_bind().dialect.name == "postgresql":
                instance_ids = list(self.session.scalars(
                    select(ProcessInstance.id).where(ProcessInstance.id.in_(instance_ids))
                    .with_for_update(skip_locked=True)))
            try:
                done = [self._fire_instance_timers(instance_id, actor) for instance_id in instance_ids]
                self._commit()
            except DBAPIError as err:
                self._rollback()
                if _is_transient(err):  # another writer got there first; the next sweep retries
                    break
                raise
            for count, instance, workflow, rows in done:
                fired += count
                if workflow is not None:  # cached only once its state is committed
                    self._cache(instance, workflow, rows)
            if len(timers) < batch:
                break
        return fired

    def _fire_instance_timers(self, instance_id: int, actor: Actor):
        savepoint = self.session.begin_nested()
        mark = self._writes.mark()
        try:
            instance = self._instance_row(instance_id)
            version = self.loaded_version(instance.version_id)
            cached = self._workflow(instance, version)
            workflow = cached.workflow
            with self._running(instance.id):
                workflow.refresh_timers()
                self._run_engine_steps(workflow)
            ready, waiting = _open_rows(workflow, version)
            fired = [tid for tid in cached.timers if tid not in waiting]
            for tid in fired:
                self._event("timer_fired", actor, instance_id=instance.id, task_id=tid)
            rows = self._save(instance, workflow, version, actor, cached.tasks, cached.timers, (ready, waiting))
            self._send(mark)  # inside the savepoint: a conflict undoes this instance only
            savepoint.commit()
        except Conflict:
            savepoint.rollback()
            self._writes.discard_after(mark)
            return 0, None, None, None
        except DBAPIError as err:
            savepoint.rollback()
            self._writes.discard_after(mark)
            if _is_transient(err):  # a deadlock or serialization failure: retry on the next sweep
                return 0, None, None, None
            raise
        except Exception as err:  # this instance only; the rest of the batch goes on
            savepoint.rollback()
            self._writes.discard_after(mark)
            self._event("error", actor, instance_id=instance_id, message=str(err) or type(err).__name__,
                        element_id=getattr(err, "element_id", None))
            # A timer whose script fails would fail again at once: push it back an hour.
            self.session.execute(update(Timer).where(Timer.instance_id == instance_id, Timer.fire_at < clock.now())
                                 .values(fire_at=clock.now() + timedelta(hours=1))
                                 .execution_options(synchronize_session=False))
            return 0, None, None, None
        return len(fired), instance, workflow, rows

    # ------------------------------------------------------------------ persistence
    @contextmanager
    def _running(self, instance_id: int | None):
        token = _running_instance.set(instance_id)
        try:
            yield
        finally:
            _running_instance.reset(token)

    def _run_engine_steps(self, workflow) -> None:
        try:
            workflow.do_engine_steps()
        except SandboxViolation as err:
            raise ScriptFailed(str(err)) from err
        except SpiffWorkflowException as err:
            spec = getattr(err, "task_spec", None)
            element = getattr(spec, "bpmn_id", None) or getattr(spec, "name", None)
            inner = getattr(err, "exception", None)
            message = str(inner) if isinstance(inner, SandboxViolation) else str(err)
            raise ScriptFailed(f"task {element}: {message}", element_id=element) from err
        except Exception as err:  # a script raised something SpiffWorkflow did not wrap
            raise ScriptFailed(f"{type(err).__name__}: {err}") from err

    def _write_state(self, instance: ProcessInstance, workflow, **values) -> None:
        old = instance.lock_version
        state, now = self.codec.dumps(workflow), clock.now()
        instance_id = instance.id
        # Sent with the step's other writes; a mismatch raises there and the caller rolls back (the whole
        # operation, or its savepoint).
        self._writes.statement(Step(
            write_state_statement(frozenset(values)),
            {"_id": instance_id, "_old": old, "state": state, "lock_version": old + 1, "updated_at": now, **values},
            expect=1, mismatch=lambda: Conflict(f"instance {instance_id} was changed by someone else; "
                                                "reload and try again")))
        instance.lock_version = old + 1
        instance.status = values.get("status", instance.status)
        # The row changes behind the ORM's back: a loaded object of it must not keep (or flush) old values.
        # Expired now, and again once the UPDATE was sent (see _send).
        self._writes.updated.add(instance_id)
        self._expire(self._loaded(ProcessInstance, instance_id))

    def _save(self, instance, workflow, version: LoadedVersion, actor: Actor, existing_tasks: frozenset[str],
              existing_timers: frozenset[str], rows: tuple[dict, dict], new: bool = False,
              finished: Step | None = None) -> tuple[frozenset[str], frozenset[str]]:
        """Write the workflow and bring its task and timer rows in line with it.

        ``rows`` are the workflow's ready user tasks and waiting timers now (``_open_rows``), the
        existing ones those the database holds; ``finished`` deletes the completed task's row.
        Returns the ids of the task and timer rows after the step."""
        now = clock.now()
        ready, waiting = rows
        completed = workflow.is_completed()
        values = {"status": "completed", "ended_at": now} if completed else {}
        if not new:  # a new row was inserted with its first state
            self._write_state(instance, workflow, **values)
        if finished is not None:
            finished_id = finished.values["id"]
            self._writes.statement(finished)
            self._forget(HumanTask, [finished_id])
            existing_tasks = existing_tasks - {finished_id}
        gone = [tid for tid in existing_tasks if tid not in ready]
        if gone:
            # The instance row is locked by the update before, so this runs after any concurrent
            # change of the instance: a row already gone means someone else finished it first.
            instance_id = instance.id
            self._writes.statement(Step(
                DELETE_TASKS[len(gone)], numbered_ids(gone), expect=len(gone),
                mismatch=lambda: Conflict(f"instance {instance_id}: a task was completed by someone else")))
            self._forget(HumanTask, gone)
        for tid, task in ready.items():
            if tid not in existing_tasks:
                self._add_human_task(instance, task, version, now)
        stale = [tid for tid in existing_timers if tid not in waiting]
        if stale:
            self._writes.statement(Step(DELETE_TIMERS[len(stale)], numbered_ids(stale)))
            self._forget(Timer, stale)
        for tid, (task, fire_at) in waiting.items():
            if tid not in existing_timers:
                self._writes.add(Timer, id=tid, instance_id=instance.id, bpmn_id=task.task_spec.bpmn_id,
                                 name=task.task_spec.bpmn_name, fire_at=fire_at)
        if completed:
            self._event("instance_completed", actor, instance_id=instance.id, version_id=version.id)
        return frozenset(ready), frozenset(waiting)

    def _forget(self, model, ids) -> None:
        """Detach loaded objects of rows the step deleted, as an ORM delete would: they keep what they
        held (a page may still show the completed task's name) instead of failing to refresh."""
        for key in ids:
            obj = self._loaded(model, key)
            if obj is not None:
                self.session.expunge(obj)

    def _add_human_task(self, instance, task, version: LoadedVersion, now) -> None:
        spec = task.task_spec
        info = version.user_tasks.get(spec.bpmn_id, {})
        due_at = assignee = None
        try:
            if info.get("due_expression"):
                due_at = _aware(self.script_engine.evaluate(task, info["due_expression"]))
            if info.get("assignee_expression"):
                assignee = self.script_engine.evaluate(task, info["assignee_expression"]) or None
        except Exception as err:
            raise ScriptFailed(f"task {spec.bpmn_id}: due date or assignee expression failed: {err}",
                               element_id=spec.bpmn_id) from err
        self._writes.add(
            HumanTask, id=str(task.id), instance_id=instance.id, bpmn_id=spec.bpmn_id,
            name=spec.bpmn_name or spec.bpmn_id, lane=spec.lane, role=info.get("role"), assignee=assignee,
            form_key=info.get("form"), due_at=due_at, business_key=instance.business_key,
            process_key=version.process_key, version_number=version.number, created_at=now, claimed_at=None)
        self._event("task_created", SYSTEM, instance_id=instance.id, task_id=str(task.id), bpmn_id=spec.bpmn_id,
                    name=spec.bpmn_name, role=info.get("role"), assignee=assignee,
                    due_at=due_at.isoformat() if due_at else None)


class _CacheMiss(Exception):
    """A cached workflow turned out stale, or its task was claimed by someone else (see _complete_cached)."""


def _open_rows(workflow, version: LoadedVersion) -> tuple[dict[str, Any], dict[str, tuple[Any, datetime]]]:
    """The rows a workflow is mirrored by: its ready user tasks and its waiting timers with their fire
    times, by task id.

    The tasks are those ``workflow.get_tasks(state=READY, manual=True)`` returns, found without walking
    the task tree: the ready manual tasks of the workflow and of every subprocess whose task exists
    (the walk reaches a subprocess through its task). Waiting timers come from the event manager."""
    ready = {}
    top = workflow
    for wf in (top, *top.subprocesses.values()):
        if wf is not top and not _reachable(wf, top):
            continue
        for task in wf.tasks.values():
            if task._state == TaskState.READY and task.task_spec.manual:
                ready[str(task.id)] = task
    waiting = {}
    if version.has_timers:
        for task in top.event_manager.tasks.values():
            definition = getattr(task.task_spec, "event_definition", None)
            if not isinstance(definition, TimerEventDefinition) or task.state != TaskState.WAITING:
                continue
            value = definition.details(task).value
            if isinstance(value, dict):
                value = value.get("next")
            if value is None:
                continue
            fire_at = value if isinstance(value, datetime) else TimerEventDefinition.parse_time_or_duration(value)
            if isinstance(fire_at, datetime):
                waiting[str(task.id)] = (task, _aware(fire_at))
    return ready, waiting


def _reachable(subprocess, top) -> bool:
    while subprocess is not top:
        parent = subprocess.parent_workflow
        if parent is None or subprocess.parent_task_id not in parent.tasks:
            return False
        subprocess = parent
    return True


def _has_pending_changes(session: Session) -> bool:
    return bool(session.new or session.dirty or session.deleted)


def _is_transient(err: DBAPIError) -> bool:
    """Safe to retry: a PostgreSQL deadlock (40P01) or serialization failure (40001), or SQLite
    refusing a second writer ("database is locked")."""
    if getattr(getattr(err, "orig", None), "sqlstate", None) in {"40P01", "40001"}:
        return True
    return isinstance(err, OperationalError) and "database is locked" in str(err.orig)


def _data_key_problems(data: dict) -> list[Problem]:
    """Keys SpiffWorkflow or the sandbox would misread: 'typename', and names starting with '_'."""
    return [Problem(f"'{key}' is a reserved name", field=str(key)) for key in sorted(map(str, data))
            if key in RESERVED_DATA_KEYS or key.startswith("_")]


def _check_data_keys(data: dict) -> None:
    problems = _data_key_problems(data)
    if problems:
        raise InvalidForm(problems)


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)

