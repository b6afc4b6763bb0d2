"""Learning curves of one run directory."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from visuomotor.fileio import atomic_write_bytes


def _read(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _col(rows, key):
    xs, ys = [], []
    for r in rows:
        if r.get(key, "") not in ("", None):
            xs.append(float(r["step"]))
            ys.append(float(r[key]))
    return np.asarray(xs), np.asarray(ys)


def plot_run(run_dir: Path, title: str | None = None, xlabel: str = "env steps") -> Path:
    """Write ``curves.png``: eval mean return (min-max band) and training episode returns vs steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_dir = Path(run_dir)
    metrics, evals = _read(run_dir / "metrics.csv"), _read(run_dir / "eval.csv")
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    x, y = _col(metrics, "charts/episode_return")
    if len(x):
        ax.plot(x, y, color="tab:gray", alpha=0.6, lw=1, label="train episode return")
    x, y = _col(evals, "mean_return")
    if len(x):
        _, lo = _col(evals, "min_return")
        _, hi = _col(evals, "max_return")
        ax.plot(x, y, color="tab:blue", marker="o", ms=3, label="eval mean return")
        if len(lo) == len(x):
            ax.fill_between(x, lo, hi, color="tab:blue", alpha=0.2, label="eval min-max")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("episode return")
    ax.set_title(title or run_dir.name, fontsize=9)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    out = run_dir / "curves.png"
    atomic_write_bytes(out, buf.getvalue())
    return out
