"""E-mail through a local SMTP server (aiosmtpd): delivery, failure with retry, and e-mail off."""
from __future__ import annotations

import smtplib
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from app.cli import worker
from app.extensions import db
from app.models.notification import MailOutbox
from app.services.notifications import send_pending_mail
from app.signals import notify

from .conftest import free_port, start_smtp

SUBJECT = "回访任务 Visit assigned: 1栋-101 (HF-0001)"
BODY = "请于三日内完成维修质量回访。"


def _notify_agent():
    notify.send(current_app._get_current_object(), recipients=["agent"], subject=SUBJECT, body=BODY,
                link="/api/v1/visits/7")


def _outbox():
    db.session.expire_all()
    return db.session.scalars(select(MailOutbox).order_by(MailOutbox.id)).all()


def test_flow02_mail_is_delivered_with_chinese_subject_and_body(smtp, frozen_clock):
    _notify_agent()
    [mail] = _outbox()
    assert (mail.status, mail.to_address, mail.attempts) == ("pending", "agent@test.local", 0)
    assert smtp.messages == []  # nothing leaves inside the sender's request

    assert send_pending_mail() == {"sent": 1, "failed": 0}
    [got] = smtp.messages
    assert got["rcpt"] == ["agent@test.local"]
    assert got["from"] == "huifang@test.local"
    message = got["message"]
    assert message["Subject"] == SUBJECT
    assert "agent@test.local" in message["To"]
    text = message.get_content()
    assert BODY in text and "/api/v1/visits/7" in text
    [mail] = _outbox()
    assert (mail.status, mail.attempts, mail.last_error) == ("sent", 1, None)

    assert send_pending_mail() == {"sent": 0, "failed": 0}  # sent once only
    assert len(smtp.messages) == 1


def test_smtp_down_records_the_error_and_retries_later(notes, monkeypatch, frozen_clock):
    port = free_port()  # nothing listens here yet
    monkeypatch.setitem(notes.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(notes.config, "MAIL_PORT", port)
    monkeypatch.setitem(notes.config, "MAIL_RETRY_SECONDS", 60)
    _notify_agent()

    assert send_pending_mail() == {"sent": 0, "failed": 1}
    [mail] = _outbox()
    assert (mail.status, mail.attempts) == ("failed", 1)
    assert "ConnectionRefused" in mail.last_error
    # Not before its retry time …
    assert send_pending_mail() == {"sent": 0, "failed": 0}

    controller, inbox = start_smtp(port)
    try:
        frozen_clock.advance(timedelta(seconds=61))
        assert send_pending_mail() == {"sent": 1, "failed": 0}
    finally:
        controller.stop()
    [mail] = _outbox()
    assert (mail.status, mail.attempts, mail.last_error) == ("sent", 2, None)
    assert inbox.messages[0]["message"]["Subject"] == SUBJECT


def test_retries_stop_after_max_attempts(notes, monkeypatch, frozen_clock):
    monkeypatch.setitem(notes.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(notes.config, "MAIL_PORT", free_port())
    monkeypatch.setitem(notes.config, "MAIL_MAX_ATTEMPTS", 2)
    _notify_agent()
    for _ in range(4):
        send_pending_mail()
        frozen_clock.advance(timedelta(hours=1))
    [mail] = _outbox()
    assert (mail.status, mail.attempts) == ("failed", 2)


def test_no_smtp_configured_attempts_nothing(notes, monkeypatch):
    def refuse(*_a, **_k):
        raise AssertionError("SMTP must not be contacted when MAIL_SERVER is empty")

    monkeypatch.setattr(smtplib, "SMTP", refuse)
    _notify_agent()
    assert _outbox() == []
    assert send_pending_mail() == {"sent": 0, "failed": 0}


def test_the_worker_sends_the_outbox(smtp, notes):
    _notify_agent()
    result = notes.test_cli_runner().invoke(worker, ["--once"])
    assert result.exit_code == 0, result.output
    assert "mail: 1 sent, 0 failed" in result.output
    assert [m["rcpt"] for m in smtp.messages] == [["agent@test.local"]]


def test_a_row_another_worker_holds_is_skipped_not_sent_twice(smtp, notes, backend):
    """Several workers: PostgreSQL rows being sent by one worker are skipped (FOR UPDATE SKIP LOCKED).

    SQLite has one writer at a time, so there the second sweep simply finds the row already sent.
    """
    import sqlalchemy as sa

    _notify_agent()
    [mail] = _outbox()
    if backend == "postgresql":
        other = sa.create_engine(notes.config["SQLALCHEMY_DATABASE_URI"])
        try:
            with other.connect() as conn:
                tx = conn.begin()
                conn.execute(sa.text("SELECT id FROM notification_mail WHERE id = :id FOR UPDATE"), {"id": mail.id})
                assert send_pending_mail() == {"sent": 0, "failed": 0}
                tx.rollback()
        finally:
            other.dispose()
        assert smtp.messages == []
    assert send_pending_mail() == {"sent": 1, "failed": 0}
    assert send_pending_mail() == {"sent": 0, "failed": 0}
    assert len(smtp.messages) == 1
