"""REST: my notifications, unread count, read and read-all; nobody reads another's notifications."""
from __future__ import annotations

from flask import current_app

from app.signals import notify


def _send(recipients, subject):
    notify.send(current_app._get_current_object(), recipients=recipients, subject=subject, body="正文 body",
                link="/inbox/")


def test_unread_first_count_and_mark_read(notes, client, auth):
    for subject in ("一", "二", "三"):
        _send(["agent"], subject)
    _send(["manager"], "not yours")
    headers = auth("agent")
    listing = client.get("/api/v1/notifications/", headers=headers).json
    assert listing["count"] == 3 and listing["unread"] == 3
    assert [n["subject"] for n in listing["result"]] == ["三", "二", "一"]
    first = listing["result"][2]

    response = client.post(f"/api/v1/notifications/{first['id']}/read", headers=headers)
    assert response.status_code == 200, response.json
    assert response.json["unread"] == 2 and response.json["result"]["read"] is True

    listing = client.get("/api/v1/notifications/", headers=headers).json
    assert [n["subject"] for n in listing["result"]] == ["三", "二", "一"]  # the read one goes last
    assert listing["result"][-1]["read_at"] is not None
    only_unread = client.get("/api/v1/notifications/?unread=true", headers=headers).json
    assert [n["subject"] for n in only_unread["result"]] == ["三", "二"]
    paged = client.get("/api/v1/notifications/?limit=1&offset=1", headers=headers).json
    assert paged["count"] == 3 and [n["subject"] for n in paged["result"]] == ["二"]

    response = client.post("/api/v1/notifications/read-all", headers=headers)
    assert response.json == {"marked": 2, "unread": 0}
    assert client.get("/api/v1/notifications/", headers=auth("manager")).json["unread"] == 1


def test_others_notifications_are_invisible_and_cannot_be_marked(notes, client, auth):
    _send(["manager"], "for the manager")
    mine = client.get("/api/v1/notifications/", headers=auth("manager")).json["result"]
    theirs = client.get("/api/v1/notifications/", headers=auth("agent")).json
    assert theirs["count"] == 0 and theirs["result"] == []
    response = client.post(f"/api/v1/notifications/{mine[0]['id']}/read", headers=auth("agent"))
    assert response.status_code == 404
    assert client.get("/api/v1/notifications/", headers=auth("manager")).json["unread"] == 1
    assert client.post("/api/v1/notifications/read-all", headers=auth("agent")).json["marked"] == 0
    assert client.get("/api/v1/notifications/", headers=auth("manager")).json["unread"] == 1


def test_bad_unread_flag_names_the_field(notes, client, auth):
    response = client.get("/api/v1/notifications/?unread=maybe", headers=auth("agent"))
    assert response.status_code == 422
    assert response.json["problems"][0]["field"] == "unread", response.json


def test_every_role_may_read_its_notifications(notes, client, auth):
    from app.security import ROLES

    for role in ROLES:
        response = client.get("/api/v1/notifications/", headers=auth(role.lower()))
        assert response.status_code == 200, (role, response.json)
    assert client.get("/api/v1/notifications/").status_code == 401
