"""Notify fixtures: the app fixtures, a clean notification table and a local SMTP server (aiosmtpd)."""
from __future__ import annotations

import socket
from email import message_from_bytes
from email import policy as email_policy

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import delete

from app.extensions import db
from app.models.notification import MailOutbox, Notification
from tests.app.conftest import (PASSWORD, RequestClient, _admin_password, app, app_ctx, auth,  # noqa: F401
                                browser_login, client, token_for)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _clear():
    db.session.rollback()
    db.session.execute(delete(MailOutbox))
    db.session.execute(delete(Notification))
    db.session.commit()


@pytest.fixture
def notes(app_ctx, monkeypatch):
    """A clean slate; e-mail off unless a test turns it on."""
    monkeypatch.setitem(app_ctx.config, "MAIL_SERVER", "")
    _clear()
    yield app_ctx
    _clear()


class Inbox:
    """aiosmtpd handler keeping every accepted message, parsed."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.original_content or envelope.content, policy=email_policy.default)
        self.messages.append({"rcpt": list(envelope.rcpt_tos), "from": envelope.mail_from, "message": message})
        return "250 OK"


def start_smtp(port: int | None = None):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port or free_port())
    controller.start()
    return controller, inbox


@pytest.fixture
def smtp(notes, monkeypatch):
    """A local SMTP server on a random free port, configured as MAIL_SERVER."""
    controller, inbox = start_smtp()
    monkeypatch.setitem(notes.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(notes.config, "MAIL_PORT", controller.port)
    monkeypatch.setitem(notes.config, "MAIL_FROM", "huifang@test.local")
    yield inbox
    controller.stop()
