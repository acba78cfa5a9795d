"""Policy in the app: seeding, `flask policy explain` = GET /api/v1/policy/explain, versions, overrides."""
from __future__ import annotations

import copy
import json
from datetime import datetime

import pytest
from sqlalchemy import func, select

from app.cli import init
from app.cli_policy import policy
from app.extensions import db
from app.models.policy import ImmutableVersion, PolicyProfile, PolicyProfileVersion
from app.services.policy import effective_policy, set_project_policy
from tests.app.conftest import browser_login
from workflows.policy import PolicyError, explain, load_profiles

SHIPPED = load_profiles()
TRIGGER = "2024-01-31T10:00:00+08:00"
CASES = [(code, category) for code, params in sorted(SHIPPED.items()) for category in sorted(params["categories"])]

# Hand-computed (AMB-39 / Art. 202 / AMB-20 / AMB-43): T = 2024-01-31 (Wed) 10:00 +08:00.
EXPECTED_DUE = {
    ("P000-2", "repair"): ("2024-02-29T00:00:00+08:00", "2024-03-31T23:59:59.999999+08:00"),  # [T+1M, T+2M]
    ("P000-4", "repair"): ("2024-02-01T00:00:00+08:00", "2024-02-02T23:59:59.999999+08:00"),  # [T+1d, T+2d]
    ("P000-6", "repair"): ("2024-02-03T00:00:00+08:00", "2024-02-29T23:59:59.999999+08:00"),  # [T+3d, T+1M]
    ("P001-H", "repair"): ("2024-02-07T00:00:00+08:00", "2024-02-29T23:59:59.999999+08:00"),  # [T+1w, T+1M]
    ("P001-C", "repair"): (TRIGGER, "2024-02-03T23:59:59.999999+08:00"),                    # within 3 d
    ("P003", "repair"): (TRIGGER, "2024-02-19T23:59:59.999999+08:00"),   # 10 wd: 02-01,02,04,05..09,18,19
    ("P002", "repair"): (TRIGGER, "2024-02-05T23:59:59.999999+08:00"),   # before the 5th of next month
    ("P001-S", "other"): (TRIGGER, "2024-02-19T23:59:59.999999+08:00"),
    ("P000-2", "publication_event"): (TRIGGER, "2024-02-29T23:59:59.999999+08:00"),
}


# Filing of the period containing T (2024-01-31): P000-1/7 at month end, P000-2/4 on the 10th after the quarter.
EXPECTED_FILING = {"P000-1": "2024-01-31T23:59:59.999999+08:00", "P000-7": "2024-01-31T23:59:59.999999+08:00",
                   "P000-2": "2024-04-10T23:59:59.999999+08:00", "P000-4": "2024-04-10T23:59:59.999999+08:00"}


def cli_explain(app, *args) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(policy, ["explain", *args])
    return result.exit_code, result.output


def test_init_seeds_every_profile_once(app_ctx):
    assert app_ctx.test_cli_runner().invoke(init, []).exit_code == 0  # second run: nothing new
    codes = set(db.session.scalars(select(PolicyProfile.code)))
    assert codes == set(SHIPPED)
    for code in codes:
        profile = db.session.scalar(select(PolicyProfile).where(PolicyProfile.code == code))
        assert [v.number for v in profile.versions] == [1]
        assert profile.versions[0].params == SHIPPED[code]


@pytest.mark.parametrize("code,category", CASES)
def test_explain_every_profile_and_category_cli_equals_api(code, category, app_ctx, client, auth):
    exit_code, output = cli_explain(app_ctx, "--profile", code, "--category", category, "--trigger", TRIGGER,
                                    "--count", "37")
    assert exit_code == 0, output
    from_cli = json.loads(output)
    response = client.get("/api/v1/policy/explain", headers=auth("agent"),
                          query_string={"profile": code, "category": category, "trigger": TRIGGER, "count": 37})
    assert response.status_code == 200, response.json
    assert response.json == from_cli
    seed = SHIPPED[code]["categories"][category]
    assert from_cli["profile"] == code and from_cli["category"] == category
    assert from_cli["required_rate"] == seed["required_rate"]
    assert from_cli["allowed_methods"] == seed["allowed_methods"]
    assert from_cli["visitor_role"] == seed["visitor_role"]
    assert from_cli["record_form"] == seed["record_form"]
    assert from_cli["trigger_event"] == seed["trigger"]
    assert from_cli["count"] == 37 and from_cli["sample_size"] <= 37
    assert datetime.fromisoformat(from_cli["opens"]) < datetime.fromisoformat(from_cli["due"])
    version = db.session.scalar(select(PolicyProfileVersion).join(PolicyProfile).where(PolicyProfile.code == code))
    assert from_cli["profile_version_id"] == version.id
    if (code, category) in EXPECTED_DUE:
        assert (from_cli["opens"], from_cli["due"]) == EXPECTED_DUE[(code, category)]
    if seed.get("sla"):
        assert from_cli["reply_due"] and from_cli["resolve_due"]
    # §2.0: statistics period, filing deadline and repeat thresholds of every profile
    profile = SHIPPED[code]
    assert from_cli["statistics_periods"] == profile["statistics"]["periods"]
    assert from_cli["repeat_threshold"] == profile["repeat_thresholds"].get(category)
    assert from_cli["min_home_share"] == seed.get("min_home_share", profile.get("min_home_share"))
    assert from_cli["filing_due"] == EXPECTED_FILING.get(code, "2024-02-10T23:59:59.999999+08:00")  # 10th, next month


def test_p003_major_complaint_explain(app_ctx, client, auth):
    """§5.2: MAJOR → project head visits; reply 2 clock hours (AMB-33); resolve 3 working days."""
    response = client.get("/api/v1/policy/explain", headers=auth("agent"), query_string={
        "profile": "P003", "category": "complaint", "trigger": TRIGGER, "severity": "MAJOR"})
    body = response.json
    assert body["visitor_role"] == ["Manager"]
    assert body["reply_due"] == "2024-01-31T12:00:00+08:00"
    assert body["resolve_due"] == "2024-02-04T23:59:59.999999+08:00"  # 02-01, 02-02, 02-04 (make-up Sunday)
    exit_code, output = cli_explain(app_ctx, "--profile", "P003", "--category", "complaint", "--trigger", TRIGGER,
                                    "--severity", "MAJOR")
    assert json.loads(output) == body


@pytest.mark.parametrize("query,field", [
    ({"profile": "NOPE", "category": "repair", "trigger": TRIGGER}, "profile"),
    ({"profile": "P001-C", "category": "complaint", "trigger": TRIGGER}, "category"),
    ({"profile": "P001-C", "category": "repair", "trigger": "2024-01-31T10:00:00"}, "trigger"),
    ({"profile": "P001-C", "category": "repair", "trigger": "yesterday"}, "trigger"),
    ({"profile": "P001-C", "category": "repair"}, "trigger"),
    ({"profile": "P002", "category": "repair", "trigger": TRIGGER, "count": "many"}, "count"),
    ({"profile": "P003", "category": "complaint", "trigger": TRIGGER, "severity": "HUGE"}, "severity"),
    ({"profile": "P004-6", "category": "repair", "trigger": TRIGGER, "subtype": "fire"}, "subtype"),
    ({"profile": "P002", "category": "repair", "trigger": TRIGGER, "subtype": "leak"}, "subtype"),
])
def test_explain_errors_name_the_parameter(query, field, app_ctx, client, auth):
    response = client.get("/api/v1/policy/explain", headers=auth("agent"), query_string=query)
    assert response.status_code == 422, response.json
    assert response.json["field"] == field
    args = [a for k, v in query.items() for a in (f"--{k}", v)]
    if "trigger" not in query:
        args += ["--trigger", ""]
    exit_code, output = cli_explain(app_ctx, *args)
    assert exit_code != 0 and field in output


def test_explain_subtype_p004_6_safety_and_leak_windows(app_ctx, client, auth):
    """P004-6 篇六 (b)二: repairs in a week, safety facilities in 2 days, water leaks in 3 (--subtype)."""
    dues = {}
    for subtype in (None, "safety", "leak"):
        query = {"profile": "P004-6", "category": "repair", "trigger": "2024-05-06T09:00:00+08:00"}
        args = ["--profile", "P004-6", "--category", "repair", "--trigger", query["trigger"]]
        if subtype:
            query["subtype"], args = subtype, args + ["--subtype", subtype]
        body = client.get("/api/v1/policy/explain", headers=auth("agent"), query_string=query).json
        exit_code, output = cli_explain(app_ctx, *args)
        assert exit_code == 0 and json.loads(output) == body
        assert body["subtypes"] == ["leak", "safety"] and body["subtype"] == subtype
        dues[subtype] = body["due"][:10]
    assert dues == {None: "2024-05-13", "safety": "2024-05-08", "leak": "2024-05-09"}


def test_unencoded_plus_offset_in_query_string(app_ctx, client, auth):
    response = client.get("/api/v1/policy/explain?profile=P001-C&category=repair&trigger=2024-01-31T10:00:00+08:00",
                          headers=auth("agent"))
    assert response.status_code == 200, response.json
    assert response.json["due"] == "2024-02-03T23:59:59.999999+08:00"


def test_process_owner_edits_profile_as_new_version(policy_clean, client, auth):
    params = copy.deepcopy(SHIPPED["P000-2"])
    params["categories"]["repair"]["required_rate"] = 0.2
    url = "/api/v1/policy/profiles/P000-2/versions"
    assert client.post(url, headers=auth("agent"), json={"params": params, "reason": "x"}).status_code == 403
    missing = client.post(url, headers=auth("processowner"), json={"params": params, "reason": " "})
    assert missing.status_code == 422 and missing.json["field"] == "reason"
    bad = copy.deepcopy(params)
    bad["categories"]["repair"]["required_rate"] = 2
    refused = client.post(url, headers=auth("processowner"), json={"params": bad, "reason": "typo"})
    assert refused.status_code == 422 and refused.json["field"] == "categories.repair.required_rate"
    assert db.session.scalar(select(func.count()).select_from(PolicyProfileVersion)) == len(SHIPPED)

    created = client.post(url, headers=auth("processowner"), json={"params": params, "reason": "audit finding"})
    assert created.status_code == 201, created.json
    assert created.json["number"] == 2 and created.json["created_by"] == "processowner"
    explained = client.get("/api/v1/policy/explain", headers=auth("agent"),
                           query_string={"profile": "P000-2", "category": "repair", "trigger": TRIGGER})
    assert explained.json["required_rate"] == 0.2
    assert explained.json["profile_version_id"] == created.json["id"]
    history = client.get("/api/v1/policy/profiles/P000-2", headers=auth("auditor")).json
    assert [v["number"] for v in history["versions"]] == [1, 2]


def test_versions_are_immutable(policy_clean):
    version = db.session.scalar(select(PolicyProfileVersion).limit(1))
    version.reason = "rewritten"
    with pytest.raises(ImmutableVersion):
        db.session.flush()
    db.session.rollback()


def test_project_overrides_and_effective_policy(policy_clean, client, auth):
    base = effective_policy("PRJ-X")
    assert base["profile"] == "P000-3" and base["project_policy_version_id"] is None
    url = "/api/v1/policy/projects/PRJ-X"
    bad = client.post(url, headers=auth("processowner"), json={
        "profile": "P003", "overrides": {"categories": {"repair": {"required_rate": -1}}}, "reason": "project rate"})
    assert bad.status_code == 422 and bad.json["field"] == "overrides.categories.repair.required_rate"
    ok = client.post(url, headers=auth("processowner"), json={
        "profile": "P003", "overrides": {"categories": {"repair": {"required_rate": 0.8}}}, "reason": "SMP-03 80%"})
    assert ok.status_code == 201, ok.json
    policy_ = effective_policy("PRJ-X")
    assert policy_["profile"] == "P003" and policy_["project_policy_version_id"] == ok.json["id"]
    assert policy_["params"]["categories"]["repair"]["required_rate"] == 0.8
    assert policy_["params"]["categories"]["repair"]["window"] == SHIPPED["P003"]["categories"]["repair"]["window"]
    explained = client.get("/api/v1/policy/explain", headers=auth("agent"),
                           query_string={"project": "PRJ-X", "category": "repair", "trigger": TRIGGER, "count": 10})
    assert explained.json["required_rate"] == 0.8 and explained.json["sample_size"] == 8
    with pytest.raises(PolicyError) as err:
        set_project_policy("PRJ-X", "P003", {}, "someone", "")
    assert err.value.field == "reason"


def test_admin_ui_edit_requires_reason_and_role(policy_clean):
    app = policy_clean
    owner = browser_login(app.test_client(), "processowner")
    page = owner.get("/policy/profile/P004-6")
    assert page.status_code == 200 and 'name="reason"' in page.get_data(as_text=True)
    params = copy.deepcopy(SHIPPED["P004-6"])
    params["categories"]["repair"]["sampling"]["quotas"]["Manager"] = 0.15
    text = json.dumps(params, ensure_ascii=False)
    refused = owner.post("/policy/profile/P004-6", data={"params": text, "reason": ""})
    assert refused.status_code == 200 and "reason" in refused.get_data(as_text=True)
    saved = owner.post("/policy/profile/P004-6", data={"params": text, "reason": "quota change"})
    assert saved.status_code == 302
    agent = browser_login(app.test_client(), "agent")
    assert agent.get("/policy/").status_code == 200
    assert agent.post("/policy/profile/P004-6", data={"params": text, "reason": "x"}).status_code == 403
    assert "P004-6" in agent.get("/policy/").get_data(as_text=True)


def test_future_version_waits_for_effective_from(policy_clean, client, auth):
    """A version dated in the future is stored but effective_policy keeps the current one until then."""
    params = copy.deepcopy(SHIPPED["P000-3"])
    params["min_home_share"] = 0.3
    now_version = effective_policy("PRJ-F")["profile_version_id"]
    created = client.post("/api/v1/policy/profiles/P000-3/versions", headers=auth("processowner"), json={
        "params": params, "reason": "from next year", "effective_from": "2999-01-01T00:00:00+08:00"})
    assert created.status_code == 201, created.json
    assert effective_policy("PRJ-F")["profile_version_id"] == now_version
    naive = client.post("/api/v1/policy/profiles/P000-3/versions", headers=auth("processowner"), json={
        "params": params, "reason": "x", "effective_from": "2999-01-01T00:00:00"})
    assert naive.status_code == 422 and naive.json["field"] == "effective_from"


def test_profile_list_and_project_read(app_ctx, client, auth):
    listed = client.get("/api/v1/policy/profiles", headers=auth("vp")).json["result"]
    assert {row["code"] for row in listed} == set(SHIPPED)
    assert client.get("/api/v1/policy/profiles/NOPE", headers=auth("vp")).status_code == 404
    project = client.get("/api/v1/policy/projects/PRJ-NONE", headers=auth("vp")).json
    assert project["effective"]["profile"] == "P000-3" and project["versions"] == []


def test_admin_ui_project_overrides(policy_clean):
    owner = browser_login(policy_clean.test_client(), "processowner")
    page = owner.get("/policy/project/PRJ-UI")
    assert page.status_code == 200 and "P000-3" in page.get_data(as_text=True)
    bad = owner.post("/policy/project/PRJ-UI", data={"profile": "P003", "overrides": '{"min_home_share": 7}',
                                                     "reason": "more home visits"})
    assert bad.status_code == 200 and "overrides.min_home_share" in bad.get_data(as_text=True)
    assert effective_policy("PRJ-UI")["project_policy_version_id"] is None
    ok = owner.post("/policy/project/PRJ-UI", data={"profile": "P003", "overrides": '{"min_home_share": 0.5}',
                                                    "reason": "more home visits"})
    assert ok.status_code == 302
    assert effective_policy("PRJ-UI")["params"]["min_home_share"] == 0.5
    supervisor = browser_login(policy_clean.test_client(), "supervisor")
    assert supervisor.post("/policy/project/PRJ-UI", data={"profile": "P002", "overrides": "{}",
                                                           "reason": "x"}).status_code == 403
