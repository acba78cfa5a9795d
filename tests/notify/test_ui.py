"""The Notifications page, its mark-read buttons and the unread badge in the navigation bar."""
from __future__ import annotations

import re

from flask import current_app

from app.signals import notify

from .conftest import browser_login


def _badge(html: str) -> str | None:
    match = re.search(r'id="notification-bell".*?(?:<span class="badge">(\d+)</span>)?\s*</a>', html, re.S)
    assert match, "the bell is missing from the navbar"
    return match.group(1)


def test_page_lists_mine_and_mark_read_updates_the_badge(notes, client):
    app = current_app._get_current_object()
    notify.send(app, recipients=["agent"], subject="回访任务 first", body="正文一", link="/inbox/")
    notify.send(app, recipients=["agent"], subject="回访任务 second", body="正文二")
    notify.send(app, recipients=["manager"], subject="someone else's", body="")
    browser_login(client, "agent")

    page = client.get("/notifications/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "回访任务 first" in html and "正文二" in html and "someone else's" not in html
    assert _badge(html) == "2"
    assert _badge(client.get("/inbox/").get_data(as_text=True)) == "2"  # on every page

    ids = re.findall(r'/notifications/read/(\d+)', html)
    opened = client.post(f"/notifications/read/{ids[-1]}", data={"follow": "1"})  # "first" has a link
    assert opened.status_code == 302 and opened.headers["Location"].endswith("/inbox/")
    assert _badge(client.get("/notifications/").get_data(as_text=True)) == "1"

    assert client.post("/notifications/read-all").status_code == 302
    html = client.get("/notifications/").get_data(as_text=True)
    assert _badge(html) is None and "notification-unread" not in html


def test_page_cannot_mark_another_users_notification(notes, client):
    notify.send(current_app._get_current_object(), recipients=["manager"], subject="manager only", body="")
    from app.models.notification import Notification
    from app.extensions import db
    from sqlalchemy import select

    note_id = db.session.scalar(select(Notification.id))
    browser_login(client, "agent")
    assert client.post(f"/notifications/read/{note_id}").status_code == 404
    db.session.expire_all()
    assert db.session.get(Notification, note_id).read_at is None
