"""The modeler in a real browser (Playwright driving Debian's chromium), on a live server of its own.

The process owner opens the follow-up visit diagram, renames a task and changes a timer in the
properties panel, tries to deploy a broken version and sees the errors on the diagram and in the list,
fixes it and deploys; a new instance starts on the new version while an older one stays on the old.
Its own database (a fresh one of the session's backend), so the shipped diagram's new version does not
leak into the other tests.
"""
from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import select
from werkzeug.serving import make_server

from app.cli import init
from app.extensions import db
from workflows.models import HumanTask, ProcessInstance, ProcessVersion

from .conftest import PASSWORD, make_app

CHROMIUM = "/usr/bin/chromium"
BUNDLE = Path(__file__).resolve().parents[2] / "app" / "static" / "vendor" / "modeler" / "huifang-modeler.js"
RENAMED = "制定回访计划 Plan the visit and the appointment"


@pytest.fixture
def live_app(fresh_database_url):
    assert BUNDLE.exists(), "the modeler bundle is missing: run scripts/setup.sh"
    app = make_app(fresh_database_url)
    app.config["WTF_CSRF_ENABLED"] = True  # as in production: the page's JSON posts carry the token
    with app.app_context():
        upgrade()
        result = app.test_cli_runner().invoke(init, [])
        assert result.exit_code == 0, result.output
        sm = app.appbuilder.sm
        sm.add_user("chen.owner", "陈", "流程负责人", "chen.owner@test.local", sm.find_role("ProcessOwner"), PASSWORD)
        sm.add_user("zhang.sup", "张", "主管", "zhang.sup@test.local", sm.find_role("Supervisor"), PASSWORD)
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _start_visit(app, household: str) -> dict:
    client = app.test_client()
    token = client.post("/api/v1/security/login", json={"username": "zhang.sup", "password": PASSWORD,
                                                        "provider": "db"}).json["access_token"]
    response = client.post("/api/v1/instances/", headers={"Authorization": f"Bearer {token}"}, json={
        "process": "followup_visit", "business_key": household, "data": {"household": household}})
    assert response.status_code == 201, response.json
    return response.json["result"]


def _click_uncovered(page, element_id: str) -> None:
    """Click a small shape where no flow or label of a neighbour lies over it (a person aims the same way)."""
    from playwright.sync_api import Error

    shape = page.locator(f"g.djs-element[data-element-id={element_id}]")
    shape.wait_for()
    # A covered point fails its trial only at the timeout; a free one can still take a while on a busy machine.
    for x, y in ((18, 18), (7, 18), (29, 18), (18, 6), (18, 30), (9, 9), (27, 9), (9, 27), (27, 27)):
        try:
            shape.click(position={"x": x, "y": y}, trial=True, timeout=1500)
        except Error:
            continue
        shape.click(position={"x": x, "y": y})
        return
    raise AssertionError(f"{element_id} is covered everywhere")


def test_process_owner_edits_deploys_and_instances_keep_their_version(live_app):
    from playwright.sync_api import expect, sync_playwright

    app, base = live_app
    old = _start_visit(app, "1栋-101")
    assert old["version"] == 1

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.set_default_timeout(10_000)
        errors: list[str] = []
        page.on("pageerror", lambda err: errors.append(str(err)))
        try:
            page.goto(f"{base}/login/")
            page.fill("#username", "chen.owner")
            page.fill("#password", PASSWORD)
            page.click("[type=submit]")
            page.goto(f"{base}/lang/en")

            # the modeler area lists the model; open it
            page.goto(f"{base}/modeler/")
            page.click("tr[data-key=followup_visit] >> text=Edit")
            page.wait_for_selector("body[data-modeler-ready=true]")
            expect(page.locator("#modeler-version")).to_have_text("v1")

            # rename a task in the properties panel
            page.click("g.djs-element[data-element-id=plan]")
            name = page.locator("#bio-properties-panel-name")
            expect(name).to_have_value("制定回访计划 Plan the visit")
            name.fill(RENAMED)
            expect(page.locator("g.djs-element[data-element-id=plan]")).to_contain_text("appointment")

            # change the due-soon timer: a duration, written unquoted first (the classic mistake)
            _click_uncovered(page, "visit_due_soon")
            expect(page.locator("#bio-properties-panel-huifang-timer-expression")).to_have_value("visit_remind_at")
            page.select_option("#bio-properties-panel-huifang-timer-kind", "timeDuration")
            page.fill("#bio-properties-panel-huifang-timer-expression", "PT1D")
            page.click("g.djs-element[data-element-id=lane_vp]")  # leave the field: the change is committed
            expect(page.locator("#modeler-dirty")).to_have_text("Unsaved changes")

            # deploying the broken version is refused: the errors are listed and marked on the diagram
            page.fill("#deploy-comment", "appointment in the plan; remind one day after the visit is assigned")
            page.click("#btn-deploy")
            problem = page.locator("#problems li[data-element-id=visit_due_soon]")
            expect(problem).to_contain_text('write "P1D"')
            expect(page.locator("#modeler-status")).to_contain_text("Not deployed")
            expect(page.locator(".huifang-problem-badge[data-element-id=visit_due_soon]")).to_be_visible()
            expect(page.locator("g.djs-element.huifang-problem[data-element-id=visit_due_soon]")).to_have_count(1)
            with app.app_context():
                assert db.session.scalar(select(ProcessVersion).where(ProcessVersion.process_id == "followup_visit",
                                                                      ProcessVersion.number == 2)) is None

            # a click on the problem selects the element; fix it there and deploy
            problem.click()
            timer = page.locator("#bio-properties-panel-huifang-timer-expression")
            expect(timer).to_have_value("PT1D")
            timer.fill('"P1D"')
            page.click("g.djs-element[data-element-id=lane_vp]")
            page.click("#btn-validate")
            expect(page.locator("#modeler-status")).to_contain_text("No problems")
            expect(page.locator("#problems li")).to_have_count(0)
            page.click("#btn-deploy")
            expect(page.locator("#modeler-status")).to_contain_text("Deployed as version 2")
            expect(page.locator("#modeler-version")).to_have_text("v2")
        finally:
            if errors:
                page.screenshot(path="/tmp/modeler_browser_failure.png", full_page=True)
            browser.close()
        assert not errors, errors

    # a new instance starts on version 2 with the renamed task; the older one stays on version 1
    new = _start_visit(app, "1栋-102")
    assert new["version"] == 2
    with app.app_context():
        assert db.session.get(ProcessInstance, old["id"]).version.number == 1
        version = db.session.scalar(select(ProcessVersion).where(ProcessVersion.process_id == "followup_visit",
                                                                 ProcessVersion.number == 2))
        assert version.created_by == "chen.owner" and version.comment.startswith("appointment in the plan")
        assert '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">"P1D"</bpmn:timeDuration>' in version.bpmn_xml \
            or '"P1D"</bpmn:timeDuration>' in version.bpmn_xml
        tasks = {t.instance_id: t for t in db.session.scalars(select(HumanTask))}
        assert tasks[new["id"]].name == RENAMED and tasks[new["id"]].version_number == 2
        assert tasks[old["id"]].name == "制定回访计划 Plan the visit" and tasks[old["id"]].version_number == 1
        db.session.remove()


# Elements of every kind a process owner can make from the palette and the replace menu, created through the
# modeler's own API and selected one by one, so the properties panel draws each of its groups. Returns what the
# panel's header said for each, and the texts translate() was asked for that the page's dictionary lacks.
EXERCISE_PROPERTIES = """
async () => {
  const m = window.huifangModeler;
  const registry = m.get('elementRegistry'), factory = m.get('elementFactory'), modeling = m.get('modeling');
  const selection = m.get('selection'), bpmnFactory = m.get('bpmnFactory');
  const pool = registry.get('pool_followup_visit');
  const tick = () => new Promise((resolve) => setTimeout(resolve, 30));
  let x = 300;
  const place = (attrs, host) => {
    const position = host ? { x: host.x + host.width / 2, y: host.y + host.height } : { x: (x += 60), y: 760 };
    return modeling.createShape(factory.createShape(attrs), position, host || pool, host ? { attach: true } : undefined);
  };
  const made = [];
  const events = {
    'bpmn:StartEvent': [null, 'Message', 'Timer', 'Signal', 'Conditional'],
    'bpmn:IntermediateThrowEvent': [null, 'Message', 'Signal', 'Escalation', 'Link', 'Compensate'],
    'bpmn:IntermediateCatchEvent': ['Message', 'Timer', 'Signal', 'Conditional', 'Link'],
    'bpmn:EndEvent': [null, 'Message', 'Error', 'Escalation', 'Signal', 'Terminate', 'Compensate'],
  };
  for (const [type, kinds] of Object.entries(events)) {
    for (const kind of kinds) made.push(place(kind ? { type, eventDefinitionType: `bpmn:${kind}EventDefinition` } : { type }));
  }
  for (const type of ['bpmn:Task', 'bpmn:UserTask', 'bpmn:ServiceTask', 'bpmn:SendTask', 'bpmn:ReceiveTask',
    'bpmn:ManualTask', 'bpmn:BusinessRuleTask', 'bpmn:ScriptTask', 'bpmn:CallActivity', 'bpmn:ExclusiveGateway',
    'bpmn:ParallelGateway', 'bpmn:InclusiveGateway', 'bpmn:ComplexGateway', 'bpmn:EventBasedGateway',
    'bpmn:DataObjectReference', 'bpmn:DataStoreReference', 'bpmn:TextAnnotation']) {
    made.push(place({ type }));
  }
  for (const type of ['bpmn:SubProcess', 'bpmn:AdHocSubProcess', 'bpmn:Transaction']) made.push(place({ type, isExpanded: false }));
  const multi = place({ type: 'bpmn:Task' });
  modeling.updateProperties(multi, { loopCharacteristics: bpmnFactory.create('bpmn:MultiInstanceLoopCharacteristics') });
  made.push(multi);
  const host = registry.get('plan');
  for (const kind of ['Message', 'Timer', 'Signal', 'Conditional', 'Escalation', 'Error', 'Compensate']) {
    const boundary = place({ type: 'bpmn:BoundaryEvent', eventDefinitionType: `bpmn:${kind}EventDefinition` }, host);
    if (!['Error', 'Compensate'].includes(kind)) modeling.updateProperties(boundary, { cancelActivity: false });
    made.push(boundary);
  }
  const headers = {};
  const shipped = ['plan', 'compute_deadline', 'visit_due_soon', 'visit_overdue', 'outcome_gateway', 'retry_flow',
    'to_joint', 'lane_agent', 'pool_followup_visit', 'complaint_handling', 'start', 'archived'];
  for (const element of [...shipped.map((id) => registry.get(id)), ...made]) {
    selection.select(element);
    await tick();
    const groups = Array.from(document.querySelectorAll('.bio-properties-panel-group-header-title'), (t) => t.textContent);
    headers[element.id] = [document.querySelector('.bio-properties-panel-header-type').textContent, groups];
  }
  selection.select([registry.get('plan'), registry.get('visit')]);
  await tick();
  const several = document.querySelector('#properties').innerText;
  selection.select([]);
  await tick();
  return { headers, several, made: made.length, missing: Array.from(m.huifangUntranslated) };
}
"""

CJK = re.compile(r"[\u4e00-\u9fff]")


def _login(page, base):
    page.goto(f"{base}/login/")
    page.fill("#username", "chen.owner")
    page.fill("#password", PASSWORD)
    page.click("[type=submit]")


def _open_followup_visit(page, base):
    page.goto(f"{base}/modeler/followup_visit/edit")
    page.wait_for_selector("body[data-modeler-ready=true]")


def test_the_modeler_speaks_the_app_language(live_app):
    """Chinese by default (palette, context pad, replace menu, properties panel groups, entries and our own
    spiffworkflow entries, with nothing left untranslated for any kind of element); English after /lang/en."""
    from playwright.sync_api import expect, sync_playwright

    _app, base = live_app
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        context = browser.new_context(viewport={"width": 1600, "height": 1000})
        context.set_default_timeout(10_000)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda err: errors.append(str(err)))
        try:
            _login(page, base)
            _open_followup_visit(page, base)
            expect(page.locator("#modeler-area")).to_have_attribute("data-locale", "zh")

            # the palette: every tool named in Chinese, shown as a tooltip too
            palette = page.eval_on_selector_all(".djs-palette .entry", "els => els.map(e => [e.title, e.ariaLabel])")
            assert len(palette) >= 10 and all(CJK.search(t) and t == a for t, a in palette), palette
            start = page.locator('.djs-palette .entry[data-action="create.start-event"]')
            expect(start).to_have_attribute("title", "创建开始事件")

            # the context pad of a task
            page.click("g.djs-element[data-element-id=plan]")
            pad = page.eval_on_selector_all(".djs-context-pad .entry", "els => els.map(e => e.title)")
            assert "追加任务" in pad and "删除" in pad and all(CJK.search(t) for t in pad), pad

            # the properties panel: the element type, the groups, bpmn-js's entries and ours
            expect(page.locator(".bio-properties-panel-header-type")).to_have_text("用户任务")
            groups = page.locator(".bio-properties-panel-group-header-title")
            expect(groups).to_have_text(["常规", "引擎（回访系统）", "文档"])
            expect(page.locator("label[for=bio-properties-panel-name]")).to_have_text("名称")
            expect(page.locator("label[for=bio-properties-panel-huifang-form]")).to_have_text("表单（JSON Schema 文件名）")
            expect(page.locator("#properties")).to_contain_text("办理人（Python 表达式）")
            schema = page.locator("#bio-properties-panel-huifang-form-schema")
            schema.fill("{ not json")
            expect(page.locator("#properties")).to_contain_text("不是有效的 JSON")
            schema.fill('{"type": "object"}')

            # the replace menu, and its search
            page.click(".djs-context-pad .entry[data-action=replace]")
            popup = page.locator(".djs-popup")
            expect(popup.locator(".djs-popup-title")).to_have_text("更改元素类型")
            expect(popup.locator(".entry[data-id=replace-with-service-task]")).to_have_text("服务任务")
            expect(popup.locator(".djs-popup-header .entry[data-id=toggle-loop]")).to_have_attribute("title", "循环")
            labels = popup.locator(".djs-popup-label").all_inner_texts()
            assert labels and all(CJK.search(label) for label in labels), labels
            popup.locator(".djs-popup-search input").fill("任务")
            popup.locator(".djs-popup-search input").press("End")  # the menu searches on key-up
            expect(popup.locator(".djs-popup-search-count")).to_have_text(re.compile(r"^\d+ 项结果$"))
            expect(popup.locator(".djs-popup-label").first).to_contain_text("任务")
            page.keyboard.press("Escape")

            # a timer: our timer entries
            _click_uncovered(page, "visit_due_soon")
            expect(page.locator(".bio-properties-panel-header-type")).to_have_text("定时边界事件（非中断）")
            expect(page.locator("label[for=bio-properties-panel-huifang-timer-kind]")).to_have_text("定时器类型")
            expect(page.locator("#bio-properties-panel-huifang-timer-kind option[value=timeDate]")).to_have_text(
                "日期（到点触发）")

            # every kind of element: nothing the panel shows is left in English
            result = page.evaluate(EXERCISE_PROPERTIES)
            assert result["missing"] == [], result["missing"]
            headers = result["headers"]
            assert len(headers) == 12 + result["made"]
            assert headers["lane_agent"] == ["泳道", ["常规", "引擎（回访系统）", "文档"]]
            assert headers["retry_flow"] == ["顺序流", ["常规", "引擎（回访系统）", "文档"]]
            assert headers["to_joint"][0] == "默认流" and headers["complaint_handling"][0] == "调用活动"
            kinds = {header for header, _groups in headers.values()}
            assert {"消息开始事件", "升级中间抛出事件", "终止结束事件", "临时子流程（折叠）", "信号边界事件（非中断）",
                    "错误边界事件", "事件网关", "数据存储引用"} <= kinds, kinds
            all_groups = {group for _header, groups in headers.values() for group in groups}
            assert {"消息", "信号", "错误", "升级", "链接", "补偿", "多实例", "完成"} <= all_groups, all_groups
            assert all(CJK.search(header) for header, _groups in headers.values()), headers
            assert "选中了多个元素" in result["several"]

            # English after /lang/en (a new tab: the edited one would ask before it is left)
            english = context.new_page()
            english.on("pageerror", lambda err: errors.append(str(err)))
            english.goto(f"{base}/lang/en")
            _open_followup_visit(english, base)
            expect(english.locator("#modeler-area")).to_have_attribute("data-locale", "en")
            expect(english.locator('.djs-palette .entry[data-action="create.start-event"]')).to_have_attribute(
                "title", "Create start event")
            english.click("g.djs-element[data-element-id=plan]")
            expect(english.locator(".djs-context-pad .entry[data-action='append.append-task']")).to_have_attribute(
                "title", "Append task")
            expect(english.locator(".bio-properties-panel-header-type")).to_have_text("User Task")
            expect(english.locator(".bio-properties-panel-group-header-title")).to_have_text(
                ["General", "Engine (Huifang)", "Documentation"])
            expect(english.locator("label[for=bio-properties-panel-huifang-form]")).to_have_text(
                "Form (JSON Schema file name)")
            english.click(".djs-context-pad .entry[data-action=replace]")
            expect(english.locator(".djs-popup .entry[data-id=replace-with-service-task]")).to_have_text("Service task")
            english.locator(".djs-popup-search input").fill("task")
            english.locator(".djs-popup-search input").press("End")
            expect(english.locator(".djs-popup-search-count")).to_have_text(re.compile(r"^\d+ results? found$"))
            page_text = english.locator("#properties").inner_text()
            assert not CJK.search(page_text.replace("制定回访计划 Plan the visit", "")), page_text
        finally:
            if errors:
                page.screenshot(path="/tmp/modeler_i18n_failure.png", full_page=True)
            browser.close()
        assert not errors, errors


NO_LAYOUT = Path(__file__).resolve().parents[1] / "fixtures" / "foreign" / "no_layout.bpmn"


def test_a_diagram_without_layout_opens_laid_out_and_is_deployed_with_it(live_app):
    """A version deployed without diagram positions (hand-written XML, through the API) opens laid out
    (pool, lanes, flows), says so, and is an unsaved change; its lanes and tasks are edited as usual and the
    next version is deployed with the layout. The diff page lays out the old side too; an upload of such a
    file is laid out the same way."""
    from playwright.sync_api import expect, sync_playwright

    from app.services.modeling.modeler import layout_gaps

    app, base = live_app
    client = app.test_client()
    token = client.post("/api/v1/security/login", json={"username": "chen.owner", "password": PASSWORD,
                                                        "provider": "db"}).json["access_token"]
    forms = {p.name: json.loads(p.read_text()) for p in NO_LAYOUT.parent.parent.glob("*.schema.json")}
    r = client.post("/api/v1/process-models/hand_written/deploy", headers={"Authorization": f"Bearer {token}"},
                    json={"bpmn_xml": NO_LAYOUT.read_text(encoding="utf-8"), "forms": forms,
                          "comment": "written by hand"})
    assert r.status_code == 201, r.json
    v1 = r.json["result"]["id"]

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.set_default_timeout(10_000)
        errors: list[str] = []
        page.on("pageerror", lambda err: errors.append(str(err)))
        try:
            _login(page, base)  # Chinese, the default
            page.goto(f"{base}/modeler/hand_written/edit")
            page.wait_for_selector("body[data-modeler-ready=true]")
            expect(page.locator("body")).to_have_attribute("data-laid-out", "9")
            expect(page.locator("#modeler-status")).to_contain_text("已自动排版")
            expect(page.locator("#modeler-status")).to_contain_text("9 个没有布局位置")
            expect(page.locator("#modeler-dirty")).not_to_be_empty()
            for element_id in ("start", "set_due", "call", "call_late", "reached", "review", "chase", "done"):
                expect(page.locator(f"g.djs-element[data-element-id={element_id}]")).to_be_visible()
            expect(page.locator("g.djs-element[data-element-id=Participant_hand_written]")).to_be_visible()

            # the lanes are there to be edited: role of the visitors' lane, a task's form
            page.locator("g.djs-element[data-element-id=lane_supervisor]").click(position={"x": 12, "y": 60})
            expect(page.locator("#bio-properties-panel-huifang-role")).to_have_value("Supervisor")
            page.click("g.djs-element[data-element-id=set_due]")
            page.click("g.djs-element[data-element-id=call]")
            expect(page.locator("#bio-properties-panel-huifang-form")).to_have_value("visit.schema.json")
            page.locator("#bio-properties-panel-name").fill("电话回访 Call the customer (laid out)")
            page.click("g.djs-element[data-element-id=set_due]")  # leave the field: the change is committed

            page.fill("#deploy-comment", "laid out in the modeler")
            page.click("#btn-deploy")
            expect(page.locator("#modeler-version")).to_have_text("v2")
            expect(page.locator("#modeler-dirty")).to_be_empty()

            # the diff page lays out the version that has no layout, and says so under it
            with app.app_context():
                version = db.session.scalar(select(ProcessVersion).where(ProcessVersion.process_id == "hand_written",
                                                                         ProcessVersion.number == 2))
                v2, v2_xml = version.id, version.bpmn_xml
                db.session.remove()
            page.goto(f"{base}/modeler/hand_written/diff?a={v1}&b={v2}")
            page.wait_for_selector("body[data-diff-ready=true]")
            expect(page.locator("#diff-a g.djs-element[data-element-id=call]")).to_be_visible()
            expect(page.locator("#diff-a g.djs-element.huifang-diff-changed[data-element-id=call]")).to_have_count(1)
            expect(page.locator("#diff-a + p.huifang-laid-out")).to_contain_text("已自动排版")
            expect(page.locator("#diff-b + p.huifang-laid-out")).to_have_count(0)

            # an upload of such a file is laid out the same way
            page.goto(f"{base}/modeler/hand_written/edit")
            page.wait_for_selector("body[data-modeler-ready=true]")
            expect(page.locator("body")).to_have_attribute("data-laid-out", "")  # v2 has its layout
            page.set_input_files("#upload-input", str(NO_LAYOUT))
            expect(page.locator("body")).to_have_attribute("data-laid-out", "9")
            expect(page.locator("#modeler-status")).to_contain_text("no_layout.bpmn")
            expect(page.locator("#modeler-status")).to_contain_text("已自动排版")
            expect(page.locator("g.djs-element[data-element-id=lane_visitor]")).to_be_visible()
        finally:
            if errors:
                page.screenshot(path="/tmp/modeler_layout_failure.png", full_page=True)
            browser.close()
        assert not errors, errors

    # version 2 carries the layout; the engine reads the same lanes and forms, the renamed task
    assert not layout_gaps(v2_xml).needs_layout and "bpmndi:BPMNShape" in v2_xml
    with app.app_context():
        versions = {v.number: v for v in db.session.scalars(select(ProcessVersion).where(
            ProcessVersion.process_id == "hand_written"))}
        assert versions[2].lanes == versions[1].lanes == {"回访员 Visitor": "Agent", "客服主管 Supervisor": "Supervisor"}
        assert versions[2].user_tasks["call"]["name"] == "电话回访 Call the customer (laid out)"
        assert {k: v["form"] for k, v in versions[2].user_tasks.items()} == \
            {k: v["form"] for k, v in versions[1].user_tasks.items()}
        db.session.remove()
