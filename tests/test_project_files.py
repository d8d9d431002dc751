"""The files that make the project citable, and the references every file relies on (issue 12, item 5).

- LICENSE, CITATION.cff and CHANGELOG.md exist, parse, and agree with pyproject.toml;
- no file refers to a document that is not in the repository;
- every source essay ("seed NNN") named in the priors, experiment and model files has an
  entry, with author, title, year and address, in docs/references.md and the README.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from strategies import REPO

yaml = pytest.importorskip("yaml")

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
TEXT_SUFFIXES = {".py", ".md", ".rst", ".toml", ".cff", ".txt", ".cfg", ".yml", ".yaml", ".sh"}
SKIP_DIRS = {".git", "_build", "generated", "jupyter_execute", "__pycache__", ".hypothesis", ".venv",
             "results", "build", "dist", ".pytest_cache"}
#: Documents that live outside the repository and must not be pointed to (names split so
#: this file does not name them itself).
OUTSIDE = ["DESIGN" + ".md", "SERVING" + ".md", "STYLE" + ".md", "../" + "shared", "seeds" + "/"]
URL = re.compile(r"<?https?://[^\s>)\]]+")


def project_files() -> list[Path]:
    """Every text file of the checkout that a user or a test reads."""
    out = []
    for path in sorted(REPO.rglob("*")):
        parts = set(path.relative_to(REPO).parts[:-1])
        if path.is_file() and not parts & SKIP_DIRS and not any(p.endswith(".egg-info") for p in parts) \
                and (path.suffix in TEXT_SUFFIXES or path.name in ("LICENSE", "run", ".gitignore")):
            out.append(path)
    return out


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


# --- LICENSE, CITATION.cff, CHANGELOG.md -------------------------------------------------

def test_license_is_the_mit_license_pyproject_declares():
    text = read(REPO / "LICENSE")
    assert PYPROJECT["license"] == "MIT"
    assert text.startswith("MIT License")
    assert "Copyright (c) 2026 The overhang-sim developers" in text
    assert "THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND" in text


def test_citation_cff_has_the_required_keys_and_matches_pyproject():
    cff = yaml.safe_load(read(REPO / "CITATION.cff"))
    assert cff["cff-version"] == "1.2.0"
    for key in ("message", "title", "authors"):        # required by CFF 1.2.0
        assert cff.get(key), key
    assert all(isinstance(a, dict) and (a.get("name") or a.get("family-names")) for a in cff["authors"])
    assert str(cff["version"]) == PYPROJECT["version"]
    assert cff["license"] == PYPROJECT["license"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(cff["date-released"]))
    assert cff["type"] == "software"


def test_citation_cff_lists_each_essay_with_title_author_year_and_address():
    references = yaml.safe_load(read(REPO / "CITATION.cff"))["references"]
    assert len(references) >= 3
    for ref in references:
        assert ref["type"] and ref["title"] and ref["authors"], ref
        assert isinstance(ref["year"], int) and 2000 < ref["year"] < 2100, ref
        assert ref["url"].startswith("https://"), ref
    urls = {ref["url"] for ref in references}
    assert urls <= set(URL.findall(read(REPO / "docs" / "references.md"))) | {
        u.strip("<>") for u in URL.findall(read(REPO / "docs" / "references.md"))}


def test_changelog_follows_keep_a_changelog():
    text = read(REPO / "CHANGELOG.md")
    assert text.startswith("# Changelog")
    assert "Keep a Changelog" in text
    versions = re.findall(r"^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?$", text, flags=re.MULTILINE)
    assert versions[0][0] == "Unreleased"
    assert any(v == PYPROJECT["version"] and date for v, date in versions), "no dated entry for the version"
    kinds = set(re.findall(r"^### (.+)$", text, flags=re.MULTILINE))
    assert kinds and kinds <= {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}


# --- references to documents -------------------------------------------------------------

def test_no_file_points_to_a_document_outside_the_repository():
    offending = []
    for path in project_files():
        if path == Path(__file__):
            continue
        text = read(path)
        offending += [f"{path.relative_to(REPO)}: {name}" for name in OUTSIDE if name in text]
    assert not offending, "\n".join(offending)


def _exists(name: str, where: Path) -> bool:
    return (where / name).exists() or (REPO / name).exists()


def test_every_document_a_file_names_is_in_the_repository():
    """Names ending in .md or .rst resolve from the naming file's folder or the repository root."""
    missing = []
    for path in project_files():
        if path == Path(__file__):
            continue
        text = URL.sub("", read(path))
        for name in re.findall(r"(?<![\w/.-])((?:\.\./|[\w-]+/)*[\w-]+\.(?:md|rst))\b", text):
            if not _exists(name, path.parent):
                missing.append(f"{path.relative_to(REPO)}: {name}")
    assert not missing, "\n".join(missing)


@pytest.mark.parametrize("name", ["README.md", "CHANGELOG.md"])
def test_links_in_the_top_level_documents_resolve(name):
    text = read(REPO / name)
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    local = [t.split("#")[0] for t in targets if not re.match(r"[a-z]+:", t) and not t.startswith("#")]
    assert all(_exists(t, REPO) for t in local), [t for t in local if not _exists(t, REPO)]


# --- the source essays ---------------------------------------------------------------------

def seeds_named(text: str) -> set[str]:
    """Seed numbers a text refers to: "seed 000", "seeds 001/002", "seeds 000-002", "seed001_..."."""
    found = set()
    for group in re.findall(r"\bseeds?[ _]?(\d{3}(?!\d)(?:\s*(?:[/,-]|and)\s*\d{3}(?!\d))*)", text, flags=re.IGNORECASE):
        numbers = [int(n) for n in re.findall(r"\d{3}", group)]
        if re.search(r"\d{3}\s*-\s*\d{3}", group):           # a range: 000-002
            numbers = list(range(min(numbers), max(numbers) + 1))
        found |= {f"{n:03d}" for n in numbers}
    return found


def test_seeds_named_reads_every_form():
    assert seeds_named("seed 000; seeds 001/002; seeds 000-002 (2024); seed003_price") == {"000", "001", "002", "003"}
    assert seeds_named("no seed here; seed = 20261123; --seed 20261123") == set()


def data_files() -> list[Path]:
    folders = [REPO / "priors", REPO / "experiments", REPO / "src" / "overhang_sim" / "data" / "models"]
    return [p for folder in folders for p in sorted(folder.rglob("*.toml"))]


def test_every_seed_the_data_files_name_has_a_reference_entry():
    named = set()
    for path in data_files():
        named |= seeds_named(read(path)) | seeds_named(path.stem)
    assert named >= {"000", "001", "003"}       # the files do name the essays
    references = read(REPO / "docs" / "references.md")
    readme = read(REPO / "README.md")
    sources = readme[readme.index("## Sources"):]
    for seed in sorted(named):
        entry = re.search(rf"^\(seed-{seed}\)=\n(.*?)(?=^\(seed-|^## )", references, flags=re.MULTILINE | re.DOTALL)
        assert entry, f"docs/references.md has no entry (seed-{seed})="
        body = entry.group(1)
        assert re.search(r"\*[^*]{10,}\*", body), f"seed {seed}: no title in italics"
        assert re.search(r"\((?:19|20)\d{2}", body), f"seed {seed}: no year"
        assert re.search(r"<https://[^>]+>", body), f"seed {seed}: no address"
        assert f"**seed {seed}**" in sources, f"README's Sources has no seed {seed}"
