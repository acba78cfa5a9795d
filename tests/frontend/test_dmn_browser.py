"""The decision-table bundle (app/static/vendor/dmn, HuifangDmn) in chromium, and what it saves run by SpiffWorkflow.

A process owner edits a cell of a profile rule's table (which complaint severity gets how many days to reply) and
builds a new table from HuifangDmn.blank(); the saved XML is parsed by SpiffWorkflow 3.2's SpiffBpmnParser (DMN 1.3
schema validation on) and evaluated by a business rule task, which must give the edited values. The Chinese UI leaves
nothing untranslated in the parts a process owner opens; the read-only view cannot be edited."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "app" / "static" / "vendor" / "dmn" / "huifang-dmn.js"
REPLY_DEADLINE = (Path(__file__).parent / "fixtures" / "reply_deadline.dmn").read_text(encoding="utf-8")

# start → business rule task (spiffworkflow:calledDecisionId, as SpiffBpmnParser reads it) → end
RULE_TASK = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="decide_definitions" targetNamespace="t">
  <bpmn:process id="decide" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>to_rule</bpmn:outgoing></bpmn:startEvent>
    <bpmn:businessRuleTask id="rule" name="Decide">
      <bpmn:extensionElements><spiffworkflow:calledDecisionId>{decision}</spiffworkflow:calledDecisionId></bpmn:extensionElements>
      <bpmn:incoming>to_rule</bpmn:incoming><bpmn:outgoing>to_end</bpmn:outgoing>
    </bpmn:businessRuleTask>
    <bpmn:endEvent id="end"><bpmn:incoming>to_end</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="to_rule" sourceRef="start" targetRef="rule" />
    <bpmn:sequenceFlow id="to_end" sourceRef="rule" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>"""


def run_decision(dmn_xml: str, decision_id: str, data: dict) -> dict:
    """Parse the DMN file as the engine's parser does (schema-validated) and run it in a business rule task."""
    parser = SpiffBpmnParser(validator=VALIDATOR)
    parser.add_dmn_str(dmn_xml.encode("utf-8"))
    parser.add_bpmn_str(RULE_TASK.replace("{decision}", decision_id).encode("utf-8"))
    workflow = BpmnWorkflow(parser.get_spec("decide"))
    workflow.get_tasks(state=TaskState.READY)[0].data.update(data)
    workflow.do_engine_steps()
    assert workflow.is_completed()
    return workflow.data


@pytest.fixture(scope="module", autouse=True)
def _bundle_built():
    assert BUNDLE.exists(), "the DMN bundle is missing: run scripts/setup.sh"


EDIT = """async ([xml, options]) => {
  window.changes = 0;
  window.table = await HuifangDmn.edit('#table', xml, { ...options, onChange: () => { window.changes += 1; } });
  return { decisions: table.decisions, decisionId: table.decisionId, locale: table.locale };
}"""
SAVE = "async () => (await table.saveXML()).xml"


def _type_into(page, cell_id: str, text: str) -> None:
    """Replace a cell's text the way a person does: click into it, select all, type."""
    cell = page.locator(f"td[data-element-id={cell_id}] [contenteditable]")
    cell.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(text)


def test_the_fixture_runs_as_it_is():
    assert run_decision(REPLY_DEADLINE, "reply_deadline", {"severity": "MINOR"})["reply_days"] == 3


def test_an_edited_cell_is_saved_as_dmn_13_that_spiffworkflow_runs_with_the_new_value(open_page):
    page = open_page("dmn.html")
    opened = page.evaluate(EDIT, [REPLY_DEADLINE, {"locale": "zh"}])
    assert opened == {"decisions": [{"id": "reply_deadline", "name": "答复期限 Reply deadline"}],
                      "decisionId": "reply_deadline", "locale": "zh"}
    assert page.evaluate("() => [window.changes, table.dirty]") == [0, False]

    _type_into(page, "rule_minor_out", "2")
    _type_into(page, "rule_major_in", '"CRITICAL"')
    assert page.evaluate("() => window.changes") >= 2 and page.evaluate("() => table.dirty")
    # an annotation is committed by dmn-js a moment after the last key; a save right away has it all the same
    page.locator("td.annotation[data-row-id=rule_minor] [contenteditable]").click()
    page.keyboard.type("一般投诉")
    xml = page.evaluate(SAVE)
    assert "<description>一般投诉</description>" in xml
    assert 'xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/"' in xml
    assert run_decision(xml, "reply_deadline", {"severity": "MINOR"})["reply_days"] == 2
    assert run_decision(xml, "reply_deadline", {"severity": "CRITICAL"})["reply_days"] == 1
    assert run_decision(xml, "reply_deadline", {"severity": "MAJOR"})["reply_days"] == 7  # no longer a case of its own
    assert run_decision(xml, "reply_deadline", {"severity": "OTHER"})["reply_days"] == 7

    # undoing every keystroke gives the table back as it was; then the page can say it has been saved
    changes = page.evaluate("() => window.changes")
    page.evaluate("() => { const stack = table.manager.getActiveViewer().get('commandStack');"
                  " while (stack.canUndo()) stack.undo(); }")
    assert page.evaluate("() => window.changes") > changes
    undone = page.evaluate(SAVE)
    assert run_decision(undone, "reply_deadline", {"severity": "MAJOR"})["reply_days"] == 1
    assert run_decision(undone, "reply_deadline", {"severity": "MINOR"})["reply_days"] == 3
    page.evaluate("() => table.markSaved()")
    assert page.evaluate("() => table.dirty") is False
    assert page.evaluate("() => [...table.untranslated]") == []
    assert page.errors == []


def test_a_new_table_built_in_the_browser_runs_in_spiffworkflow(open_page):
    page = open_page("dmn.html")
    blank = page.evaluate("""() => HuifangDmn.blank({ id: 'visit_window', name: '回访时限 Visit window',
      input: { label: '类别 Category', expression: 'category' },
      output: { label: '天数 Days', name: 'window_days', typeRef: 'number' } })""")
    # nothing to run yet: no rule matches, the output is not set
    assert "window_days" not in run_decision(blank, "visit_window", {"category": "repair"})

    page.evaluate(EDIT, [blank, {"locale": "en"}])
    for _ in range(2):
        page.locator(".add-rule-add").click()  # the table's "+" row
    rules = page.eval_on_selector_all("tbody tr", "rows => rows.map(r => r.querySelector('td.input-cell').dataset.elementId)")
    assert len(rules) == 2
    outputs = page.eval_on_selector_all("tbody td.output-cell", "cells => cells.map(c => c.dataset.elementId)")
    _type_into(page, rules[0], '"repair"')
    _type_into(page, outputs[0], "3")
    _type_into(page, outputs[1], "7")  # the other rule's input stays "-": any category
    xml = page.evaluate(SAVE)
    assert run_decision(xml, "visit_window", {"category": "repair"})["window_days"] == 3
    assert run_decision(xml, "visit_window", {"category": "complaint"})["window_days"] == 7
    assert page.errors == []


def _exercise_menus(page) -> None:
    """Open what a process owner opens: the rule, input and output menus, the column editors, the hit policy."""
    page.locator("td[data-element-id=rule_minor_in]").click(button="right")
    page.locator(".context-menu").wait_for()
    page.keyboard.press("Escape")
    page.locator("th.input-cell").first.click(button="right")
    page.locator(".context-menu").wait_for()
    page.keyboard.press("Escape")
    page.locator("th.output-cell").first.click(button="right")
    page.locator(".context-menu").wait_for()
    page.keyboard.press("Escape")
    page.locator("th.input-cell .edit-button").first.dispatch_event("click")
    page.locator(".context-menu .ref-input-expression, .context-menu input, .context-menu [contenteditable]").first.wait_for()
    page.keyboard.press("Escape")
    page.locator("th.output-cell .edit-button").first.dispatch_event("click")
    page.locator(".context-menu").wait_for()
    page.keyboard.press("Escape")
    page.locator(".hit-policy .dms-input").click()
    page.locator(".dms-select-options").wait_for()
    page.keyboard.press("Escape")


CJK = re.compile(r"[\u4e00-\u9fff]")


def test_the_chinese_ui_leaves_nothing_untranslated_and_english_is_dmn_js_own(open_page):
    page = open_page("dmn.html")
    page.evaluate(EDIT, [REPLY_DEADLINE, {"locale": "zh"}])
    _exercise_menus(page)
    assert page.evaluate("() => [...table.untranslated]") == []
    page.locator("td[data-element-id=rule_minor_in]").click(button="right")
    menu = page.locator(".context-menu").inner_text()
    assert "在上方添加规则" in menu and "删除规则" in menu and not re.search(r"[A-Za-z]{3}", menu), menu
    page.keyboard.press("Escape")
    assert page.locator(".hit-policy .dms-label").inner_text().startswith("命中策略")
    titles = page.eval_on_selector_all("#table [title]", "els => els.map(e => e.title)")
    assert "移动输入列" in titles and "Move Input" not in titles  # written by dmn-js without translate()

    english = open_page("dmn.html")
    english.evaluate(EDIT, [REPLY_DEADLINE, {"locale": "en"}])
    assert english.locator(".hit-policy .dms-label").inner_text().startswith("Hit policy")
    english.locator("td[data-element-id=rule_minor_in]").click(button="right")
    assert "Add rule above" in english.locator(".context-menu").inner_text()
    assert not CJK.search(english.locator(".context-menu").inner_text())
    assert page.errors == [] and english.errors == []


def test_the_read_only_view_shows_the_table_and_cannot_change_it(open_page):
    page = open_page("dmn.html")
    page.evaluate("""async (xml) => { window.table = await HuifangDmn.view('#table', xml, { locale: 'zh' }); }""",
                  REPLY_DEADLINE)
    assert page.locator("td[data-element-id=rule_minor_out]").inner_text().strip() == "3"
    assert page.locator("#table [contenteditable=true]").count() == 0
    assert page.locator(".add-rule-add").count() == 0
    assert page.evaluate("() => [...table.untranslated]") == []
    assert run_decision(page.evaluate(SAVE), "reply_deadline", {"severity": "MINOR"})["reply_days"] == 3
    assert page.errors == []


def test_a_file_that_is_not_a_decision_table_is_refused_with_a_message(open_page):
    page = open_page("dmn.html")
    literal = REPLY_DEADLINE.split("<decisionTable")[0] + (
        '<literalExpression id="lit"><text>1</text></literalExpression></decision></definitions>')
    message = page.evaluate("""async (xml) => { try { await HuifangDmn.edit('#table', xml, {}); return null; }
                                                catch (err) { return err.message; } }""", literal)
    assert message == "the file holds no decision table"
    assert page.locator(".huifang-dmn-error").inner_text() == message
    assert page.errors == []


def test_on_a_390_px_phone_the_table_scrolls_inside_its_box(open_page):
    page = open_page("dmn.html", viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    page.evaluate(EDIT, [REPLY_DEADLINE, {"locale": "zh"}])
    sizes = page.evaluate("""() => { const box = document.querySelector('#table');
      const rows = box.querySelector('.tjs-table-container');
      return { page: document.documentElement.scrollWidth, box: box.getBoundingClientRect().right,
               rows: rows.getBoundingClientRect().right, inner: rows.scrollWidth, visible: rows.clientWidth }; }""")
    assert sizes["page"] <= 390 and sizes["box"] <= 390 and sizes["rows"] <= 390, sizes
    assert sizes["inner"] > sizes["visible"]  # the table is wider than a phone: its rows scroll inside the box
    _type_into(page, "rule_minor_out", "4")
    assert run_decision(page.evaluate(SAVE), "reply_deadline", {"severity": "MINOR"})["reply_days"] == 4
    assert page.errors == []
