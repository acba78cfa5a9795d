"""The modeler's Chinese dictionary (app/frontend/src/zh.json) covers every text the installed bpmn-js,
diagram-js and properties panel pass through translate() in the parts a process owner uses: palette,
context pad, replace menu (its entries' labels too), alignment, modeling hints, and the properties
panel's placeholders, groups and entries of plain BPMN. Read from the installed npm packages
(app/frontend/node_modules, put there by scripts/setup.sh), so an upgrade that adds a text fails here by name.
The browser test (tests/app/test_modeler_browser.py) checks the same at run time, element kind by element kind.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

FRONT = Path(__file__).resolve().parents[2] / "app" / "frontend"
NODE = FRONT / "node_modules"
ZH = json.loads((FRONT / "src" / "zh.json").read_text(encoding="utf-8"))

LITERAL = re.compile(r"""translate\(\s*(['"`])((?:\\.|(?!\1).)*)\1""")
LABEL = re.compile(r"""label:\s*'([^']+)'""")

# where bpmn-js and diagram-js name what a process owner sees
FEATURES = [NODE / "bpmn-js" / "lib" / "features" / name for name in (
    "palette", "context-pad", "popup-menu", "replace", "align-elements", "distribute-elements",
    "modeling-feedback", "drilldown")] + [NODE / "diagram-js" / "lib" / "features" / name for name in (
        "palette", "context-pad", "popup-menu", "search-pad")]
# the properties panel's own parts for plain BPMN (not Camunda's or Zeebe's providers, which we do not load)
PANEL = {
    NODE / "bpmn-js-properties-panel" / "dist" / "index.esm.js.map": ("/render/", "/provider/bpmn/",
                                                                      "/provider/shared/", "/utils/"),
    NODE / "@bpmn-io" / "properties-panel" / "dist" / "index.esm.js.map": ("/components/",),
}


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _library_texts() -> dict[str, str]:
    """Every literal translate() text and replace-menu label, with the file it is in."""
    assert NODE.is_dir(), "the front-end packages are missing: run scripts/setup.sh"
    texts: dict[str, str] = {}

    def scan(name: str, source: str, labels: bool) -> None:
        for match in LITERAL.finditer(source):
            texts.setdefault(_unescape(match.group(2)), name)
        if labels:
            for match in LABEL.finditer(source):
                texts.setdefault(match.group(1), name)

    for folder in FEATURES:
        assert folder.is_dir(), folder
        for path in sorted(folder.rglob("*.js")):
            scan(str(path.relative_to(NODE)), path.read_text(encoding="utf-8"),
                 labels=path.name in ("PopupEntries.js", "ReplaceOptions.js"))
    for path, parts in PANEL.items():
        sourcemap = json.loads(path.read_text(encoding="utf-8"))
        for name, source in zip(sourcemap["sources"], sourcemap["sourcesContent"]):
            if "node_modules" not in name and any(part in name for part in parts) \
                    and not re.search(r"camunda|zeebe", name, re.I):
                scan(f"{path.parts[len(NODE.parts)]}:{name}", source or "", labels=False)
    return texts


def _expanded(text: str) -> list[str]:
    """The texts a template literal stands for (the panel builds a few with ${...})."""
    known = {
        "List contains {numOfItems} item${items.length != 1 ? 's' : ''}":
            ["List contains {numOfItems} item", "List contains {numOfItems} items"],
        "Click to ${active ? 'remove' : 'set a'} dynamic value with FEEL expression":
            ["Click to remove dynamic value with FEEL expression", "Click to set a dynamic value with FEEL expression"],
    }
    if "${" in text:
        assert text in known, f"a new template text, add its forms here and to zh.json: {text!r}"
        return known[text]
    return [text]


def test_every_library_text_has_a_chinese_translation():
    texts = _library_texts()
    assert len(texts) > 150, len(texts)  # the palette, menus and panel were found
    messages = ZH["messages"]
    missing = {form: where for text, where in texts.items() for form in _expanded(text) if form not in messages}
    missing.pop("HELLO {you}", None)  # the example in translate.js's own documentation comment
    missing.pop("Align elements ", None)  # 'Align elements ' + option: the next test
    assert not missing, missing


def test_alignment_options_and_dynamic_labels_are_translated():
    source = (NODE / "bpmn-js" / "lib" / "features" / "align-elements" / "AlignElementsMenuProvider.js").read_text()
    options = re.findall(r"'(\w+)'", source.split("ALIGNMENT_OPTIONS = [", 1)[1].split("]", 1)[0])
    assert set(options) == {"left", "center", "right", "top", "middle", "bottom"}
    for option in options:
        assert f"Align elements {option}" in ZH["messages"]
    replace = (NODE / "bpmn-js" / "lib" / "features" / "replace" / "ReplaceOptions.js").read_text()
    assert "' (removes content)'" in replace
    assert "Empty pool/participant (removes content)" in ZH["messages"]


@pytest.mark.parametrize("section", ["messages", "elementTypes", "eventKinds"])
def test_translations_keep_their_placeholders_and_are_chinese(section):
    for english, chinese in ZH[section].items():
        assert re.findall(r"{\w+}", english) == re.findall(r"{\w+}", chinese), english
        assert chinese.strip(), english
        if re.search(r"[a-z]{3}", english) and english not in ("ID",):
            assert re.search(r"[\u4e00-\u9fff]", chinese), (english, chinese)
