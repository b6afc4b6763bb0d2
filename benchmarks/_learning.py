"""What the learning benchmarks share: one CSV per run, and the table over all of them."""

from __future__ import annotations

import csv
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


def write_rows(path: Path, rows: list[dict]) -> None:
    """One run's evaluations: lib, env, seed, step, mean_return, train_seconds (atomic)."""
    from visuomotor.fileio import atomic_write_text

    lines = ["lib,env,seed,step,mean_return,train_seconds"]
    lines += [f"{r['lib']},{r['env']},{r['seed']},{r['step']},{r['mean_return']:.2f},{r['train_seconds']:.1f}"
              for r in rows]
    atomic_write_text(path, "\n".join(lines) + "\n")


def eval_rows(run: Path, lib: str, env: str, seed: int, step: Callable[[int], int] = lambda s: s) -> list[dict]:
    """A run directory's evaluations as result rows (``step`` maps the run's step to the one reported);
    empty before the first evaluation."""
    path = run / "eval.csv"
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return [{"lib": lib, "env": env, "seed": seed, "step": step(int(r["step"])),
                 "mean_return": float(r["mean_return"]), "train_seconds": float(r["train_time"])}
                for r in csv.DictReader(f)]


def read_seeds(results: Path) -> dict[tuple[str, str], dict[int, dict[int, tuple[float, float]]]]:
    """Every CSV in ``results``: (env, lib) -> seed -> step -> (mean_return, train_seconds)."""
    runs: dict[tuple[str, str], dict[int, dict[int, tuple[float, float]]]] = {}
    for path in sorted(results.glob("*.csv")):
        with open(path, newline="") as f:
            for r in csv.DictReader(f):
                runs.setdefault((r["env"], r["lib"]), {}).setdefault(int(r["seed"]), {})[int(r["step"])] = (
                    float(r["mean_return"]), float(r["train_seconds"]))
    return runs


def read_results(results: Path) -> dict[tuple[str, str], dict[int, list[tuple[float, float]]]]:
    """Every CSV in ``results``: (env, lib) -> step -> [(mean_return, train_seconds) per seed]."""
    runs: dict[tuple[str, str], dict[int, list[tuple[float, float]]]] = {}
    for key, seeds in read_seeds(results).items():
        for by_step in seeds.values():
            for step, value in by_step.items():
                runs.setdefault(key, {}).setdefault(step, []).append(value)
    return runs


def print_table(results: Path) -> None:
    """Per env: eval return mean ± std over seeds (n) and mean training minutes, per lib and step."""
    runs = read_results(results)
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


class SB3Policy:
    """An SB3 model behind our agent's acting interface: ``act(obs, explore)`` (deterministic when not
    exploring) and ``policy()``, the deterministic policy module ``evaluate`` runs."""

    device = "cpu"

    def __init__(self, model):
        self.model = model

    def act(self, obs, explore):
        return self.model.predict(obs, deterministic=not explore)[0]

    def policy(self):
        import torch

        from visuomotor.algos.base import Policy

        model = self.model

        class _Deterministic(Policy):
            def forward(self, obs: torch.Tensor) -> torch.Tensor:
                return torch.as_tensor(model.predict(obs.cpu().numpy(), deterministic=True)[0])

        return _Deterministic()


def learn_sb3(make_model: Callable, env_id: str, seed: int, steps: int, eval_every: int, threads: int,
              out: Path, keep: Path | None = None) -> None:
    """Train ``make_model(env)`` (an SB3 model) for ``steps`` env steps on visuomotor's env, evaluating
    as our runs do: at step 0 and at every multiple of ``eval_every``, 10 deterministic episodes with
    the same seeds, on an eval env seeded seed + 1; train_seconds exclude evaluation. One CSV row per
    evaluation, written as it happens. ``keep``: save the trained model there (``model.zip``, SB3's
    format, without the replay buffer) and, for SAC, the temperature at each evaluation (``alpha.csv``)."""
    import torch
    from stable_baselines3.common.callbacks import BaseCallback

    from visuomotor import make_env
    from visuomotor.evaluate import evaluate

    torch.set_num_threads(threads)
    env, eval_env = make_env(env_id, seed=seed), make_env(env_id, seed=seed + 1)

    rows: list[dict] = []

    class EvalClock(BaseCallback):
        def __init__(self):
            super().__init__()
            self.t0 = time.perf_counter()
            self.eval_seconds = 0.0
            self.round = 0
            self.next_eval = 0

        def evaluate_now(self, step: int) -> None:
            t = time.perf_counter()
            res = evaluate(SB3Policy(self.model), eval_env, 10, seed=seed, round_index=self.round)
            self.round += 1
            self.eval_seconds += time.perf_counter() - t
            rows.append({"lib": "sb3", "env": env_id, "seed": seed, "step": step,
                         "mean_return": res.summary()["mean_return"],
                         "train_seconds": time.perf_counter() - self.t0 - self.eval_seconds})
            write_rows(out, rows)
            log_alpha = getattr(self.model, "log_ent_coef", None)  # SAC's learned temperature
            if keep is not None and log_alpha is not None:
                keep.mkdir(parents=True, exist_ok=True)
                with open(keep / "alpha.csv", "a") as f:
                    f.write(("step,alpha\n" if step == 0 else "") + f"{step},{float(log_alpha.detach().exp()):.6g}\n")
            self.next_eval = (step // eval_every + 1) * eval_every

        def _on_training_start(self) -> None:
            self.evaluate_now(0)

        def _on_step(self) -> bool:
            if self.num_timesteps >= self.next_eval:
                self.evaluate_now(self.num_timesteps)
            return True

    model = make_model(env).learn(total_timesteps=steps, callback=EvalClock())
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        model.save(keep / "model.zip")
