"""From an intake service event (INTAKE's REST API) to the archived visit, driven by service_event_recorded."""
from __future__ import annotations

from .helpers import PLAN, VISIT, complete, start, tasks, visit


def _household(client, headers, key, building="1", room="101"):
    r = client.post("/api/v1/households/", json={"project": key, "building": building, "room": room},
                    headers=headers)
    assert r.status_code == 201, r.json
    return r.json["result"]


def _event(client, headers, key, **body):
    r = client.post("/api/v1/service-events/", json={"project": key, "building": "1", "room": "101",
                                                     "content": "楼道灯不亮 corridor light", **body}, headers=headers)
    assert r.status_code == 201, r.json
    return r.json["result"]


def test_a_completed_help_event_starts_its_visit_which_runs_to_archive(flows, client, auth, project):
    admin, sup, agent = auth("admin"), auth("supervisor"), auth("agent")
    key = project("ia", "P000-3")
    _household(client, admin, key)
    event = _event(client, admin, key, category="help")
    # nothing to visit until the service is completed
    assert client.get("/api/v1/visits/", headers=sup).json["count"] == 0
    r = client.post(f"/api/v1/service-events/{event['id']}/complete", json={}, headers=admin)
    assert r.status_code == 200, r.json
    [v] = client.get("/api/v1/visits/", headers=sup).json["result"]
    assert (v["service_event_id"], v["category"], v["project"], v["process"]) == (event["id"], "help", key,
                                                                                   "followup_visit")
    assert v["profile_version_id"] and v["due_at"]  # the window comes from the project's policy profile
    complete(client, sup, tasks(client, sup, v["instance_id"])["plan"], PLAN)
    complete(client, agent, tasks(client, agent, v["instance_id"])["visit"], VISIT)
    complete(client, sup, tasks(client, sup, v["instance_id"])["review"], {"qualified": True, "comment": "好"})
    assert visit(client, sup, v["id"])["status"] == "archived"


def test_a_recorded_complaint_opens_its_case_once(flows, client, auth, project):
    admin, sup = auth("admin"), auth("supervisor")
    key = project("ic", "P003")
    _household(client, admin, key)
    event = _event(client, admin, key, category="complaint", severity="MAJOR")
    [case] = client.get("/api/v1/visits/", headers=sup).json["result"]
    assert case["process"] == "complaint_case" and case["severity"] == "MAJOR"
    assert tasks(client, sup, case["instance_id"])["reply"]["due_at"]  # §5.2 reply deadline
    assert client.post(f"/api/v1/service-events/{event['id']}/complete", json={}, headers=admin).status_code == 200
    assert client.get("/api/v1/visits/", headers=sup).json["count"] == 1  # closing the event starts nothing twice


def _completed_2026_contract(client, auth, project, key: str, profile: str) -> list[dict]:
    """A special-service contract for 2026 on ``profile``, completed: the visits it started, by due date."""
    admin = auth("admin")
    project(key, profile)
    _household(client, admin, key)
    event = _event(client, admin, key, category="special_service", contract_start="2026-01-01T00:00:00+08:00",
                   contract_end="2026-12-31T00:00:00+08:00")
    assert client.post(f"/api/v1/service-events/{event['id']}/complete", json={}, headers=admin).status_code == 200
    return sorted(client.get("/api/v1/visits/", headers=auth("supervisor")).json["result"], key=lambda v: v["due_at"])


def test_amb19_a_special_service_contract_gets_a_mid_term_and_an_end_visit(flows, client, auth, project):
    visits = _completed_2026_contract(client, auth, project, "isp", "P000-3")
    assert len(visits) == 2 and {v["category"] for v in visits} == {"special_service"}
    mid, end = visits
    # the contract's midpoint is 2026-07-02 00:00 (+08:00); the mid-term window is ± 7 whole local days
    assert (mid["window_opens"], mid["due_at"]) == ("2026-06-24T16:00:00+00:00", "2026-07-09T15:59:59.999999+00:00")
    assert end["window_opens"] >= "2026-12-30T16:00:00+00:00"  # after the contract ends


def test_cat_sp01_p000_6_contracts_get_only_the_end_visit(flows, client, auth, project):
    [only] = _completed_2026_contract(client, auth, project, "isp6", "P000-6")
    assert only["due_at"] > "2026-12-31"
