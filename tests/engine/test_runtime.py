"""Start, claim, release, reassign, complete and cancel: semantics, errors and the event trail."""
from __future__ import annotations

from datetime import timedelta, timezone

import pytest
from sqlalchemy import select

from tests.conftest import ADMIN, AGENT, SUPERVISOR, load_fixture
from tests.engine.diagrams import count, events, open_tasks, snapshot, task_of
from workflows.actor import Actor
from workflows.engine import Engine
from workflows.errors import Conflict, Forbidden, InvalidForm, NotFound
from workflows.models import EngineEvent, HumanTask, ProcessInstance, Timer

OTHER_AGENT = Actor("wang", frozenset({"Agent"}))
OWNER = Actor("owner", frozenset({"ProcessOwner"}))


@pytest.fixture
def started(engine, deploy, session):
    deploy()
    instance = engine.start("two_step", ADMIN, {"household": "A-101"}, business_key="A-101")
    return instance, task_of(session, instance.id, "visit")


def test_start_creates_task_timer_and_events(started, session, frozen_clock):
    instance, visit = started
    assert instance.status == "running" and instance.started_by == "admin"
    assert session.get(ProcessInstance, instance.id).lock_version == instance.lock_version
    assert (visit.role, visit.lane, visit.form_key, visit.business_key) == ("Agent", "回访员 Agent", "visit.schema.json", "A-101")
    assert (visit.process_key, visit.version_number, visit.assignee) == ("two_step", 1, None)
    due = frozen_clock.now() + timedelta(days=3)
    assert visit.due_at.replace(tzinfo=timezone.utc) == due
    [started_event] = events(session, "instance_started")
    assert (started_event.actor, started_event.instance_id, started_event.detail["business_key"]) == ("admin", instance.id, "A-101")
    [created] = events(session, "task_created")
    assert (created.actor, created.task_id, created.detail["role"]) == ("system", visit.id, "Agent")


def test_start_data_is_visible_and_reserved_key_refused(engine, deploy, session):
    deploy()
    with pytest.raises(InvalidForm) as caught:
        engine.start("two_step", ADMIN, {"typename": "x"})
    assert caught.value.problems[0].field == "typename"
    assert count(session, ProcessInstance) == 0
    instance = engine.start("two_step", ADMIN, {"household": "A-101"})
    assert engine.workflow_data(instance.id)["household"] == "A-101"


def test_start_unknown_model(engine):
    with pytest.raises(NotFound):
        engine.start("nope", ADMIN)


@pytest.mark.parametrize("data, field, words", [
    ({}, "result", "'result' is a required property"),
    ({"result": "maybe"}, "result", "is not one of"),
    ({"result": 3}, "result", "is not of type 'string'"),
    ({"result": "satisfied", "note": 5}, "note", "is not of type 'string'"),
    ({"result": "satisfied", "typename": "x"}, "typename", "reserved"),
    ({"result": "satisfied", "__class__": 1}, "__class__", "reserved"),
])
def test_form_validation_names_the_field(started, engine, session, session_factory, data, field, words):
    instance, visit = started
    before = snapshot(session_factory, instance.id)
    with pytest.raises(InvalidForm) as caught:
        engine.complete(visit.id, AGENT, data)
    problems = [p for p in caught.value.problems if p.field == field]
    assert problems and words in problems[0].message, caught.value.problems
    assert caught.value.to_dict()["problems"][0]["field"]
    assert snapshot(session_factory, instance.id) == before


def test_every_missing_required_field_is_named(engine, deploy, session):
    deploy()
    instance = engine.start("two_step", ADMIN, {})
    engine.complete(task_of(session, instance.id, "visit").id, AGENT, {"result": "satisfied"})
    review = task_of(session, instance.id, "review")
    schema = {"type": "object", "required": ["qualified", "comment", "score"], "properties": {}}
    version = engine.loaded_version(instance.version_id)
    version.forms = {**version.forms, review.form_key: schema}
    with pytest.raises(InvalidForm) as caught:
        engine.complete(review.id, SUPERVISOR, {"comment": "ok"})
    assert sorted(p.field for p in caught.value.problems) == ["qualified", "score"]


def test_complete_advances_and_records(started, engine, session):
    instance, visit = started
    first = instance.lock_version
    engine.complete(visit.id, AGENT, {"result": "satisfied", "note": "好"})
    session.expire_all()
    assert session.get(HumanTask, visit.id) is None
    review = task_of(session, instance.id, "review")
    assert review.role == "Supervisor"
    assert count(session, Timer) == 0  # the boundary timer went with its task
    [done] = events(session, "task_completed")
    assert (done.actor, done.task_id, done.detail["bpmn_id"], done.detail["data"]) == (
        "li", visit.id, "visit", {"result": "satisfied", "note": "好"})
    assert session.get(ProcessInstance, instance.id).lock_version == first + 1
    engine.complete(review.id, SUPERVISOR, {"qualified": True})
    session.expire_all()
    finished = session.get(ProcessInstance, instance.id)
    assert finished.status == "completed" and finished.ended_at is not None
    assert finished.lock_version == first + 2
    assert open_tasks(session) == []
    assert [e.instance_id for e in events(session, "instance_completed")] == [instance.id]
    data = engine.workflow_data(instance.id)
    assert data["result"] == "satisfied" and data["qualified"] is True and data["household"] == "A-101"


def test_wrong_role_is_forbidden(started, engine, session_factory):
    instance, visit = started
    before = snapshot(session_factory, instance.id)
    with pytest.raises(Forbidden):
        engine.complete(visit.id, SUPERVISOR, {"result": "satisfied"})
    with pytest.raises(Forbidden):
        engine.claim(visit.id, SUPERVISOR)
    assert snapshot(session_factory, instance.id) == before


def test_claim_release_and_claimed_by_other(started, engine, session):
    instance, visit = started
    claimed = engine.claim(visit.id, AGENT)
    assert claimed.assignee == "li" and claimed.claimed_at is not None
    assert engine.claim(visit.id, AGENT).assignee == "li"  # claiming again is a no-op
    assert len(events(session, "task_claimed")) == 1
    with pytest.raises(Forbidden):
        engine.claim(visit.id, OTHER_AGENT)
    with pytest.raises(Forbidden):
        engine.complete(visit.id, OTHER_AGENT, {"result": "satisfied"})
    with pytest.raises(Forbidden):
        engine.release(visit.id, OTHER_AGENT)
    released = engine.release(visit.id, AGENT)
    assert released.assignee is None and released.claimed_at is None
    assert engine.claim(visit.id, OTHER_AGENT).assignee == "wang"
    trail = [(e.kind, e.actor, e.task_id) for e in events(session) if e.kind.startswith("task_") and e.kind != "task_created"]
    assert trail == [("task_claimed", "li", visit.id), ("task_released", "li", visit.id),
                     ("task_claimed", "wang", visit.id)]


def test_reassign(started, engine, session):
    instance, visit = started
    with pytest.raises(InvalidForm) as caught:
        engine.reassign(visit.id, SUPERVISOR, "wang", "  ")
    assert caught.value.problems[0].field == "reason"
    engine.claim(visit.id, AGENT)
    task = engine.reassign(visit.id, SUPERVISOR, "wang", "li is on leave")
    assert task.assignee == "wang"
    [event] = events(session, "task_reassigned")
    assert (event.actor, event.detail["previous"], event.detail["assignee"], event.detail["reason"]) == (
        "zhang", "li", "wang", "li is on leave")
    with pytest.raises(Forbidden):
        engine.complete(visit.id, AGENT, {"result": "satisfied"})
    engine.complete(visit.id, OTHER_AGENT, {"result": "satisfied"})
    assert events(session, "task_completed")[0].actor == "wang"


def test_unknown_and_completed_tasks(started, engine, session):
    instance, visit = started
    for call in (lambda t: engine.complete(t, AGENT, {"result": "satisfied"}), lambda t: engine.claim(t, AGENT),
                 lambda t: engine.release(t, AGENT), lambda t: engine.reassign(t, SUPERVISOR, "x", "why"),
                 lambda t: engine.task_form(t)):
        with pytest.raises(NotFound):
            call("00000000-0000-0000-0000-000000000000")
    engine.complete(visit.id, AGENT, {"result": "satisfied"})
    lock_version = session.get(ProcessInstance, instance.id).lock_version
    with pytest.raises((NotFound, Conflict)):
        engine.complete(visit.id, AGENT, {"result": "satisfied"})
    session.expire_all()
    assert session.get(ProcessInstance, instance.id).lock_version == lock_version
    assert len(events(session, "task_completed")) == 1


def test_task_form(started, engine):
    instance, visit = started
    form = engine.task_form(visit.id)
    assert form["schema"]["required"] == ["result"] and form["instructions"] == "Visit the customer."


def test_cancel(started, engine, session):
    instance, visit = started
    first = instance.lock_version
    assert count(session, Timer) == 1 and len(open_tasks(session)) == 1
    with pytest.raises(InvalidForm) as caught:
        engine.cancel(instance.id, ADMIN, " ")
    assert caught.value.problems[0].field == "reason"
    assert session.get(ProcessInstance, instance.id).status == "running"
    engine.cancel(instance.id, ADMIN, "customer moved away")
    session.expire_all()
    cancelled = session.get(ProcessInstance, instance.id)
    assert (cancelled.status, cancelled.end_reason, cancelled.lock_version) == ("cancelled", "customer moved away", first + 1)
    assert cancelled.ended_at is not None
    assert count(session, Timer) == 0 and open_tasks(session) == []
    [event] = events(session, "instance_cancelled")
    assert (event.actor, event.instance_id, event.detail["reason"]) == ("admin", instance.id, "customer moved away")
    with pytest.raises(Conflict):
        engine.cancel(instance.id, ADMIN, "again")
    with pytest.raises(NotFound):
        engine.complete(visit.id, AGENT, {"result": "satisfied"})
    with pytest.raises(NotFound):
        engine.cancel(999999, ADMIN, "no such instance")
    assert engine.fire_due_timers() == 0


def test_instances_stay_on_their_version(engine, session):
    xml, forms = load_fixture("two_step")
    v1 = engine.deploy("two_step", xml, forms, OWNER)
    old = engine.start("two_step", ADMIN)
    changed = xml.replace("审核 Review".encode(), b"Review v2")
    v2 = engine.deploy("two_step", changed, forms, OWNER)
    assert (v1.number, v2.number) == (1, 2)
    new = engine.start("two_step", ADMIN)
    assert (old.version_id, new.version_id) == (v1.id, v2.id)

    # A fresh engine (no cached specs) must still run the old instance on v1.
    fresh = Engine(session)
    fresh.complete(task_of(session, old.id, "visit").id, AGENT, {"result": "satisfied"})
    fresh.complete(task_of(session, new.id, "visit").id, AGENT, {"result": "satisfied"})
    old_review, new_review = task_of(session, old.id, "review"), task_of(session, new.id, "review")
    assert (old_review.version_number, old_review.name) == (1, "审核 Review")
    assert (new_review.version_number, new_review.name) == (2, "Review v2")
    # Starting an explicit old version is possible too.
    assert engine.start("two_step", ADMIN, version_id=v1.id).version_id == v1.id


def test_second_engine_continues_from_the_database(started, session_factory, frozen_clock):
    instance, visit = started
    first = instance.lock_version
    with session_factory() as other_session:
        other = Engine(other_session)
        other.complete(visit.id, AGENT, {"result": "unsatisfied"})
        review = task_of(other_session, instance.id, "review")
        review_id = review.id
        assert other.workflow_data(instance.id)["result"] == "unsatisfied"
    with session_factory() as third_session:
        third = Engine(third_session)
        third.complete(review_id, SUPERVISOR, {"qualified": False})
        finished = third_session.get(ProcessInstance, instance.id)
        assert finished.status == "completed" and finished.lock_version == first + 2


def test_stale_cache_is_not_used(started, engine, session, session_factory):
    """The first engine cached the workflow at lock_version 1; another engine moved it on."""
    instance, visit = started
    with session_factory() as other_session:
        Engine(other_session).complete(visit.id, AGENT, {"result": "satisfied"})
    session.expire_all()
    review = task_of(session, instance.id, "review")
    engine.complete(review.id, SUPERVISOR, {"qualified": True})
    session.expire_all()
    assert session.get(ProcessInstance, instance.id).status == "completed"
    assert engine.workflow_data(instance.id)["result"] == "satisfied"


def test_loaded_instance_objects_follow_the_core_writes(deploy, session_factory, frozen_clock):
    """Steps write the instance row with Core statements; an ORM object of it loaded in the same
    session must show the new values even where commit does not expire (and never flush old ones)."""
    deploy()
    with session_factory(expire_on_commit=False) as session:
        engine = Engine(session)
        instance = engine.start("two_step", ADMIN, {"household": "A-102"}, business_key="A-102")
        loaded = session.get(ProcessInstance, instance.id)
        assert (loaded.status, loaded.lock_version) == ("running", 1)
        engine.complete(task_of(session, instance.id, "visit").id, AGENT, {"result": "satisfied"})
        assert loaded.lock_version == 2
        returned = engine.complete(task_of(session, instance.id, "review").id, SUPERVISOR, {"qualified": True})
        assert returned is loaded and (loaded.status, loaded.lock_version) == ("completed", 3)
        loaded.end_reason = "note"  # a later ORM flush of the object must pass the optimistic check
        session.commit()
    with session_factory() as check:
        row = check.get(ProcessInstance, instance.id)
        assert (row.status, row.lock_version, row.end_reason) == ("completed", 4, "note")


def test_returned_instance_loads_lazily_and_completed_task_stays_readable(started, engine, session):
    """complete() returns the instance without querying it; the completed task's object keeps its
    values (a page shows its name after completing it) instead of failing to refresh."""
    instance, visit = started
    name = visit.name
    returned = engine.complete(visit.id, AGENT, {"result": "satisfied"})
    assert returned.id == instance.id and returned.status == "running" and returned.lock_version == 2
    assert visit.name == name and session.get(HumanTask, visit.id) is None


def test_ids_of_deleted_instances_and_events_are_never_reused(engine, deploy, session):
    """The audit trail and visits refer to instances and engine events by id (SQLite: AUTOINCREMENT)."""
    deploy()
    first = engine.start("two_step", ADMIN, {"household": "A-103"}).id
    last_event = session.scalar(select(EngineEvent.id).order_by(EngineEvent.id.desc()).limit(1))
    for model in (EngineEvent, HumanTask, Timer, ProcessInstance):
        session.query(model).delete()
    session.commit()
    second = engine.start("two_step", ADMIN, {"household": "A-104"}).id
    assert second > first
    assert session.scalar(select(EngineEvent.id).order_by(EngineEvent.id).limit(1)) > last_event


def test_purge_destroys_only_an_ended_instances_document(started, engine, session):
    instance, _visit = started
    with pytest.raises(Conflict, match="still running"):
        engine.purge(instance.id, ADMIN, "destroyed in D-1")
    engine.cancel(instance.id, ADMIN, "customer moved away")
    assert engine.workflow_data(instance.id) is not None
    engine.purge(instance.id, ADMIN, "destroyed in D-1")
    session.commit()
    session.expire_all()
    tomb = session.get(ProcessInstance, instance.id)
    assert (tomb.status, tomb.state, tomb.end_reason, tomb.business_key) == ("destroyed", b"", "destroyed in D-1", None)
    [event] = events(session, "instance_destroyed")
    assert (event.actor, event.detail["reason"]) == ("admin", "destroyed in D-1")
    with pytest.raises(Conflict, match="destroyed"):
        engine.workflow_data(instance.id)
    engine.purge(instance.id, ADMIN, "again")  # idempotent: nothing more to destroy
    assert len(events(session, "instance_destroyed")) == 1
