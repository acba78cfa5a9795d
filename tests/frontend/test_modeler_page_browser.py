"""The modeler page's own behaviour (app/frontend/src/index.js, Huifang.modelerPage) in chromium, on a static page
with the edit page's element ids and no server: a file with several diagrams says so and lets the owner pick the
one shown; validation problems are shown on their elements (a process's on its pool, an element inside a collapsed
sub-process on the sub-process too) and a click on a problem selects and zooms to its element, in whichever diagram
or plane it is drawn; the English name is edited beside the name."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "app" / "static" / "vendor" / "modeler" / "huifang-modeler.js"
FIXTURES = Path(__file__).parent / "fixtures"
FOLLOWUP = (ROOT / "bpmn" / "followup_visit.bpmn").read_text(encoding="utf-8")
TWO = (FIXTURES / "two_diagrams.bpmn").read_text(encoding="utf-8")
NAMED = (FIXTURES / "named.bpmn").read_text(encoding="utf-8")

START = """async (cfg) => {
  await Huifang.modelerPage({ forms: {}, roles: ['Agent', 'Supervisor'], strings: {}, csrf: 'test', key: 'test',
    urls: { draft: '/none', validate: '/none', deploy: '/none', upload: '/none' }, ...cfg });
  return document.body.dataset.modelerReady;
}"""
SELECTED = "() => huifangModeler.get('selection').get().map((e) => e.id)"
# the element's middle, in screen pixels from the canvas's middle, and the zoom
WHERE = """(id) => {
  const canvas = huifangModeler.get('canvas'), v = canvas.viewbox(), e = huifangModeler.get('elementRegistry').get(id);
  return { dx: (e.x + e.width / 2 - (v.x + v.width / 2)) * v.scale, dy: (e.y + e.height / 2 - (v.y + v.height / 2)) * v.scale,
           scale: v.scale, root: canvas.getRootElement().id };
}"""


@pytest.fixture(scope="module", autouse=True)
def _bundle_built():
    assert BUNDLE.exists(), "the modeler bundle is missing: run scripts/setup.sh"


def _start(open_page, **cfg):
    page = open_page("modeler.html")
    assert page.evaluate(START, cfg) == "true"
    return page


def _problems(*pairs):
    return [{"element_id": element_id, "message": message} for element_id, message in pairs]


def test_a_file_with_several_diagrams_says_so_and_the_owner_picks_the_one_shown(open_page):
    from playwright.sync_api import expect

    page = _start(open_page, xml=TWO)
    picker = page.locator("#diagram-picker")
    expect(picker).to_be_visible()
    expect(picker).to_contain_text("此文件包含 2 张图")
    options = page.eval_on_selector_all("#diagram-select option", "os => os.map(o => [o.value, o.textContent])")
    # a diagram is named by its own name, else by what it shows
    assert options == [["diagram_intake", "受理 Intake"], ["diagram_callback", "回电流程 Call-back diagram"]]
    expect(page.locator("#diagram-select")).to_have_value("diagram_intake")
    expect(page.locator("body")).to_have_attribute("data-diagram", "diagram_intake")
    expect(page.locator("g.djs-element[data-element-id=intake_register]")).to_be_visible()
    expect(page.locator("g.djs-element[data-element-id=callback_call]")).to_have_count(0)

    # an edit in the first diagram, then the second one is picked: shown, the edit kept, still unsaved
    page.evaluate("""() => { const r = huifangModeler.get('elementRegistry');
      huifangModeler.get('modeling').updateLabel(r.get('intake_register'), '登记 Register (edited)'); }""")
    expect(page.locator("#modeler-dirty")).not_to_be_empty()
    page.select_option("#diagram-select", "diagram_callback")
    expect(page.locator("body")).to_have_attribute("data-diagram", "diagram_callback")
    expect(page.locator("g.djs-element[data-element-id=callback_call]")).to_be_visible()
    expect(page.locator("g.djs-element[data-element-id=intake_register]")).to_have_count(0)
    expect(page.locator("#modeler-dirty")).not_to_be_empty()
    xml = page.evaluate("async () => (await huifangModeler.saveXML()).xml")
    assert 'name="登记 Register (edited)"' in xml and xml.count("<bpmndi:BPMNDiagram") == 2

    page.select_option("#diagram-select", "diagram_intake")
    expect(page.locator("g.djs-element[data-element-id=intake_register]")).to_contain_text("(edited)")
    assert page.evaluate("() => [...huifangModeler.huifangUntranslated]") == []
    assert page.errors == []


def test_one_diagram_with_sub_process_planes_has_no_picker(open_page):
    """A laid-out file holds a diagram per collapsed sub-process too: those are planes of one diagram, not a choice."""
    from playwright.sync_api import expect

    page = _start(open_page, xml=NAMED)
    assert page.evaluate("async () => (await huifangModeler.saveXML()).xml").count("<bpmndi:BPMNDiagram") == 2
    expect(page.locator("#diagram-picker")).to_have_count(0)
    expect(page.locator("body")).to_have_attribute("data-diagram", "BPMNDiagram_named_visit")
    page = _start(open_page, xml=FOLLOWUP)
    expect(page.locator("#diagram-picker")).to_have_count(0)
    assert page.errors == []


def test_problems_are_marked_on_their_elements_and_a_click_zooms_to_the_element(open_page):
    from playwright.sync_api import expect

    page = _start(open_page, xml=FOLLOWUP, problems=_problems(
        ("review", "审核任务没有表单"), ("review", "审核任务没有办理人"), ("to_review", "条件为空"),
        ("followup_visit", "流程没有结束事件"), ("no_such_element", "找不到元素")))
    # on the element (a count of its problems, the messages as a tooltip), on a flow, and a process's on its pool
    badge = page.locator(".huifang-problem-badge[data-element-id=review]")
    expect(badge).to_have_text("2")
    expect(badge).to_have_attribute("title", "审核任务没有表单\n审核任务没有办理人")
    for element_id in ("review", "to_review", "pool_followup_visit"):
        expect(page.locator(f"g.djs-element.huifang-problem[data-element-id={element_id}]")).to_have_count(1)
    expect(page.locator(".huifang-problem-badge[data-element-id=pool_followup_visit]")).to_have_attribute(
        "title", "流程没有结束事件")
    # an id the diagram does not draw is listed, not linked
    expect(page.locator("#problems li")).to_have_count(5)
    expect(page.locator("#problems li[data-element-id=no_such_element]")).not_to_have_class("huifang-problem-link")
    expect(page.locator("#problems-count")).to_have_text("5")

    # fitted, the diagram is small; a click on the problem selects the element and brings it to the middle at 100 %
    assert page.evaluate(WHERE, "review")["scale"] < 1
    page.locator("#problems li[data-element-id=review]").first.click()
    assert page.evaluate(SELECTED) == ["review"]
    where = page.evaluate(WHERE, "review")
    assert where["scale"] == pytest.approx(1) and abs(where["dx"]) < 2 and abs(where["dy"]) < 2, where
    page.locator("#problems li[data-element-id=to_review]").click()
    assert page.evaluate(SELECTED) == ["to_review"]
    assert page.errors == []


def test_a_problem_inside_a_sub_process_or_in_the_other_diagram_is_reached_by_a_click(open_page):
    from playwright.sync_api import expect

    page = _start(open_page, xml=NAMED, problems=_problems(("sub_call", "电话联系没有泳道")))
    # seen from the process: on the collapsed sub-process that holds it
    expect(page.locator("g.djs-element.huifang-problem[data-element-id=handle]")).to_have_count(1)
    expect(page.locator(".huifang-problem-badge[data-element-id=handle]")).to_have_text("1")
    page.locator("#problems li[data-element-id=sub_call]").click()
    assert page.evaluate(SELECTED) == ["sub_call"]
    assert page.evaluate(WHERE, "sub_call")["root"] == "handle_plane"
    expect(page.locator("g.djs-element.huifang-problem[data-element-id=sub_call]")).to_have_count(1)

    page = _start(open_page, xml=TWO, problems=_problems(("callback_call", "回电任务没有泳道"),
                                                         ("intake_register", "登记任务没有泳道")))
    expect(page.locator("g.djs-element.huifang-problem[data-element-id=intake_register]")).to_have_count(1)
    link = page.locator("#problems li[data-element-id=callback_call]")
    expect(link).to_have_attribute("data-diagram-id", "diagram_callback")
    link.click()
    expect(page.locator("body")).to_have_attribute("data-diagram", "diagram_callback")
    expect(page.locator("#diagram-select")).to_have_value("diagram_callback")
    assert page.evaluate(SELECTED) == ["callback_call"]
    expect(page.locator("g.djs-element.huifang-problem[data-element-id=callback_call]")).to_have_count(1)
    # and back: the first diagram's problem now links to it
    expect(page.locator("#problems li[data-element-id=intake_register]")).to_have_attribute(
        "data-diagram-id", "diagram_intake")
    page.locator("#problems li[data-element-id=intake_register]").click()
    assert page.evaluate(SELECTED) == ["intake_register"]
    assert page.errors == []


def test_the_english_name_is_edited_beside_the_name(open_page):
    from playwright.sync_api import expect

    page = _start(open_page, xml=NAMED)
    page.click("g.djs-element[data-element-id=plan]")
    english = page.locator("#bio-properties-panel-huifang-name-en")
    expect(english).to_have_value("Plan the visit")
    expect(page.locator("label[for=bio-properties-panel-huifang-name-en]")).to_have_text("英文名称")
    # right after the name in the general group
    ids = page.eval_on_selector_all("[data-group-id=group-general] .bio-properties-panel-entry",
                                    "els => els.map(e => e.dataset.entryId)")
    assert ids[ids.index("name") + 1] == "huifang-name-en", ids
    english.fill("Plan the follow-up visit")
    page.click("g.djs-element[data-element-id=done]")  # leaving the field commits it, as a person does
    expect(page.locator("#bio-properties-panel-huifang-name-en")).to_have_value("")
    page.locator("#bio-properties-panel-huifang-name-en").fill("Done")
    page.click("g.djs-element[data-element-id=plan]")
    expect(english).to_have_value("Plan the follow-up visit")
    page.wait_for_function("async () => (await huifangModeler.saveXML()).xml.includes('value=\"Done\"')")
    xml = page.evaluate("async () => (await huifangModeler.saveXML()).xml")
    assert '<spiffworkflow:property name="name_en" value="Plan the follow-up visit" />' in xml
    assert '<spiffworkflow:property name="name_en" value="Done" />' in xml
    assert 'name="制定回访计划"' in xml  # the name itself is untouched
    assert page.evaluate("() => [...huifangModeler.huifangUntranslated]") == []
    assert page.errors == []


def test_page_fixture_matches_the_edit_template():
    """The static page carries every element id the edit page's template gives modelerPage()."""
    template = (ROOT / "app" / "templates" / "modeler_edit.html").read_text(encoding="utf-8")
    page = (Path(__file__).parent / "pages" / "modeler.html").read_text(encoding="utf-8")
    for element_id in ("canvas", "properties", "modeler-status", "modeler-dirty", "modeler-version", "modeler-area",
                       "problems", "problems-count", "problems-panel", "btn-save-draft", "btn-validate", "btn-deploy",
                       "deploy-comment", "upload-input", "btn-download"):
        assert f'id="{element_id}"' in template, element_id
        assert f'id="{element_id}"' in page, element_id


def _make_business_rule_task(page, element_id: str) -> None:
    """As the owner does it: the task's context pad, "change type", business rule task; it stays selected."""
    page.click(f"g.djs-element[data-element-id={element_id}]")
    page.click(".djs-context-pad .entry[data-action=replace]")
    page.click(".djs-popup .entry[data-id=replace-with-rule-task]")
    page.wait_for_function(f"() => huifangModeler.get('elementRegistry').get('{element_id}').type === 'bpmn:BusinessRuleTask'")


def test_a_business_rule_task_is_given_its_decision_table_and_runs_it(open_page):
    """The owner makes a task a business rule task and picks the decision it runs; SpiffWorkflow runs the saved
    diagram with the decision table beside it."""
    from playwright.sync_api import expect

    page = _start(open_page, xml=TWO, decisions=[{"id": "reply_deadline", "name": "答复期限 Reply deadline"}])
    _make_business_rule_task(page, "intake_register")
    choice = page.locator("#bio-properties-panel-huifang-decision")
    expect(page.locator("label[for=bio-properties-panel-huifang-decision]")).to_have_text("决策表（DMN 决策 ID）")
    options = page.eval_on_selector_all("#bio-properties-panel-huifang-decision option",
                                        "os => os.map(o => [o.value, o.textContent])")
    assert options == [["", "— 请选择 —"], ["reply_deadline", "答复期限 Reply deadline (reply_deadline)"]]
    choice.select_option("reply_deadline")
    xml = page.evaluate("async () => (await huifangModeler.saveXML()).xml")
    assert "<spiffworkflow:calledDecisionId>reply_deadline</spiffworkflow:calledDecisionId>" in xml
    assert page.evaluate("() => [...huifangModeler.huifangUntranslated]") == []

    from SpiffWorkflow.bpmn import BpmnWorkflow
    from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
    from SpiffWorkflow.util.task import TaskState

    parser = SpiffBpmnParser()
    parser.add_dmn_str((FIXTURES / "reply_deadline.dmn").read_bytes())
    parser.add_bpmn_str(xml.encode("utf-8"))
    workflow = BpmnWorkflow(parser.get_spec("intake"))
    workflow.get_tasks(state=TaskState.READY)[0].data.update({"severity": "MINOR"})
    workflow.do_engine_steps()
    assert workflow.is_completed() and workflow.data["reply_days"] == 3

    # without a list of decisions the page offers the id as text
    page = _start(open_page, xml=TWO)
    _make_business_rule_task(page, "intake_register")
    expect(page.locator("input#bio-properties-panel-huifang-decision")).to_have_value("")
    assert page.errors == []
