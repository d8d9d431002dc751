"""overhang report and overhang plot: a self-contained page, opened in headless Chromium."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = ROOT / "experiments"


class _Page(HTMLParser):
    """Collects tags, external references and section titles; fails on unbalanced structure."""

    VOID = frozenset({"meta", "img", "br", "hr", "link", "input"})

    def __init__(self):
        super().__init__()
        self.stack, self.tags, self.external, self.h2, self._in_h2 = [], [], [], [], False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for key, value in attrs:
            if key in ("src", "href") and value and not value.startswith(("data:", "#")):
                self.external.append(value)
        if tag not in self.VOID:
            self.stack.append(tag)
        self._in_h2 = tag == "h2"

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-3:])
        self.stack.pop()
        self._in_h2 = False

    def handle_data(self, data):
        if self._in_h2:
            self.h2.append(data)


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    assert page.stack == [], page.stack
    return page


@pytest.fixture(scope="module")
def baseline_report(tmp_path_factory):
    from overhang_sim.cli import main

    out = tmp_path_factory.mktemp("report") / "baseline.html"
    assert main(["report", str(EXPERIMENTS / "baseline.toml"), "--samples", "40000", "--out", str(out),
                 "--quiet"]) == 0
    return out


def test_report_has_every_section_and_no_network(baseline_report):
    page = _parse(baseline_report)
    assert page.external == []  # every figure is a data: URI, styles are inline
    assert {"Summary", "Which assumption matters", "Convergence", "Priors and their sources",
            "Provenance"} <= set(page.h2)
    assert page.tags.count("img") == 4  # distribution, exceedance, sensitivity, convergence
    assert "How sure" in page.h2 and "90 % HDI" in baseline_report.read_text(encoding="utf-8")
    text = baseline_report.read_text(encoding="utf-8")
    assert "Cotra, biological anchors" in text  # a prior's source
    assert "experiment_sha256" in text


def test_report_of_a_scenario_result_compares_them(tmp_path, run_cli):
    saved = tmp_path / "speed.nc"
    code, _, err = run_cli(["run", EXPERIMENTS / "required_speed_sweep.toml", "--samples", "8000",
                            "--out", saved, "--quiet"])
    assert code == 0, err
    out = tmp_path / "speed.html"
    code, _, err = run_cli(["report", saved, "--out", out])
    assert code == 0, err
    page = _parse(out)
    assert "Scenario comparison" in page.h2
    text = out.read_text(encoding="utf-8")
    assert "required_tokens_per_s = 50" in text
    assert "Not computed" in text  # no sensitivity from a saved result, and the page says so


def test_report_of_a_file_that_is_not_a_result(tmp_path, run_cli):
    from overhang_sim import save, sensitivity
    from overhang_sim.scenarios import load_scenarios

    scenarios = load_scenarios(EXPERIMENTS / "baseline.toml")
    small = dataclasses.replace(scenarios.base, samples=8000)
    saved = tmp_path / "sens.nc"
    save(sensitivity(small, methods=["tornado"]), saved)
    code, out, err = run_cli(["report", saved, "--out", tmp_path / "x.html"])
    assert code == 2 and err.count("\n") == 1 and f"{saved}: " in err and "sensitivity result" in err, err
    assert not (tmp_path / "x.html").exists()


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed (.ci/run "
                    "installs it)")
def test_report_renders_in_headless_chromium(baseline_report, tmp_path):
    shot = tmp_path / "shot.png"
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1200,1600",
                    baseline_report.as_uri()], capture_output=True, timeout=120, check=True)
    pixels = image.imread(shot)[..., :3]
    assert pixels.shape[:2] == (1600, 1200)
    # not blank: many distinct colours and a good share of non-white pixels (text, figures)
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50
    assert np.mean(pixels.min(axis=2) < 0.9) > 0.05


def test_plot_command_writes_each_figure_it_can(tmp_path, run_cli):
    saved = tmp_path / "run.nc"
    code, _, err = run_cli(["run", EXPERIMENTS / "baseline.toml", "--samples", "8000", "--out", saved, "--quiet"])
    assert code == 0, err
    code, out, err = run_cli(["plot", saved, "--out-dir", tmp_path, "--format", "svg"])
    assert code == 0, err
    written = sorted(p.name for p in tmp_path.glob("*.svg"))
    assert written == ["run_convergence.svg", "run_distribution.svg", "run_exceedance.svg"]
    code, out, err = run_cli(["plot", saved, "--kind", "sensitivity", "--out-dir", tmp_path])
    assert code == 2 and "needs a sensitivity result" in err and err.count("\n") == 1, err


# --------------------------------------------------------------------------- issue 12, item 6

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (Debian's chromium package; "
                                    ".ci/run installs it): the page's layout cannot be measured")
#: Appended to a copy of the page: once everything is laid out, writes the measurements into the DOM.
MEASURE = ("<script>window.addEventListener('load', () => { const d = document.createElement('div');"
           "d.id = 'measured'; d.dataset.scroll = document.documentElement.scrollWidth;"
           "d.dataset.client = document.documentElement.clientWidth;"
           "d.dataset.distributions = document.querySelectorAll('figure.distribution').length;"
           "document.body.appendChild(d); });</script>")


def _measure(page: Path, tmp_path: Path, width: int) -> dict:
    """Open `page` in headless Chromium `width` px wide; its document and viewport widths and figure count."""
    import re

    probe = tmp_path / f"probe-{width}.html"
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    done = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           f"--user-data-dir={tmp_path / 'profile'}", f"--window-size={width},900",
                           "--run-all-compositor-stages-before-draw", "--virtual-time-budget=10000",
                           "--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=180, check=True)
    found = re.search(r'<div id="measured" data-scroll="(\d+)" data-client="(\d+)" data-distributions="(\d+)"',
                      done.stdout)
    assert found, done.stdout[-500:]
    return dict(zip(("scroll", "client", "distributions"), map(int, found.groups()), strict=True))


@pytest.fixture(scope="module")
def sweep_report(tmp_path_factory):
    """A three-scenario report with sensitivity, from the experiment file."""
    from overhang_sim.cli import main

    out = tmp_path_factory.mktemp("sweep_report") / "sweep.html"
    assert main(["report", str(EXPERIMENTS / "required_speed_sweep.toml"), "--samples", "8000", "--out",
                 str(out), "--quiet"]) == 0
    return out


def test_report_shows_certainty_and_every_scenario(sweep_report):
    text = sweep_report.read_text(encoding="utf-8")
    page = _parse(sweep_report)
    assert {"How sure", "Distributions", "Which assumption matters"} <= set(page.h2)
    assert text.count('<figure class="distribution"') == 3
    for speed in (10, 30, 50):  # a distribution figure and a sensitivity ranking for every scenario
        assert f'<figure class="distribution" data-scenario="required_tokens_per_s = {speed}">' in text
        assert f'<figure class="sensitivity" data-scenario="required_tokens_per_s = {speed}">' in text
    assert '<figure class="exceedance">' in text
    assert "P(≥ 1e+06)" in text and "90 % HDI" in text and "50 % HDI" in text
    assert text.count('<div class="scroll"><table>') == text.count("<table>")  # every table scrolls by itself


def test_estimates_indistinguishable_from_zero_are_written_so():
    from overhang_sim.report import _estimate, _index

    assert _estimate(0.0003, 0.0002) == "≈ 0" and _estimate(0.0, 0.0) == "≈ 0"
    assert _estimate(0.0033, 0.0005) == "0.0033"
    assert _index(0.004, -0.01, 0.02).startswith("≈ 0 [") and _index(0.4, 0.3, 0.5).startswith("0.4 [")


@needs_chromium
@pytest.mark.parametrize("width", [1024, 480])
def test_report_is_no_wider_than_the_window(sweep_report, tmp_path, width):
    measured = _measure(sweep_report, tmp_path, width)
    assert measured["scroll"] <= measured["client"], measured
    assert measured["distributions"] == 3  # one per scenario


@needs_chromium
def test_the_width_check_sees_an_overflow(sweep_report, tmp_path):
    """The measurement itself: a page with one wide unwrapped line is reported wider than the window."""
    wide = tmp_path / "wide.html"
    wide.write_text(sweep_report.read_text(encoding="utf-8").replace(
        "</body>", f"<p style='white-space:nowrap'>{'x' * 400}</p></body>"), encoding="utf-8")
    measured = _measure(wide, tmp_path, 1024)
    assert measured["scroll"] > measured["client"]


def test_plot_never_gives_two_figures_one_name(tmp_path, run_cli):
    """A run with scenarios: every figure kind gets its own file (the distribution is one panel a scenario)."""
    from overhang_sim.cli import _figure_names

    saved = tmp_path / "speed.nc"
    assert run_cli(["run", EXPERIMENTS / "required_speed_sweep.toml", "--samples", "4000", "--out", saved,
                    "--quiet"])[0] == 0
    code, out, err = run_cli(["plot", saved, "--out-dir", tmp_path / "figures"])
    assert code == 0, err
    written = [line.removeprefix("saved ") for line in out.splitlines() if line.startswith("saved ")]
    assert len(written) == len(set(written)) >= 3
    assert {Path(w).name for w in written} >= {"speed_distribution.png", "speed_exceedance.png",
                                               "speed_scenarios.png"}
    names = _figure_names("run", ["distribution", "distribution", "exceedance"], "png")
    assert names == ["run_distribution.png", "run_distribution_2.png", "run_exceedance.png"]


def test_report_of_an_experiment_evaluates_its_draws_once(tmp_path, monkeypatch):
    """``overhang report EXPERIMENT.toml`` with scenario axes: the run's draws serve the given-data
    indices too (they used to be simulated again for the first scenario: 16 chain evaluations for 8).
    The counting model: every draw the simulator evaluates goes through simulation.draw_range."""
    from overhang_sim import simulation
    from overhang_sim.cli import main
    from overhang_sim.scenarios import load_scenarios

    evaluated = []
    draw_range = simulation.draw_range

    def counting(experiment, design, start, stop, out=None):
        evaluated.append(stop - start)
        return draw_range(experiment, design, start, stop, out)

    monkeypatch.setattr(simulation, "draw_range", counting)
    experiment = EXPERIMENTS / "required_speed_sweep.toml"
    out = tmp_path / "sweep.html"
    assert main(["report", str(experiment), "--samples", "8000", "--out", str(out), "--quiet"]) == 0
    scenarios = load_scenarios(experiment)
    assert sum(evaluated) == len(scenarios.experiments) * 8000
    text = out.read_text(encoding="utf-8")
    assert "Which assumption matters" in text and "Not computed" not in text


def test_report_of_a_file_with_axes_shows_every_scenarios_frontier_and_the_pooled_one(tmp_path):
    """As ``overhang run`` prints: one frontier table per scenario and the pooled mixture's (it used to be
    the first scenario's alone), each the same numbers as frontier.scenario_frontier."""
    from overhang_sim.cli import main
    from overhang_sim.frontier import frontier_spec, scenario_frontier
    from overhang_sim.report import _frontier_blocks
    from overhang_sim.scenarios import load_scenarios

    experiment = EXPERIMENTS / "structure_matters.toml"
    out = tmp_path / "structure.html"
    assert main(["report", str(experiment), "--samples", "2000", "--out", str(out), "--quiet"]) == 0
    text = out.read_text(encoding="utf-8")
    section = text[text.index("Copies against speed"):text.index("Which assumption matters")]
    scenarios = load_scenarios(experiment)
    scenarios = dataclasses.replace(scenarios, experiments=tuple(dataclasses.replace(e, samples=2000)
                                                                 for e in scenarios.experiments))
    front = scenario_frontier(scenarios, spec=frontier_spec(scenarios.base))
    blocks = _frontier_blocks(front)
    assert len(blocks) == len(scenarios.experiments) + 1 and blocks[-1][0].startswith("pooled over")
    assert section.count("<h3>") == len(blocks)
    for label, one in blocks:
        assert label in section.replace("&#x27;", "'")
        assert one["median"].dims == ("speed",)
    np.testing.assert_array_equal(blocks[-1][1]["median"].values, front["pooled_median"].values)


def test_a_report_of_more_scenarios_than_it_draws_spreads_them_and_says_so_once(tmp_path, run_cli):
    """Of more than MAX_DISTRIBUTIONS scenarios, the distribution figures and the sensitivity analyses are of
    MAX_DISTRIBUTIONS of them evenly spaced from the first to the last (they were the first ones: the start of
    a sweep only), and a reason a scenario's sensitivity is left out is one line, not one a scenario."""
    from overhang_sim.report import MAX_DISTRIBUTIONS

    values = MAX_DISTRIBUTIONS + 2
    speeds = [float(v) for v in np.linspace(10, 60, values)]
    path = tmp_path / "long.toml"
    path.write_text(f'''name = "long"
model = "throughput"
priors = ["{(ROOT / "priors" / "baseline.toml").as_posix()}"]
samples = 160

[[axes]]
name = "required_tokens_per_s"
values = {speeds}
''', encoding="utf-8")  # 20 draws a chain: too few for given-data indices, so every analysis is left out
    out = tmp_path / "long.html"
    code, _, err = run_cli(["report", path, "--out", out, "--quiet"])
    assert code == 0, err
    notes = err.splitlines()
    assert sum(f"sensitivity of {MAX_DISTRIBUTIONS} of the {values} scenarios, evenly spaced" in n
               for n in notes) == 1
    assert [n for n in notes if "sensitivity left out" in n] == [
        f"overhang: note: sensitivity left out for {MAX_DISTRIBUTIONS} scenarios ({{'required_tokens_per_s': "
        "10.0}, ...): 20 draws per chain are too few for given-data indices; use at least 1000 per chain"]
    html = out.read_text(encoding="utf-8")
    shown = [speeds[i] for i in np.linspace(0, values - 1, MAX_DISTRIBUTIONS).round().astype(int)]
    drawn = [s for s in speeds if f"Distribution of instances (required_tokens_per_s = {s})" in html]
    assert drawn == shown and shown[-1] == 60.0
    assert f"Distribution figures of {MAX_DISTRIBUTIONS} of the {values} scenarios, evenly spaced" in html
