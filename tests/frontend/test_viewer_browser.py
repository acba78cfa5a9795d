"""The instance viewer bundle (app/static/vendor/viewer, HuifangViewer.show) in chromium, on a static page.

An instance of the shipped follow-up visit waits at its visit task: the task is highlighted, the path that led
there is marked, its due-soon timer shows its due time, a failed script step shows its incident. A process owner's
model view shows how many instances wait where. Names follow the reader's language, a diagram without layout is
laid out, and on a 390 px phone the diagram fits without sideways scrolling and pans and zooms by touch."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "app" / "static" / "vendor" / "viewer" / "huifang-viewer.js"
FOLLOWUP = (ROOT / "bpmn" / "followup_visit.bpmn").read_text(encoding="utf-8")
NAMED = (Path(__file__).parent / "fixtures" / "named.bpmn").read_text(encoding="utf-8")

SHOW = """async ([xml, options]) => {
  window.view = await HuifangViewer.show('#diagram', xml, options);
  return { missing: view.missing, laidOut: view.laidOut, diagrams: view.diagrams, untranslated: [...view.untranslated] };
}"""

WAITING_AT_VISIT = {
    "active": ["visit"],
    "completed": ["start", "plan", "compute_deadline"],
    "timers": [{"id": "visit_due_soon", "due_text": "2024-03-04 09:00"}],
    "incidents": [{"id": "record_visit", "message": "脚本超过 CPU 时间限制（2 秒）"}],
    "locale": "zh",
}


@pytest.fixture(scope="module", autouse=True)
def _bundle_built():
    assert BUNDLE.exists(), "the viewer bundle is missing: run scripts/setup.sh"


# The diagram (its inner bounds) lies inside the visible area (give or take diagram-js's rounding of the zoom), and
# fills its width or height, or is shown at full size when it is smaller than the box.
FITS = """() => {
  const v = view.viewer.get('canvas').viewbox(), d = v.inner, e = 0.01 * Math.max(v.width, v.height);
  const inside = d.x >= v.x - e && d.y >= v.y - e && d.x + d.width <= v.x + v.width + e
    && d.y + d.height <= v.y + v.height + e;
  return inside && (d.width > 0.9 * v.width || d.height > 0.9 * v.height || v.scale === 1);
}"""


def _classes(page, element_id: str) -> set[str]:
    return set((page.locator(f"g.djs-element[data-element-id={element_id}]").get_attribute("class") or "").split())


def _label(page, element_id: str) -> str:
    """The text drawn for an element: in its shape, or its external label (events, gateways, flows)."""
    selector = f"g.djs-element[data-element-id={element_id}] text, g.djs-element[data-element-id={element_id}_label] text"
    return "".join(page.eval_on_selector_all(selector, "els => els.map(e => e.textContent)"))


def test_an_instance_shows_where_it_waits_how_it_got_there_its_timer_and_its_incident(open_page):
    from playwright.sync_api import expect

    page = open_page("viewer.html")
    result = page.evaluate(SHOW, [FOLLOWUP, {**WAITING_AT_VISIT, "active": ["visit", "no_such_task"]}])
    assert result["missing"] == ["no_such_task"]  # the state names an element the version does not draw
    assert result["laidOut"] is None and [d["id"] for d in result["diagrams"]] == ["diagram_followup_visit"]
    assert result["untranslated"] == []

    # where it waits, and the path taken (flows inferred from what ran, as none were given)
    assert "huifang-active" in _classes(page, "visit")
    assert "huifang-completed" in _classes(page, "plan") and "huifang-active" not in _classes(page, "plan")
    for flow in ("to_plan", "to_deadline", "to_visit"):
        assert "huifang-taken" in _classes(page, flow), flow
    assert "huifang-taken" not in _classes(page, "to_record")
    assert not _classes(page, "review") & {"huifang-active", "huifang-completed"}

    # the waiting timer with its due time, under its boundary event
    timer = page.locator(".huifang-timer[data-element-id=visit_due_soon]")
    expect(timer).to_be_visible()
    expect(timer).to_have_text("2024-03-04 09:00")
    expect(timer).to_have_attribute("title", "等待中的定时器，到期时间 2024-03-04 09:00")

    # the incident: a red mark on the element; its message shows on hover, and stays open after a tap or click
    assert "huifang-has-incident" in _classes(page, "record_visit")
    incident = page.locator(".huifang-incident[data-element-id=record_visit]")
    message = incident.locator(".huifang-incident-message")
    expect(incident.locator("button")).to_be_visible()
    expect(message).to_be_hidden()
    incident.locator("button").hover()
    expect(message).to_be_visible()
    expect(message).to_have_text("脚本超过 CPU 时间限制（2 秒）")
    incident.locator("button").click()
    page.mouse.move(5, 5)
    expect(message).to_be_visible()
    expect(incident.locator("button")).to_have_attribute("aria-expanded", "true")
    page.locator("#diagram").click(position={"x": 20, "y": 20})  # a tap elsewhere closes it
    expect(message).to_be_hidden()

    # the whole diagram fits its box
    assert page.evaluate(FITS)

    # a newer state replaces the old one: the instance moved on to the review, the flows taken as given
    missing = page.evaluate("""() => view.update({ active: ['review'], completed: ['start', 'plan', 'visit'],
                                                  taken_flows: ['to_plan'] })""")
    assert missing == []
    assert "huifang-active" in _classes(page, "review") and "huifang-active" not in _classes(page, "visit")
    assert "huifang-taken" in _classes(page, "to_plan") and "huifang-taken" not in _classes(page, "to_visit")
    expect(page.locator(".huifang-timer")).to_have_count(0)
    expect(page.locator(".huifang-incident")).to_have_count(0)
    assert "huifang-has-incident" not in _classes(page, "record_visit")
    assert page.errors == []


def test_the_model_view_counts_waiting_instances_and_names_follow_the_reader(open_page):
    from playwright.sync_api import expect

    page = open_page("viewer.html")
    result = page.evaluate(SHOW, [NAMED, {"counts": {"plan": 4, "plan_due": 1, "sub_call": 2, "start": 0},
                                          "locale": "en"}])
    # the file has no layout: laid out as the modeler does, collapsed sub-process on a plane of its own
    assert result["laidOut"] == {"laidOut": 6, "total": 6}
    assert result["missing"] == [] and len(result["diagrams"]) == 1

    # heat: a badge per element with waiting instances, shaded by how many; a sub-process counts what waits inside
    badges = {b["id"]: b["count"] for b in page.eval_on_selector_all(
        ".huifang-count", "els => els.map(e => ({id: e.dataset.elementId, count: e.textContent}))")}
    assert badges == {"plan": "4", "plan_due": "1", "sub_call": "2", "handle": "2"}
    expect(page.locator(".huifang-count[data-element-id=plan]")).to_have_attribute("title", "4 instances wait here")
    expect(page.locator(".huifang-count[data-element-id=handle]")).to_have_attribute("title", "2 instances wait inside")
    heat = "els => Object.fromEntries(els.map(e => [e.dataset.elementId, e.getAttribute('data-heat')]))"
    assert page.eval_on_selector_all("g.djs-element.huifang-heat", heat) == {"plan": "4", "plan_due": "1"}
    assert "huifang-heat-within" in _classes(page, "handle")

    # English names where the diagram has them (spiffworkflow property name_en), the name otherwise
    assert _label(page, "plan") == "Plan the visit"
    assert _label(page, "handle") == "Handle"
    assert _label(page, "plan_due") == "Plan due"
    assert _label(page, "done") == "完成"  # no English name: the element's own
    page.evaluate("() => view.setLocale('zh')")
    assert _label(page, "plan") == "制定回访计划" and _label(page, "plan_due") == "计划到期"
    page.evaluate("() => view.setLocale('en')")
    assert _label(page, "plan") == "Plan the visit"

    # inside the collapsed sub-process: its own plane, names and marks there too
    page.locator(".djs-overlays[data-container-id=handle] .bjs-drilldown").click()
    expect(page.locator("g.djs-element[data-element-id=sub_call]")).to_be_visible()
    assert _label(page, "sub_call") == "Call the customer"
    expect(page.locator(".huifang-count[data-element-id=sub_call]")).to_be_visible()
    assert page.eval_on_selector_all("g.djs-element.huifang-heat", heat) == {"sub_call": "2"}
    assert page.errors == []


def test_an_active_element_inside_a_collapsed_sub_process_shows_on_the_sub_process(open_page):
    page = open_page("viewer.html")
    page.evaluate(SHOW, [NAMED, {"active": ["sub_call"], "completed": ["start", "plan", "sub_start"],
                                 "incidents": [{"id": "sub_call", "message": "boom"}], "locale": "zh"}])
    # seen from the process: on the sub-process that holds it
    assert {"huifang-active-within", "huifang-has-incident-within"} <= _classes(page, "handle")
    assert "huifang-taken" in _classes(page, "f2") and "huifang-active" not in _classes(page, "handle")
    assert _label(page, "plan") == "制定回访计划"
    # inside it, on the element itself
    page.locator(".djs-overlays[data-container-id=handle] .bjs-drilldown").click()
    assert {"huifang-active", "huifang-has-incident"} <= _classes(page, "sub_call")
    assert "huifang-taken" in _classes(page, "sub_f1")
    assert page.locator(".huifang-incident[data-element-id=sub_call]").is_visible()
    assert page.errors == []


def _touch(cdp, kind: str, points: list[tuple[float, float]]) -> None:
    cdp.send("Input.dispatchTouchEvent", {
        "type": kind, "touchPoints": [{"x": x, "y": y, "id": i} for i, (x, y) in enumerate(points)]})


def test_on_a_390_px_phone_it_fits_without_sideways_scroll_and_pans_and_zooms_by_touch(open_page):
    from playwright.sync_api import expect

    page = open_page("viewer.html", viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True,
                     device_scale_factor=2)
    page.evaluate(SHOW, [FOLLOWUP, WAITING_AT_VISIT])
    widths = page.evaluate("""() => ({ page: document.documentElement.scrollWidth, window: window.innerWidth,
      box: document.querySelector('#diagram').getBoundingClientRect().right,
      svg: document.querySelector('#diagram svg').getBoundingClientRect().right })""")
    assert widths["page"] <= widths["window"] == 390, widths
    assert widths["box"] <= 390 and widths["svg"] <= 390, widths
    assert page.evaluate(FITS)
    assert "huifang-active" in _classes(page, "visit")

    viewbox = "() => { const v = view.viewer.get('canvas').viewbox(); return { x: v.x, y: v.y, scale: v.scale }; }"
    box = page.locator("#diagram").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    cdp = page.context.new_cdp_session(page)

    # one finger pans the diagram, not the page
    before = page.evaluate(viewbox)
    _touch(cdp, "touchStart", [(cx, cy)])
    for step in range(1, 6):
        _touch(cdp, "touchMove", [(cx - 20 * step, cy - 10 * step)])
    _touch(cdp, "touchEnd", [])
    after = page.evaluate(viewbox)
    assert after["scale"] == pytest.approx(before["scale"])
    assert (after["x"] - before["x"]) * before["scale"] == pytest.approx(100, abs=2)
    assert (after["y"] - before["y"]) * before["scale"] == pytest.approx(50, abs=2)
    assert page.evaluate("() => [window.scrollX, document.documentElement.scrollWidth]") == [0, widths["page"]]

    # two fingers spread apart zoom in around their midpoint
    _touch(cdp, "touchStart", [(cx - 20, cy), (cx + 20, cy)])
    for step in range(1, 6):
        _touch(cdp, "touchMove", [(cx - 20 - 12 * step, cy), (cx + 20 + 12 * step, cy)])
    _touch(cdp, "touchEnd", [])
    zoomed = page.evaluate(viewbox)
    assert zoomed["scale"] == pytest.approx(after["scale"] * 160 / 40, rel=0.05)  # the fingers 4 times as far apart
    assert page.evaluate("() => window.scrollX") == 0

    # a tap on the incident shows its message (no hover on a phone)
    page.evaluate("() => view.fit()")
    mark = page.locator(".huifang-incident[data-element-id=record_visit] button")
    mark.tap()
    expect(page.locator(".huifang-incident[data-element-id=record_visit] .huifang-incident-message")).to_be_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    assert page.errors == []


def test_on_a_phone_the_view_can_open_at_the_active_element_and_keeps_it(open_page):
    """focus: the page asks for the case's current step at a readable zoom instead of the whole diagram."""
    page = open_page("viewer.html", viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    page.evaluate(SHOW, [FOLLOWUP, {**WAITING_AT_VISIT, "focus": True}])
    page.wait_for_timeout(300)  # the box's first resize notice comes after show(): it must not fit the whole again
    where = page.evaluate("""() => { const c = view.viewer.get('canvas'), v = c.viewbox();
      const e = view.viewer.get('elementRegistry').get('visit');
      return { scale: v.scale, inside: e.x >= v.x && e.y >= v.y && e.x + e.width <= v.x + v.width
                                       && e.y + e.height <= v.y + v.height }; }""")
    assert where == {"scale": 1, "inside": True}
    assert not page.evaluate(FITS)
    page.evaluate("() => view.fit()")
    assert page.evaluate(FITS)
    assert page.errors == []
