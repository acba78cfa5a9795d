"""The decision-table editor's Chinese dictionary (app/frontend/src/zh-dmn.json) covers every text the installed
dmn-js decision table passes through translate() in the parts the bundle loads: literal look-ups, the hit policies'
names and explanations, the data types shown in the column heads. Read from the installed npm packages, so an upgrade
that adds a text fails here by name; the browser test (test_dmn_browser.py) checks the same at run time."""
from __future__ import annotations

import json
import re
from pathlib import Path

FRONT = Path(__file__).resolve().parents[2] / "app" / "frontend"
NODE = FRONT / "node_modules"
ZH = json.loads((FRONT / "src" / "zh-dmn.json").read_text(encoding="utf-8"))
BUNDLE_SOURCE = (FRONT / "src" / "dmn.js").read_text(encoding="utf-8")

LITERAL = re.compile(r"""translate\(\s*(['"`])((?:\\.|(?!\1).)*)\1""")


def _left_out_features() -> set[str]:
    """The decision-table features dmn.js leaves out of the editor (its FEEL_ONLY modules), by folder."""
    imports = dict(re.findall(r"import (\w+) from 'dmn-js-decision-table/lib/features/([\w-]+)';", BUNDLE_SOURCE))
    left_out = re.search(r"const FEEL_ONLY = new Set\(\[([^\]]+)\]\)", BUNDLE_SOURCE).group(1)
    names = {name.strip() for name in left_out.split(",") if name.strip()}
    assert names and names <= set(imports), names - set(imports)
    return {imports[name] for name in names}


def _library_texts() -> dict[str, str]:
    assert NODE.is_dir(), "the front-end packages are missing: run scripts/setup.sh"
    left_out = _left_out_features()
    assert {"simple-mode", "simple-string-edit", "expression-language"} <= left_out
    texts: dict[str, str] = {}
    for package in ("dmn-js-decision-table", "dmn-js-shared", "table-js"):
        for path in sorted((NODE / package / "lib").rglob("*.js")):
            parts = path.relative_to(NODE / package / "lib").parts
            if package == "dmn-js-decision-table" and parts[0] == "features" and parts[1] in left_out:
                continue
            for match in LITERAL.finditer(path.read_text(encoding="utf-8")):
                texts.setdefault(re.sub(r"\\(.)", r"\1", match.group(2)), f"{package}/{'/'.join(parts)}")
    policies = (NODE / "dmn-js-decision-table" / "lib" / "features" / "hit-policy" / "HitPolicies.js").read_text()
    for text in re.findall(r"(?:label|explanation): '([^']+)'", policies):
        texts.setdefault(text, "HitPolicies.js")
    types = (NODE / "dmn-js-shared" / "lib" / "features" / "data-types" / "DataTypes.js").read_text()
    for text in re.findall(r"'(\w+)'", types.split("DEFAULT_DATA_TYPES = [", 1)[1].split("]", 1)[0]):
        texts.setdefault(text, "DataTypes.js")
    return texts


def test_every_text_the_decision_table_looks_up_has_a_chinese_translation():
    texts = _library_texts()
    assert len(texts) > 80, len(texts)  # the menus, heads, hit policies and types were found
    assert "Add rule above" in texts and "Collect (Sum)" in texts and "dateTime" in texts
    missing = {text: where for text, where in texts.items() if text not in ZH["messages"]}
    assert not missing, missing


def test_the_texts_written_without_translate_are_still_in_the_library():
    """The `fixed` section rewrites tooltips dmn-js writes as plain English; each must still be written so."""
    drag = (NODE / "dmn-js-decision-table" / "lib" / "features" / "drag-and-drop" / "DragAndDrop.js").read_text()
    assert "`Move ${isInput(col) ? 'Input' : 'Output'}`" in drag
    menu = (NODE / "dmn-js-decision-table" / "lib" / "features" / "context-menu" / "ContextMenu.js").read_text()
    assert '"aria-label": "Decision table context menu"' in menu
    listing = (NODE / "dmn-js-shared" / "lib" / "components" / "List.js").read_text()
    assert '"title": "Remove item"' in listing
    assert set(ZH["fixed"]) == {"Move Input", "Move Output", "Decision table context menu", "Remove item"}


def test_translations_keep_their_placeholders_and_are_chinese():
    for section in ("messages", "fixed"):
        for english, chinese in ZH[section].items():
            assert re.findall(r"{\w+}", english) == re.findall(r"{\w+}", chinese), english
            assert chinese.strip(), english
            assert re.search(r"[\u4e00-\u9fff]", chinese), (english, chinese)
