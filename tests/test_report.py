"""Reports over synthetic run directories with known scores (no training needed)."""

import csv
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import stats

from visuomotor.errors import VisuomotorError
from visuomotor.runs.report import aggregate, load_report_data, parse_score_ranges, scores_at, write_report


def make_run(root: Path, env: str, label: str, seed: int, returns, steps=None, **cfg_extra) -> Path:
    """A run directory as `visuomotor train` writes it (config.yaml + eval.csv), returns given."""
    steps = steps if steps is not None else [i * 1000 for i in range(len(returns))]
    d = root / f"{env.replace('/', '-')}_{label}_s{seed}"
    d.mkdir(parents=True)
    cfg = {"env": env, "algo": "sac", "label": label, "seed": seed, "steps": steps[-1],
           "sac": {"batch_size": 256, **cfg_extra.pop("sac", {})}, **cfg_extra}
    (d / "config.yaml").write_text(yaml.safe_dump(cfg))
    with open(d / "eval.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["step", "mean_return", "wall_time", "train_time"])
        for i, (s, r) in enumerate(zip(steps, returns)):
            w.writerow([s, r, 10.0 * i, 8.0 * i])
    return d


def test_score_ranges():
    r = parse_score_ranges(["gym/*=-100:3000"])
    assert r["dmc/*"] == (0.0, 1000.0) and r["gym/*"] == (-100.0, 3000.0)
    for bad in ["dmc/*", "dmc/*=1:0", "x=a:b"]:
        with pytest.raises(VisuomotorError, match="score-range"):
            parse_score_ranges([bad])


def test_iqm_and_mean_of_known_scores(tmp_path):
    """Normalized final scores of a known matrix: rliable's IQM and mean equal the hand values."""
    final = np.array([[100, 900], [200, 800], [300, 700], [400, 600], [500, 500], [600, 400], [700, 300],
                      [800, 200]], dtype=float)  # [seeds, tasks] returns at 2000 steps
    for seed in range(8):
        for j, env in enumerate(["dmc/cartpole-swingup", "dmc/walker-walk"]):
            make_run(tmp_path, env, "a", seed, [0.0, 10.0, final[seed, j]])
    data = load_report_data([tmp_path])
    bs = scores_at(data, 2000, parse_score_ranges([]))
    np.testing.assert_allclose(bs.scores["a"], final / 1000.0)
    points, cis = aggregate(bs, reps=500)
    flat = np.sort((final / 1000.0).ravel())
    iqm = flat[4:12].mean()  # 16 scores: drop the lowest and highest 4
    assert points["a"][1] == pytest.approx(iqm)
    assert points["a"][1] == pytest.approx(stats.trim_mean(flat, 0.25))
    assert points["a"][2] == pytest.approx(flat.mean())
    assert points["a"][3] == pytest.approx(np.mean(1.0 - np.minimum(flat, 1.0)))  # optimality gap
    # rliable's median is the median over tasks of the per-task mean score
    assert points["a"][0] == pytest.approx(np.median((final / 1000.0).mean(0)))
    for i in range(4):
        assert cis["a"][0][i] <= points["a"][i] + 1e-9 <= cis["a"][1][i] + 2e-9


def test_intervals_equal_rliables_own_on_the_same_score_matrix(tmp_path):
    """The report's point estimates and 95% CIs are rliable's, computed on the very matrix the runs give,
    and the same each time (rliable's bootstrap draws from numpy's global RNG, which the report seeds)."""
    from rliable import library as rly
    from rliable import metrics

    rng = np.random.default_rng(3)
    final = rng.uniform(0, 1000, size=(6, 3))  # [seeds, tasks]
    envs = ["dmc/cartpole-swingup", "dmc/walker-walk", "dmc/cheetah-run"]
    for seed in range(6):
        for j, env in enumerate(envs):
            make_run(tmp_path, env, "a", seed, [0.0, 10.0, final[seed, j]])
    bs = scores_at(load_report_data([tmp_path]), 2000, parse_score_ranges([]))
    matrix = bs.scores["a"]
    np.testing.assert_allclose(matrix, final[:, [envs.index(t) for t in bs.tasks]] / 1000.0, rtol=1e-6)
    points, cis = aggregate(bs, reps=300, seed=7)

    def funcs(x):
        return np.array([metrics.aggregate_median(x), metrics.aggregate_iqm(x), metrics.aggregate_mean(x),
                         metrics.aggregate_optimality_gap(x)])

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.random.seed(7)
        ref_points, ref_cis = rly.get_interval_estimates({"a": matrix}, funcs, reps=300)
    np.testing.assert_array_equal(points["a"], ref_points["a"])
    again = aggregate(bs, reps=300, seed=7)[1]
    np.testing.assert_array_equal(cis["a"], again["a"])
    np.testing.assert_array_equal(cis["a"], ref_cis["a"])
    assert points["a"][0] == pytest.approx(np.median(matrix.mean(0)))
    assert cis["a"][0][0] < points["a"][0] < cis["a"][1][0]


def test_ci_contains_true_mean_for_large_sample(tmp_path):
    rng = np.random.default_rng(0)
    for seed in range(60):
        make_run(tmp_path, "dmc/cheetah-run", "a", seed, [0.0, 500.0 + 50.0 * rng.standard_normal()])
    data = load_report_data([tmp_path])
    bs = scores_at(data, 1000, parse_score_ranges([]))
    points, cis = aggregate(bs, reps=1000)
    lo, hi = cis["a"][0][2], cis["a"][1][2]  # mean
    assert lo < 0.5 < hi and hi - lo < 0.05


def test_missing_seeds_are_marked_not_averaged_silently(tmp_path):
    for seed in range(3):
        make_run(tmp_path, "dmc/cartpole-swingup", "a", seed, [0.0, 100.0 * (seed + 1)])
        make_run(tmp_path, "dmc/walker-walk", "a", seed, [0.0, 50.0])
        make_run(tmp_path, "dmc/cartpole-swingup", "b", seed, [0.0, 300.0])
    make_run(tmp_path, "dmc/walker-walk", "b", 0, [0.0, 60.0])
    make_run(tmp_path, "dmc/walker-walk", "b", 1, [0.0])  # stopped before the 1000-step eval
    data = load_report_data([tmp_path])
    bs = scores_at(data, 1000, parse_score_ranges([]))
    assert bs.seeds_used["a"] == [0, 1, 2]
    assert bs.seeds_used["b"] == [0]  # the only seed b has on every task
    why = {(m.env, m.seed): m.why for m in bs.missing["b"]}
    assert set(why) == {("dmc/walker-walk", 1), ("dmc/walker-walk", 2)}
    assert "not evaluated at 1000" in why[("dmc/walker-walk", 1)] and why[("dmc/walker-walk", 2)] == "no run"
    index = write_report([tmp_path], tmp_path / "rep", reps=200)
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "**Missing seeds**" in md
    assert "b on dmc/walker-walk, seed 2: no run" in md
    assert "| b | 1 (0) |" in md
    assert index.is_file()


def test_mismatched_configs_warn_with_keys(tmp_path, capsys):
    make_run(tmp_path, "dmc/cartpole-swingup", "a", 0, [0.0, 1.0], sac={"batch_size": 128})
    make_run(tmp_path, "dmc/cartpole-swingup", "a", 1, [0.0, 2.0])
    data = load_report_data([tmp_path])
    assert any("sac.batch_size: 128, 256" in w for w in data.warnings)
    write_report([tmp_path], tmp_path / "rep", reps=200)
    assert "sac.batch_size" in capsys.readouterr().out
    assert "## Warnings" in (tmp_path / "rep" / "report.md").read_text()


def test_html_links_every_plot_and_time_axis(tmp_path):
    for seed in range(3):
        for env in ["dmc/cartpole-swingup", "gym/Hopper-v5"]:
            make_run(tmp_path / "runs", env, "a", seed, [0.0, 200.0, 400.0 + seed])
            make_run(tmp_path / "runs", env, "b", seed, [0.0, 100.0, 300.0 + seed])
    out = tmp_path / "rep"
    index = write_report([tmp_path / "runs"], out, budgets=[1000, 2000], x="time",
                         score_ranges=["gym/Hopper-v5=0:3500"], reps=200)
    page = index.read_text()
    linked = set(re.findall(r"<img src='([^']+)'", page))
    pngs = {p.name for p in out.glob("*.png")}
    assert linked == pngs
    assert {"curves_dmc-cartpole-swingup.png", "curves_gym-Hopper-v5.png", "aggregates_1000.png",
            "profiles_2000.png"} <= pngs
    assert all((out / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    assert "gym/Hopper-v5: [0, 3500]" in page
    rows = list(csv.DictReader(open(out / "scores.csv")))
    iqm = [r for r in rows if r["budget"] == "2000" and r["method"] == "a" and r["metric"] == "IQM"]
    expected = stats.trim_mean([(400 + s) / 1000 for s in range(3)] + [(400 + s) / 3500 for s in range(3)], 0.25)
    assert len(iqm) == 1 and float(iqm[0]["value"]) == pytest.approx(expected)


def test_html_renders_in_headless_chromium(tmp_path):
    """Screenshot index.html with Debian's headless Chromium: the page loads and every image decodes."""
    browser = next((b for b in ["chromium-headless-shell", "chromium", "chromium-browser"] if shutil.which(b)), None)
    if browser is None:
        if os.environ.get("CI", "").lower() == "true":  # `make test` installs it: a missing one is a failure
            pytest.fail("no headless Chromium under CI=true; scripts/setup.sh test installs chromium-headless-shell")
        pytest.skip("no headless Chromium on this machine (apt install chromium-headless-shell)")
    for seed in range(2):
        make_run(tmp_path / "runs", "dmc/cartpole-swingup", "a", seed, [0.0, 500.0 + seed])
    index = write_report([tmp_path / "runs"], tmp_path / "rep", reps=200)
    shot = tmp_path / "shot.png"
    # --dump-dom after load: every <img> reports naturalWidth > 0 only when the PNG decoded
    script = tmp_path / "check.html"
    script.write_text(index.read_text().replace(
        "</body>", "<script>window.onload=()=>{document.title=[...document.images].every(i=>i.naturalWidth>0)"
                   "?'ALL-IMAGES-OK':'BROKEN-IMAGE'}</script></body>"))
    (tmp_path / "rep" / "check.html").write_text(script.read_text())
    common = ["--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files"]
    dom = subprocess.run([browser, *common, "--virtual-time-budget=5000", "--dump-dom",
                          (tmp_path / "rep" / "check.html").as_uri()], capture_output=True, text=True, timeout=120)
    assert "<title>ALL-IMAGES-OK</title>" in dom.stdout, dom.stderr[-2000:]
    subprocess.run([browser, *common, f"--screenshot={shot}", "--window-size=1200,1600", index.as_uri()],
                   capture_output=True, timeout=120)
    assert shot.is_file() and shot.read_bytes()[:4] == b"\x89PNG"


def test_report_errors(tmp_path):
    with pytest.raises(VisuomotorError, match="at least one run directory"):
        write_report([], tmp_path / "rep")
    with pytest.raises(VisuomotorError, match="no such run directory"):
        write_report([tmp_path / "nope"], tmp_path / "rep")
    (tmp_path / "empty").mkdir()
    with pytest.raises(VisuomotorError, match="no run with evaluations"):
        write_report([tmp_path / "empty"], tmp_path / "rep")
    make_run(tmp_path / "runs", "dmc/cartpole-swingup", "a", 0, [0.0, 1.0])
    with pytest.raises(VisuomotorError, match="--x"):
        write_report([tmp_path / "runs"], tmp_path / "rep", x="frames")


def test_skipped_and_damaged_runs_are_listed_and_the_rest_reported(tmp_path, cli):
    """A run without eval.csv (passed directly or inside a parent), one whose last row was cut off, one
    whose config is not a run's: each listed with its reason; the report covers the others."""
    runs = tmp_path / "runs"
    good = [make_run(runs, "dmc/cartpole-swingup", "a", s, [0.0, 500.0 + s]) for s in range(2)]
    cut = make_run(runs, "dmc/cartpole-swingup", "a", 2, [0.0, 480.0])
    with open(cut / "eval.csv", "a") as f:
        f.write("2000,47")  # a row cut off mid-write (no newline, no other columns): its return is partial
    noeval = make_run(runs, "dmc/cartpole-swingup", "a", 3, [0.0])
    (noeval / "eval.csv").unlink()
    alone = make_run(tmp_path / "alone", "dmc/cartpole-swingup", "a", 4, [0.0])
    (alone / "eval.csv").unlink()
    out = cli("report", runs, alone, "-o", tmp_path / "rep", "--reps", "100")
    assert out.returncode == 0, out.stderr
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "## Skipped or damaged runs" in md
    assert f"{noeval}: no eval.csv" in md and f"{alone}: no eval.csv" in md
    assert f"{cut}: eval.csv line(s) 4 incomplete (cut off?); the other rows are used" in md
    assert "3 runs" in md  # the two good runs and the cut one's complete rows
    section = md.split("## Skipped or damaged runs")[1].split("\n## ")[0]
    assert len([ln for ln in section.splitlines() if ln.startswith("- ")]) == 3
    for run in good:
        assert str(run) not in section
