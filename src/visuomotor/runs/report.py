"""Reports over many run directories: curves with confidence bands and aggregate scores (rliable).

    visuomotor report runs/sweeps/my-sweep runs/other-run -o report/

Runs are grouped into *methods* by their label (`--label`, default the algorithm; a sweep's grid
point is part of its label) and into *tasks* by env id. Per task: mean eval return across seeds
with a 95% stratified-bootstrap band, against env steps or seconds. At each budget (env steps):
IQM, mean, median and optimality gap of normalized scores with 95% stratified-bootstrap CIs, and
performance profiles, from rliable (Agarwal et al. 2021). Seeds a method lacks on a task (a failed,
unfinished or never-run seed that another method or the sweep has) are listed, never averaged away
silently; configs that differ within a method are reported key by key.

Outputs in the report directory: index.html (open in a browser), report.md, scores.csv,
curves_<task>.png, aggregates_<budget>.png, profiles_<budget>.png.
"""

from __future__ import annotations

import contextlib

import csv
import fnmatch
import html
import io
import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from visuomotor.errors import VisuomotorError
from visuomotor.fileio import atomic_write_bytes, atomic_write_text
from visuomotor.train.config import flatten

DEFAULT_SCORE_RANGES = {"dmc/*": (0.0, 1000.0)}
"""Task -> (random-ish low, best) returns used to normalize scores: DMC rewards are in [0, 1] per
step over 1000-step episodes."""

# keys that differ between seeds of the same method by design
_IGNORED_KEYS = {"seed", "seeds", "run_dir", "resume", "threads", "device", "progress", "workers", "label",
                 "video", "log_every", "checkpoint_every"}


@dataclass
class Run:
    run_dir: Path
    env: str
    method: str
    seed: int
    config: dict
    steps: np.ndarray
    returns: np.ndarray
    wall_time: np.ndarray
    train_time: np.ndarray
    target_steps: int

    def score_at(self, budget: int) -> float | None:
        """Eval return of the policy at ``budget`` env steps (last eval at or before it), or None
        when the run was not evaluated at or beyond the budget."""
        if not len(self.steps) or self.steps[-1] < budget:
            return None
        return float(self.returns[self.steps <= budget][-1])


@dataclass
class Missing:
    env: str
    method: str
    seed: int
    why: str


@dataclass
class ReportData:
    runs: list[Run]
    failed: list[Missing] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "<run dir>: why", runs left out or partly read


def find_run_dirs(paths: list[Path]) -> list[Path]:
    """Run directories (holding a config.yaml) at or below each path; the earlier files a --restart set
    aside (``restart-<time>/``) are not runs of their own."""
    found: list[Path] = []
    for p in map(Path, paths):
        if not p.exists():
            raise VisuomotorError(f"no such run directory: {p}")
        if (p / "config.yaml").is_file():
            found.append(p)
            continue
        found += sorted(c.parent for c in p.rglob("config.yaml")
                        if not any(part.startswith("restart-") for part in c.relative_to(p).parts[:-1]))
    seen, out = set(), []
    for p in found:
        if p.resolve() not in seen:
            seen.add(p.resolve())
            out.append(p)
    return out


def _load_run(run_dir: Path, skipped: list[str]) -> Run | None:
    """The run's evaluations; None (and why, in ``skipped``) when it cannot be reported. Rows of eval.csv
    that are incomplete (a file cut off mid-row) are left out, and said so in ``skipped``."""
    if not (run_dir / "eval.csv").is_file():
        skipped.append(f"{run_dir}: no eval.csv (it never evaluated); left out")
        return None
    try:
        cfg = yaml.safe_load((run_dir / "config.yaml").read_text())
        text = (run_dir / "eval.csv").read_text()
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        cut_off = bool(text) and not text.endswith("\n")  # every row is written whole, newline included
    except (OSError, yaml.YAMLError, csv.Error, UnicodeDecodeError) as e:
        skipped.append(f"{run_dir}: unreadable ({type(e).__name__}: {(str(e).splitlines() or [''])[0][:100]}); left out")
        return None
    if not isinstance(cfg, dict) or "env" not in cfg or "algo" not in cfg:
        skipped.append(f"{run_dir}: config.yaml is not a visuomotor run config; left out")
        return None

    def complete(i, r) -> bool:
        if None in r.values() or None in r or (cut_off and i == len(rows) - 1):  # fields missing, or cut off
            return False
        try:
            int(float(r["step"]))
            return True
        except (KeyError, TypeError, ValueError):
            return False

    ok = [complete(i, r) for i, r in enumerate(rows)]
    bad = [i + 2 for i, good in enumerate(ok) if not good]  # (line numbers: the header is line 1)
    if bad:
        rows = [r for r, good in zip(rows, ok) if good]
        skipped.append(f"{run_dir}: eval.csv line(s) {', '.join(map(str, bad))} incomplete (cut off?); "
                       f"{'the other rows are used' if rows else 'left out'}")
    if not rows:
        if not bad:
            skipped.append(f"{run_dir}: eval.csv holds no evaluation; left out")
        return None
    nan = [i + 2 for i, r in enumerate(rows) if r.get("mean_return") in ("", "nan")]
    if nan:  # (an evaluation whose returns were not finite: kept, as nan, and said)
        skipped.append(f"{run_dir}: eval.csv line(s) {', '.join(map(str, nan))} hold no finite mean return")
    cfg.pop("resolved", None)

    def col(key):
        return np.array([float(r[key]) if r.get(key) not in (None, "") else np.nan for r in rows], dtype=np.float64)

    steps = col("step")
    return Run(run_dir=run_dir, env=str(cfg.get("env")), method=str(cfg.get("label") or cfg.get("algo")),
               seed=int(cfg.get("seed", 0)), config=cfg, steps=steps.astype(np.int64) if len(steps) else steps,
               returns=col("mean_return"), wall_time=col("wall_time"), train_time=col("train_time"),
               target_steps=int(cfg.get("steps", 0)))


def load_report_data(paths: list[Path]) -> ReportData:
    dirs = find_run_dirs(paths)
    skipped: list[str] = []
    data = ReportData(runs=[r for r in (_load_run(d, skipped) for d in dirs) if r is not None], skipped=skipped)
    # trials a sweep recorded as failed or never finished count as missing seeds
    for p in map(Path, paths):
        for status_dir in [p / "status"] if (p / "status").is_dir() else p.rglob("status"):
            if not status_dir.is_dir() or not (status_dir.parent / "sweep.yaml").is_file():
                continue
            for sf in sorted(status_dir.glob("*.json")):
                try:
                    st = json.loads(sf.read_text())
                    tcfg = yaml.safe_load((status_dir / f"{sf.stem}.config.yaml").read_text())
                except (OSError, ValueError, yaml.YAMLError):
                    continue
                if st.get("state") != "done":
                    data.failed.append(Missing(tcfg["env"], tcfg.get("label") or tcfg["algo"], int(tcfg["seed"]),
                                               f"{st.get('state')}: {st.get('error') or 'not finished'}"))
    if not data.runs:
        why = f" ({len(skipped)} left out: {skipped[0]}{'; ...' if len(skipped) > 1 else ''})" if skipped else ""
        raise VisuomotorError(f"no run with evaluations (config.yaml + eval.csv) under "
                              f"{', '.join(map(str, paths))}{why}")
    # configs that differ within one method on one task
    groups: dict[tuple[str, str], list[Run]] = {}
    for r in data.runs:
        groups.setdefault((r.env, r.method), []).append(r)
    for (env, method), runs in sorted(groups.items()):
        flat = [flatten(r.config) for r in runs]
        keys = sorted({k for f in flat for k in f} - _IGNORED_KEYS)
        diff = [k for k in keys if len({json.dumps(f.get(k), sort_keys=True) for f in flat}) > 1]
        if diff:
            detail = "; ".join(f"{k}: " + ", ".join(sorted({str(f.get(k)) for f in flat})) for k in diff)
            data.warnings.append(f"{env} / {method}: runs have different configs ({detail})")
        seeds = [r.seed for r in runs]
        dup = sorted({s for s in seeds if seeds.count(s) > 1})
        if dup:
            data.warnings.append(f"{env} / {method}: seed(s) {dup} appear in more than one run; all are used")
    return data


def parse_score_ranges(items: list[str]) -> dict[str, tuple[float, float]]:
    """'PATTERN=LOW:HIGH' items (fnmatch patterns on env ids) on top of the defaults."""
    ranges = dict(DEFAULT_SCORE_RANGES)
    for item in items:
        m = re.fullmatch(r"(.+)=(-?[\d.eE+-]+):(-?[\d.eE+-]+)", item.strip())
        try:
            lo, hi = float(m.group(2)), float(m.group(3))
        except (AttributeError, ValueError):
            raise VisuomotorError(f"--score-range {item!r}: expected PATTERN=LOW:HIGH, e.g. 'dmc/*=0:1000'") from None
        if hi <= lo:
            raise VisuomotorError(f"--score-range {item!r}: HIGH must be greater than LOW")
        ranges[m.group(1)] = (lo, hi)
    return ranges


def score_range(env: str, ranges: dict[str, tuple[float, float]]) -> tuple[float, float] | None:
    match = None
    for pattern, rng in ranges.items():  # later (user) patterns win over earlier (default) ones
        if fnmatch.fnmatchcase(env, pattern):
            match = rng
    return match


# ---- numbers ------------------------------------------------------------------------------------
@dataclass
class BudgetScores:
    budget: int
    tasks: list[str]
    methods: list[str]
    scores: dict[str, np.ndarray]  # method -> [seeds used, tasks] normalized scores
    seeds_used: dict[str, list[int]]
    missing: dict[str, list[Missing]]
    raw: dict[tuple[str, str], list[tuple[int, float]]]  # (method, task) -> [(seed, return)]


def expected_seeds(data: ReportData, env: str) -> list[int]:
    """Every seed any method ran (or a sweep tried) on this task."""
    return sorted({r.seed for r in data.runs if r.env == env} | {m.seed for m in data.failed if m.env == env})


def scores_at(data: ReportData, budget: int, ranges) -> BudgetScores:
    tasks = sorted({r.env for r in data.runs})
    methods = sorted({r.method for r in data.runs} | {m.method for m in data.failed})
    raw: dict[tuple[str, str], list[tuple[int, float]]] = {}
    missing: dict[str, list[Missing]] = {m: [] for m in methods}
    for task in tasks:
        want = expected_seeds(data, task)
        for method in methods:
            have = {}
            for r in data.runs:
                if r.env == task and r.method == method:
                    s = r.score_at(budget)
                    if s is not None and np.isfinite(s):
                        have.setdefault(r.seed, s)
            raw[(method, task)] = sorted(have.items())
            for seed in want:
                if seed not in have:
                    why = next((m.why for m in data.failed if (m.env, m.method, m.seed) == (task, method, seed)), None)
                    if why is None:
                        run = next((r for r in data.runs if (r.env, r.method, r.seed) == (task, method, seed)), None)
                        why = (f"not evaluated at {budget} steps (last eval at {int(run.steps[-1]) if len(run.steps) else 0})"
                               if run is not None else "no run")
                    missing[method].append(Missing(task, method, seed, why))
    scores, seeds_used = {}, {}
    for method in methods:
        # rliable's stratified bootstrap wants [runs, tasks]: use the seeds this method has on every task
        present = [dict(raw[(method, t)]) for t in tasks]
        common = sorted(set.intersection(*(set(p) for p in present))) if present else []
        seeds_used[method] = common
        if common:
            mat = np.array([[present[j][s] for j in range(len(tasks))] for s in common], dtype=np.float64)
            for j, task in enumerate(tasks):
                rng = score_range(task, ranges)
                if rng is not None:
                    mat[:, j] = (mat[:, j] - rng[0]) / (rng[1] - rng[0])
            scores[method] = mat
    return BudgetScores(budget, tasks, methods, scores, seeds_used, missing, raw)


@contextlib.contextmanager
def seeded_numpy(seed: int):
    """numpy's global RNG seeded for the block, its state restored after: rliable's stratified bootstrap
    draws its resamples from ``np.random`` (it never hands its ``random_state`` to the draws), so this
    is what makes a report's intervals the same from run to run."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def aggregate(bs: BudgetScores, reps: int, seed: int = 0):
    """rliable point estimates and 95% CIs of median, IQM, mean and optimality gap per method."""
    from rliable import library as rly
    from rliable import metrics

    def funcs(x):
        return np.array([metrics.aggregate_median(x), metrics.aggregate_iqm(x), metrics.aggregate_mean(x),
                         metrics.aggregate_optimality_gap(x)])

    if not bs.scores:
        return {}, {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", FutureWarning)  # arch's random_state notice
        with seeded_numpy(seed):
            return rly.get_interval_estimates(bs.scores, funcs, reps=reps)


AGGREGATE_NAMES = ["Median", "IQM", "Mean", "Optimality Gap"]


# ---- plots --------------------------------------------------------------------------------------
def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _curve_matrix(runs: list[Run], x: str) -> tuple[np.ndarray, np.ndarray]:
    """Common x grid and [seeds, points] returns (interpolated for time axes)."""
    if x == "steps":
        grid = np.array(sorted(set.intersection(*(set(r.steps.tolist()) for r in runs))), dtype=np.float64)
        mat = np.array([[r.returns[r.steps == g][0] for g in grid] for r in runs])
        return grid, mat
    key = "wall_time" if x == "time" else "train_time"
    ends = [getattr(r, key)[-1] for r in runs if len(getattr(r, key))]
    if not ends or min(ends) <= 0:
        return np.zeros(0), np.zeros((len(runs), 0))
    grid = np.linspace(0.0, min(ends), 40)
    mat = np.array([np.interp(grid, getattr(r, key), r.returns) for r in runs])
    return grid, mat


def plot_task_curves(data: ReportData, task: str, x: str, reps: int, colors: dict[str, str]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from rliable import library as rly

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for method in sorted({r.method for r in data.runs if r.env == task}):
        runs = [r for r in data.runs if r.env == task and r.method == method and len(r.steps)]
        if not runs:
            continue
        grid, mat = _curve_matrix(runs, x)
        if not len(grid):
            continue
        mean = mat.mean(axis=0)
        label = f"{method} (n={len(runs)})"
        ax.plot(grid, mean, color=colors[method], lw=2, label=label)
        if len(runs) > 1:  # 95% bootstrap CI of the mean over seeds at each point (rliable)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                warnings.simplefilter("ignore", FutureWarning)
                with seeded_numpy(0):
                    _, ci = rly.get_interval_estimates({method: mat[:, None, :]}, lambda s: s.mean(axis=(0, 1)),
                                                       reps=reps)
            ax.fill_between(grid, ci[method][0], ci[method][1], color=colors[method], alpha=0.2, lw=0)
    ax.set_xlabel({"steps": "env steps", "time": "wall-clock seconds",
                   "train-time": "training seconds (evaluation excluded)"}[x])
    ax.set_ylabel("eval return")
    ax.set_title(f"{task}: mean and 95% CI over seeds", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return _png(fig)


def plot_aggregates(points, cis, methods, colors) -> bytes:
    from rliable import plot_utils

    fig, _ = plot_utils.plot_interval_estimates(points, cis, metric_names=AGGREGATE_NAMES, algorithms=methods,
                                                colors=colors, xlabel="normalized score",
                                                row_height=max(0.45, 1.4 / len(methods)), xlabel_y_coordinate=-0.3)
    return _png(fig)


def plot_profiles(bs: BudgetScores, reps: int, colors) -> bytes:
    import matplotlib.pyplot as plt
    from rliable import library as rly
    from rliable import plot_utils

    all_scores = np.concatenate([s.ravel() for s in bs.scores.values()])
    hi = max(1.0, float(np.nanmax(all_scores)) if all_scores.size else 1.0)
    taus = np.linspace(0.0, hi, 81)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", FutureWarning)
        with seeded_numpy(0):
            dists, dist_cis = rly.create_performance_profile(bs.scores, taus, reps=reps)
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    plot_utils.plot_performance_profiles(dists, taus, performance_profile_cis=dist_cis, colors=colors, ax=ax,
                                         xlabel=r"normalized score ($\tau$)")
    ax.legend([plt.Line2D([0], [0], color=colors[m], lw=2) for m in bs.scores], list(bs.scores), fontsize=8)
    ax.set_title(f"performance profile at {bs.budget} steps", fontsize=10)
    return _png(fig)


# ---- the report ---------------------------------------------------------------------------------
def _fmt(v: float) -> str:
    return "nan" if not np.isfinite(v) else f"{v:.3f}"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")


def default_budgets(data: ReportData) -> list[int]:
    """Half and all of the most common final eval step (runs that stopped short count as missing)."""
    ends = [int(r.steps[-1]) for r in data.runs if len(r.steps) and r.steps[-1] > 0]
    if not ends:
        return []
    counts = {e: ends.count(e) for e in ends}
    reach = max(counts, key=lambda e: (counts[e], e))
    return sorted({reach // 2, reach}) if reach >= 2 else [reach]


def write_report(paths: list[Path], out_dir: Path, budgets: list[int] | None = None, x: str = "steps",
                 score_ranges: list[str] | None = None, reps: int = 2000) -> Path:
    """Write the report for the runs under ``paths`` into ``out_dir``; returns index.html's path."""
    import matplotlib

    matplotlib.use("Agg")
    if x not in ("steps", "time", "train-time"):
        raise VisuomotorError(f"--x {x!r}: choose steps, time or train-time")
    if reps < 100:
        raise VisuomotorError(f"--reps must be >= 100 bootstrap samples, got {reps}")
    if budgets is not None and any(b <= 0 for b in budgets):
        raise VisuomotorError(f"--budgets must be positive env steps, got {budgets}")
    if not paths:
        raise VisuomotorError("give at least one run directory (or a directory holding runs, e.g. a sweep)")
    ranges = parse_score_ranges(score_ranges or [])
    data = load_report_data(paths)
    budgets = sorted(set(budgets)) if budgets else default_budgets(data)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    methods = sorted({r.method for r in data.runs} | {m.method for m in data.failed})
    palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
    colors = {m: palette[i % len(palette)] for i, m in enumerate(methods)}
    tasks = sorted({r.env for r in data.runs})
    for w in data.warnings:
        print(f"[visuomotor] warning: {w}")
    for w in data.skipped:
        print(f"[visuomotor] skipped or damaged: {w}")

    md: list[str] = ["# visuomotor report", ""]
    body: list[str] = []
    md.append(f"{len(data.runs)} runs, {len(tasks)} task(s), {len(methods)} method(s). "
              f"Scores normalized per task as (return - low) / (high - low): "
              + ", ".join(f"{t}: " + (f"[{r[0]:g}, {r[1]:g}]" if (r := score_range(t, ranges)) else "raw return")
                          for t in tasks) + ".")
    md.append("")
    if data.warnings:
        md += ["## Warnings", ""] + [f"- {w}" for w in data.warnings] + [""]
    if data.skipped:
        md += ["## Skipped or damaged runs", ""] + [f"- {w}" for w in data.skipped] + [""]

    md += ["## Learning curves", ""]
    curve_files = []
    for task in tasks:
        name = f"curves_{_slug(task)}.png"
        atomic_write_bytes(out_dir / name, plot_task_curves(data, task, x, reps, colors))
        curve_files.append((task, name))
        md += [f"![{task}]({name})", ""]

    score_rows = []
    agg_sections = []
    for budget in budgets:
        bs = scores_at(data, budget, ranges)
        points, cis = aggregate(bs, reps)
        sec = [f"## At {budget} env steps", ""]
        sec += ["| method | seeds used | " + " | ".join(AGGREGATE_NAMES) + " |",
                "|---|---|" + "---|" * len(AGGREGATE_NAMES)]
        for m in methods:
            if m not in points:
                sec.append(f"| {m} | none on every task | " + " | ".join("-" for _ in AGGREGATE_NAMES) + " |")
                continue
            cells = [f"{_fmt(points[m][i])} [{_fmt(cis[m][0][i])}, {_fmt(cis[m][1][i])}]"
                     for i in range(len(AGGREGATE_NAMES))]
            sec.append(f"| {m} | {len(bs.seeds_used[m])} ({', '.join(map(str, bs.seeds_used[m]))}) | "
                       + " | ".join(cells) + " |")
            for i, name in enumerate(AGGREGATE_NAMES):
                score_rows.append([budget, m, "all", name, points[m][i], cis[m][0][i], cis[m][1][i],
                                   len(bs.seeds_used[m])])
        sec += ["", "95% stratified-bootstrap confidence intervals in brackets (rliable). Per task, return "
                "mean ± std over seeds (n):", ""]
        sec += ["| task | " + " | ".join(methods) + " |", "|---|" + "---|" * len(methods)]
        for t in tasks:
            cells = []
            for m in methods:
                vals = [v for _, v in bs.raw[(m, t)]]
                cells.append(f"{np.mean(vals):.1f} ± {np.std(vals, ddof=1) if len(vals) > 1 else 0.0:.1f} (n={len(vals)})"
                             if vals else "-")
                if vals:
                    score_rows.append([budget, m, t, "mean_return", float(np.mean(vals)), "", "", len(vals)])
            sec.append(f"| {t} | " + " | ".join(cells) + " |")
        miss = [mm for m in methods for mm in bs.missing[m]]
        if miss:
            sec += ["", "**Missing seeds** (not in the numbers above):", ""]
            sec += [f"- {mm.method} on {mm.env}, seed {mm.seed}: {mm.why}" for mm in miss]
        sec.append("")
        images = []
        if points:
            name = f"aggregates_{budget}.png"
            atomic_write_bytes(out_dir / name, plot_aggregates(points, cis, [m for m in methods if m in points], colors))
            images.append(name)
            name = f"profiles_{budget}.png"
            atomic_write_bytes(out_dir / name, plot_profiles(bs, reps, colors))
            images.append(name)
        sec += [f"![{n}]({n})" for n in images] + [""]
        md += sec
        agg_sections.append((budget, sec, images))

    md += ["## Runs", "", "| run | task | method | seed | last step | last eval |", "|---|---|---|---|---|---|"]
    for r in sorted(data.runs, key=lambda r: (r.env, r.method, r.seed)):
        last = f"{r.returns[-1]:.1f}" if len(r.returns) else "-"
        md.append(f"| {r.run_dir} | {r.env} | {r.method} | {r.seed} | {int(r.steps[-1]) if len(r.steps) else 0} | {last} |")
    for m in data.failed:
        md.append(f"| (failed) | {m.env} | {m.method} | {m.seed} | - | {m.why} |")
    md.append("")
    atomic_write_text(out_dir / "report.md", "\n".join(md))

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["budget", "method", "task", "metric", "value", "ci_low", "ci_high", "n_seeds"])
    w.writerows(score_rows)
    atomic_write_text(out_dir / "scores.csv", buf.getvalue())

    atomic_write_text(out_dir / "index.html", _html("\n".join(md)))
    print(f"[visuomotor] report: {out_dir / 'index.html'} ({len(data.runs)} runs, budgets {budgets})")
    return out_dir / "index.html"


def _html(markdown: str) -> str:
    """A small, dependency-free rendering of report.md (headings, tables, lists, images)."""
    out = ["<!doctype html><html><head><meta charset='utf-8'><title>visuomotor report</title><style>",
           "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}",
           "table{border-collapse:collapse;margin:1em 0;font-size:14px}td,th{border:1px solid #ccc;padding:4px 8px}",
           "th{background:#f3f3f3}img{max-width:100%;border:1px solid #eee;margin:.5em 0}",
           "</style></head><body>"]
    lines = markdown.splitlines()
    i = 0

    def inline(text: str) -> str:
        text = html.escape(text)
        return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)

    while i < len(lines):
        ln = lines[i]
        if ln.startswith("#"):
            level = len(ln) - len(ln.lstrip("#"))
            out.append(f"<h{level}>{inline(ln[level:].strip())}</h{level}>")
        elif ln.startswith("!["):
            m = re.match(r"!\[(.*?)\]\((.*?)\)", ln)
            src = html.escape(m.group(2), quote=True)
            out.append(f"<p><a href='{src}'><img src='{src}' alt='{html.escape(m.group(1), quote=True)}'></a></p>")
        elif ln.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                rows.append([c.strip() for c in lines[i].strip().strip("|").split("|")])
                i += 1
            out.append("<table><tr>" + "".join(f"<th>{inline(c)}</th>" for c in rows[0]) + "</tr>")
            for r in rows[2:]:
                out.append("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in r) + "</tr>")
            out.append("</table>")
            continue
        elif ln.startswith("- "):
            out.append("<ul>")
            while i < len(lines) and lines[i].startswith("- "):
                out.append(f"<li>{inline(lines[i][2:])}</li>")
                i += 1
            out.append("</ul>")
            continue
        elif ln.strip():
            out.append(f"<p>{inline(ln)}</p>")
        i += 1
    out.append("</body></html>")
    return "\n".join(out)


__all__ = ["aggregate", "load_report_data", "parse_score_ranges", "scores_at", "write_report"]
