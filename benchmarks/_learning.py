"""What the learning benchmarks share: one CSV per run, and the table over all of them."""

from __future__ import annotations

import csv
import statistics
from pathlib import Path

import numpy as np


def write_rows(path: Path, rows: list[dict]) -> None:
    """One run's evaluations: lib, env, seed, step, mean_return, train_seconds (atomic)."""
    from visuomotor.fileio import atomic_write_text

    lines = ["lib,env,seed,step,mean_return,train_seconds"]
    lines += [f"{r['lib']},{r['env']},{r['seed']},{r['step']},{r['mean_return']:.2f},{r['train_seconds']:.1f}"
              for r in rows]
    atomic_write_text(path, "\n".join(lines) + "\n")


def print_table(results: Path) -> None:
    """Per env: eval return mean ± std over seeds (n) and mean training minutes, per lib and step."""
    runs: dict[tuple[str, str], dict[int, list[tuple[float, float]]]] = {}
    for path in sorted(results.glob("*.csv")):
        with open(path, newline="") as f:
            for r in csv.DictReader(f):
                runs.setdefault((r["env"], r["lib"]), {}).setdefault(int(r["step"]), []).append(
                    (float(r["mean_return"]), float(r["train_seconds"])))
    for env in sorted({e for e, _ in runs}):
        libs = sorted(lib for e, lib in runs if e == env)
        steps = sorted({s for lib in libs for s in runs[(env, lib)]})
        print(f"\n{env}: eval return, mean ± std over seeds (n seeds); train minutes (mean)\n")
        print("| step | " + " | ".join(libs) + " |")
        print("|---|" + "---|" * len(libs))
        for s in steps:
            cells = []
            for lib in libs:
                vals = runs[(env, lib)].get(s, [])
                if not vals:
                    cells.append("-")
                    continue
                rets = [v[0] for v in vals]
                sd = statistics.stdev(rets) if len(rets) > 1 else 0.0
                cells.append(f"{np.mean(rets):.0f} ± {sd:.0f} (n={len(rets)}), "
                             f"{np.mean([v[1] for v in vals]) / 60:.1f} min")
            print(f"| {s} | " + " | ".join(cells) + " |")
