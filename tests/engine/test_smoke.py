from sqlalchemy import select

from tests.conftest import ADMIN, AGENT
from workflows.models import HumanTask


def test_start_and_complete(engine, deploy, session):
    deploy()
    instance = engine.start("two_step", ADMIN, {"household": "A-101"}, business_key="A-101")
    task = session.scalar(select(HumanTask).where(HumanTask.instance_id == instance.id))
    assert task.name == "回访 Visit" and task.role == "Agent"
    engine.complete(task.id, AGENT, {"result": "satisfied"})
    names = [t.name for t in session.scalars(select(HumanTask))]
    assert names == ["审核 Review"]
