"""FLOW-02 notify (and reminders/escalations): the `notify` signal becomes in-app rows per user."""
from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.models.intake import Project
from app.models.notification import MailOutbox, Notification
from app.signals import notify


def _rows():
    db.session.expire_all()
    return db.session.scalars(select(Notification).order_by(Notification.recipient)).all()


def test_flow02_named_recipients_get_one_row_each(notes, frozen_clock):
    notify.send(current_app._get_current_object(), recipients=["agent", "manager"],
                subject="回访任务 Visit assigned", body="维修质量回访", link="/api/v1/visits/1")
    rows = _rows()
    assert [r.recipient for r in rows] == ["agent", "manager"]
    assert {(r.subject, r.body, r.link, r.read_at) for r in rows} == {
        ("回访任务 Visit assigned", "维修质量回访", "/api/v1/visits/1", None)}
    assert rows[0].created_at.replace(tzinfo=None) == frozen_clock.now().replace(tzinfo=None)


def test_roles_resolve_to_their_members_and_duplicates_are_dropped(notes):
    """FC-04/ROLE-02 style escalation to roles; a user named and holding the role gets one message."""
    notify.send(current_app._get_current_object(), recipients=["supervisor", None, "nobody-such"],
                roles=["Supervisor", "Manager"], subject="重大投诉 Major complaint", body="漏水")
    got = [r.recipient for r in _rows()]
    # Other tests may add users (demo data): compare with role membership read independently.
    members = sorted(u.username for u in current_app.appbuilder.sm.get_all_users()
                     if u.active and {r.name for r in u.roles} & {"Supervisor", "Manager"})
    assert got == members and got.count("supervisor") == 1 and "manager" in got


def test_no_mail_server_means_in_app_only(notes):
    notify.send(current_app._get_current_object(), recipients=["agent"], subject="s", body="b")
    assert len(_rows()) == 1
    assert db.session.scalars(select(MailOutbox)).all() == []


def test_rows_commit_with_the_senders_transaction_and_roll_back_with_it(notes):
    """Sent while the sender has uncommitted work: the rows share its fate."""
    db.session.add(Project(key="tx-test", name="tx", property_code="TX"))
    notify.send(current_app._get_current_object(), recipients=["agent"], subject="rolled back", body="")
    db.session.rollback()
    assert _rows() == []

    db.session.add(Project(key="tx-test", name="tx", property_code="TX"))
    db.session.flush()  # flushed but not committed still counts as the sender's open work
    notify.send(current_app._get_current_object(), recipients=["agent"], subject="kept", body="")
    db.session.commit()
    assert [r.subject for r in _rows()] == ["kept"]
    db.session.delete(db.session.scalar(select(Project).where(Project.key == "tx-test")))
    db.session.commit()


def test_sent_after_the_sender_committed_the_receiver_commits(notes):
    notify.send(current_app._get_current_object(), recipients=["agent"], subject="after commit", body="")
    db.session.rollback()  # nothing of ours may be left pending in the session
    assert [r.subject for r in _rows()] == ["after commit"]


def test_a_single_name_or_role_string_is_accepted(notes):
    notify.send(current_app._get_current_object(), recipients="agent", roles="Auditor", subject="s", body="")
    auditors = sorted(u.username for u in current_app.appbuilder.sm.get_all_users()
                      if u.active and "Auditor" in {r.name for r in u.roles} and u.username != "agent")
    assert [r.recipient for r in _rows()] == sorted(["agent", *auditors]) and "auditor" in auditors
