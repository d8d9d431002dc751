"""The how-to guides' TOML examples are valid files, so the documentation cannot drift from the code.

The tutorial is executed by the documentation build itself (``sphinx-build -W`` in
``.ci/run``); the guides' blocks are only shown there, so they are checked here: each TOML
block loads as the model, experiment or priors file it is, from inside a copy of
``experiments/`` (their ``../priors/...`` paths are relative to that folder).
"""

from __future__ import annotations

import re
import tomllib

import pytest
from strategies import REPO

from overhang_sim import load_priors
from overhang_sim.modelspec import FormulaModel
from overhang_sim.scenarios import load_scenarios

GUIDES = sorted((REPO / "docs" / "howto").glob("*.md"))


def toml_blocks(path) -> list[str]:
    return re.findall(r"^```toml\n(.*?)^```", path.read_text(encoding="utf-8"), flags=re.DOTALL | re.MULTILINE)


def test_the_guides_exist():
    names = {path.stem for path in GUIDES}
    assert {"priors", "model_files", "dask", "resume", "xarray_arviz", "reproduce"} <= names


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.stem)
def test_every_toml_block_of_a_guide_is_a_valid_file(guide, clone):
    for i, text in enumerate(toml_blocks(guide)):
        table = tomllib.loads(text)
        where = f"docs/howto/{guide.name} block {i}"
        if "quantities" in table:
            model = FormulaModel.from_text(text, file=where)
            assert model.main in model.outputs, where
        elif "name" in table:
            path = clone / "experiments" / f"{guide.stem}_{i}.toml"
            path.write_text(text, encoding="utf-8")
            assert load_scenarios(path).experiments, where
        else:
            assert table and all(isinstance(v, dict) and "unit" in v for v in table.values()), where
            path = clone / "priors" / f"{guide.stem}_{i}.toml"
            path.write_text(text, encoding="utf-8")
            assert set(load_priors(path)) == set(table), where


def test_the_reproduce_guide_names_only_shipped_experiments():
    text = next(path for path in GUIDES if path.stem == "reproduce").read_text(encoding="utf-8")
    named = set(re.findall(r"^\| `(\w+)`", text, flags=re.MULTILINE))
    named |= set(re.findall(r"`(seed\d{3}_\w+)`", text))
    assert named and all((REPO / "experiments" / f"{name}.toml").is_file() for name in named), named
