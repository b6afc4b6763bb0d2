"""``--seeds``: one run per seed, as a sweep over seeds run by local processes."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path

from visuomotor.errors import VisuomotorError
from visuomotor.sweep.runner import Sweep
from visuomotor.sweep.spec import SweepSpec, parse_seeds
from visuomotor.train.config import TrainConfig, flatten, to_dict, validate


def train_seeds(cfg: TrainConfig) -> Path:
    """One run per seed of ``cfg.seeds`` (a sweep over seeds, local processes); returns the sweep directory."""
    seeds = parse_seeds(cfg.seeds)
    if cfg.resume and cfg.run_dir is None:
        raise VisuomotorError("--resume with --seeds needs --run-dir PATH of the sweep to continue")
    if cfg.workers < 0:
        raise VisuomotorError(f"--workers must be >= 0, got {cfg.workers}")
    validate(dataclasses.replace(cfg, seeds=None, seed=seeds[0]))
    owned = {"env", "algo", "seed", "seeds", "run_dir", "resume", "workers", "label", "threads", "progress"}
    base = {k: v for k, v in flatten(to_dict(cfg)).items() if k.split(".")[0] not in owned}
    spec = SweepSpec(algos=[cfg.algo], envs=[cfg.env], seeds=seeds, base=base, grid={})
    if cfg.run_dir is not None:
        sweep_dir = Path(cfg.run_dir)
    else:
        env = cfg.env.replace("/", "-").replace(":", "-")
        sweep_dir = Path("runs") / f"{env}_{cfg.algo}_seeds{cfg.seeds.replace(',', '_')}_{datetime.now():%Y%m%d-%H%M%S}"
    sweep = Sweep(spec, sweep_dir)
    if cfg.label:
        for t in sweep.trials:
            t.config.label = cfg.label
    sweep.prepare(resume=cfg.resume)
    statuses = sweep.run("local", workers=cfg.workers)
    failed = [f"seed {t.config.seed} ({statuses[t.name].get('error')})" for t in sweep.trials
              if statuses[t.name].get("state") != "done"]
    if failed:
        raise VisuomotorError(f"{len(failed)} of {len(seeds)} runs did not finish: {'; '.join(failed)}; "
                              f"see {sweep_dir}/summary.csv and logs/, continue with --resume")
    return sweep_dir
