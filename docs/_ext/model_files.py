"""Sphinx directive ``.. overhang-models::``: the shipped model files, rendered as they are.

Each file in ``overhang_sim/data/models/*.toml`` becomes a section: its description and
main output, the comment block at its head (sources and equations, verbatim), and one
table row per quantity (unit, formula or default, domain, source). The page is rebuilt
from the files on every build, so the documentation cannot drift from them.
"""

from __future__ import annotations

import re
import tomllib
from importlib import resources
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective


def model_files() -> list[Path]:
    """The shipped model files, in the order ``overhang models`` lists them."""
    folder = Path(str(resources.files("overhang_sim") / "data" / "models"))
    files = {path.stem: path for path in folder.glob("*.toml")}
    try:
        from overhang_sim.models import model_names
        order = [name for name in model_names() if name in files]
    except ImportError:          # an older registry: alphabetical
        order = []
    return [files[name] for name in order] + [files[n] for n in sorted(files) if n not in order]


def header_comment(text: str) -> str:
    """The leading ``#`` comment block of a TOML file, without the ``# `` marks."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(re.sub(r"^# ?", "", line))
    return "\n".join(lines).strip("\n")


def escape(text: object) -> str:
    """Plain text safe inside reStructuredText inline markup."""
    return re.sub(r"([\\`*_|<>\[\]])", r"\\\1", str(text)).replace("\n", " ")


def domain(quantity: dict) -> str:
    low, high = quantity.get("low"), quantity.get("high")
    if low is None and high is None:
        return "> 0"
    left = f"≥ {low}" if low is not None else "> 0"
    return left if high is None else f"{left}, ≤ {high}"


def quantity_rows(model: dict) -> list[str]:
    rows = [".. list-table::", "   :header-rows: 1", "   :widths: 18 12 30 10 30", "",
            "   * - quantity", "     - unit", "     - formula (output) or default (input)",
            "     - domain", "     - long name; source"]
    for name, quantity in model.get("quantities", {}).items():
        if "formula" in quantity:
            how = f"``{quantity['formula']}``"
            if quantity.get("overridable"):
                how += " (a prior may replace it)"
        elif "default" in quantity:
            how = f"input, default ``{quantity['default']}``"
        else:
            how = "input: needs a prior"
        about = "; ".join(escape(quantity[k]) for k in ("long_name", "source") if quantity.get(k))
        rows += [f"   * - ``{name}``", f"     - ``{quantity.get('unit', '1')}``", f"     - {how}",
                 f"     - {escape(domain(quantity))}", f"     - {about or '—'}"]
    return rows


def model_section(path: Path) -> tuple[str, list[str]]:
    """The model's name and the reStructuredText of its section body."""
    text = path.read_text(encoding="utf-8")
    model = tomllib.loads(text)
    name = model.get("name", path.stem)
    lines = [f"{escape(model.get('description', ''))}. Main output: ``{model.get('main', '')}``. "
             f"File ``src/overhang_sim/data/models/{path.name}``; ``overhang models {name}`` "
             "prints what each input needs.", ""]
    comment = header_comment(text)
    if comment:
        lines += ["The file's own account of its sources and equations:", "", "::", ""]
        lines += ["    " + line if line else "" for line in comment.splitlines()] + [""]
    return name, lines + quantity_rows(model) + [""]


class OverhangModels(SphinxDirective):
    """Render every shipped model file (no arguments)."""

    has_content = False

    def run(self):
        sections = []
        for path in model_files():
            self.env.note_dependency(str(path))
            name, body = model_section(path)
            label = f"model-{name}"          # link target: [text](model-compute)
            section = nodes.section(ids=[label], names=[label])
            section += nodes.title("", "", nodes.literal(text=name))
            self.state.nested_parse(StringList(body, source=str(path)), 0, section)
            self.state.document.note_explicit_target(section, section)
            sections.append(section)
        return sections


def setup(app):
    app.add_directive("overhang-models", OverhangModels)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
