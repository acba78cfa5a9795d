def test_start_and_work_a_visit(client, auth):
    sup = auth("supervisor")
    r = client.post("/api/v1/instances/", json={"process": "followup_visit", "business_key": "1栋-101",
                                                "data": {"household": "1栋-101"}}, headers=sup)
    assert r.status_code == 201, r.json
    r = client.get("/api/v1/tasks/?scope=roles", headers=sup)
    assert r.status_code == 200
    plan = [t for t in r.json["result"] if t["business_key"] == "1栋-101"][0]
    assert plan["name"] == "制定回访计划 Plan the visit"
    r = client.post(f"/api/v1/tasks/{plan['id']}/complete", json={"data": {"visitor": "agent", "method": "HOME"}},
                    headers=sup)
    assert r.status_code == 422 and r.json["problems"][0]["field"] == "window_days"
