"""Our JavaScript puts data into pages as text, never as HTML.

A label typed by one planner (a control point, a zone, a plan's name) is shown to admins, other
organisations and citizens: parsed as HTML it would run script in their sessions. This scanner
reads every file of ``planning_gis/static/js`` (not the vendored libraries) and refuses:

- any assignment to ``innerHTML``/``outerHTML``, ``insertAdjacentHTML(`` and
  ``document.write(``/``writeln(`` (build nodes with ``createElement``/``textContent``);
- ``bindTooltip(``/``bindPopup(``/``setContent(`` and a ``divIcon`` ``html:`` given anything but a
  plain string literal or a DOM node made by our ``el(...)`` helper (Leaflet parses a string as
  HTML).
"""

from __future__ import annotations

import re
from pathlib import Path

from planning_gis.settings import PROJECT_ROOT

JS_ROOT = PROJECT_ROOT / "planning_gis" / "static" / "js"
HTML_SINKS = re.compile(
    r"\.(?:innerHTML|outerHTML)\s*(?:\+?=)(?!=)|\binsertAdjacentHTML\s*\(|"
    r"\bdocument\s*\.\s*write(?:ln)?\s*\(")
LEAFLET_SINKS = re.compile(r"\b(?:bindTooltip|bindPopup|setContent)\s*\(|\bhtml\s*:")
#: A string literal with no interpolation, or a node built by our text-only helper.
SAFE_ARGUMENT = re.compile(r"""^(?:"[^"\\]*"|'[^'\\]*'|`[^`$\\]*`|el\s*\(.*)$""", re.S)


def our_scripts() -> list[Path]:
    return sorted(p for p in JS_ROOT.rglob("*.js") if "vendor" not in p.relative_to(JS_ROOT).parts)


def _code_lines(text: str) -> list[tuple[int, str]]:
    """Lines with ``//`` line comments and ``/* */`` comment lines left out."""
    out = []
    in_block = False
    for no, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if in_block:
            if "*/" in s:
                in_block = False
            continue
        if s.startswith("/*"):
            in_block = "*/" not in s
            continue
        if s.startswith("//"):
            continue
        out.append((no, line))
    return out


def _first_argument(text: str, start: int) -> str:
    """The first argument (or ``html:`` value) from ``start``, up to a top-level , ) or }."""
    depth = 0
    quote = None
    i = start
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "\"'`":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            if depth == 0:
                break
            depth -= 1
        elif ch == "," and depth == 0:
            break
        i += 1
    return text[start:i].strip()


def html_sinks(path: Path) -> list[str]:
    """Every place in ``path`` where data could be parsed as HTML, as ``file:line: code``."""
    text = path.read_text(encoding="utf-8")
    lines = _code_lines(text)
    found = []
    for no, line in lines:
        if HTML_SINKS.search(line):
            found.append(f"{path.name}:{no}: {line.strip()}")
    code = "\n".join(line for _, line in lines)
    for m in LEAFLET_SINKS.finditer(code):
        arg = _first_argument(code, m.end())
        if not SAFE_ARGUMENT.match(arg):
            no = code.count("\n", 0, m.start()) + 1
            found.append(f"{path.name}: {m.group(0)} {arg[:80]!r} (code line {no})")
    return found


def test_the_scanner_catches_each_kind_of_sink(tmp_path):
    bad = tmp_path / "bad.js"
    bad.write_text("\n".join([
        "a.innerHTML = '<b>' + x + '</b>';",
        "a.innerHTML += x;",
        "b.outerHTML = y;",
        "c.insertAdjacentHTML('beforeend', z);",
        "document.write(q);",
        "layer.bindTooltip(f.properties.label + ' ' + f.properties.code);",
        "layer.bindPopup(`<b>${name}</b>`);",
        "popup.setContent(name);",
        "L.divIcon({ className: '', html: '<span>' + text + '</span>' });",
    ]), encoding="utf-8")
    assert len(html_sinks(bad)) == 9, html_sinks(bad)
    good = tmp_path / "good.js"
    good.write_text("\n".join([
        "// a.innerHTML = x; (a comment)",
        "if (a.innerHTML === '') {}",
        "td.textContent = label;",
        "layer.bindTooltip(el('span', {}, label));",
        "layer.bindPopup('Fixed text');",
        "L.divIcon({ className: '', html: el('span', { className: 'ws-label' }, text) });",
    ]), encoding="utf-8")
    assert html_sinks(good) == []


def test_our_javascript_inserts_text_as_text():
    scripts = our_scripts()
    assert {p.name for p in scripts} >= {"citizen.js", "editor.js", "search_box.js",
                                         "outline_map.js"}
    found = [hit for p in scripts for hit in html_sinks(p)]
    assert found == [], "data inserted as HTML:\n" + "\n".join(found)
