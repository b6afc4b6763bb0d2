"""The Python entry point ``visuomotor.train``: one run, or with ``seeds`` one run per seed."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from visuomotor.train.config import TrainConfig, config_type
from visuomotor.train.runner import train_run


def train(config: TrainConfig | None = None, **overrides) -> Path:
    """Train from a config (and/or keyword overrides of its fields); returns the run directory (with
    ``seeds``, the sweep directory of one run per seed).

    >>> train(env="dmc/cartpole-swingup", algo="sac", steps=20_000, run_dir="runs/demo")
    """
    cfg = dataclasses.replace(config or config_type()(), **overrides)
    if cfg.seeds is not None:
        from visuomotor.sweep.seeds import train_seeds

        if cfg.run_dir is not None:
            cfg = dataclasses.replace(cfg, run_dir=Path(cfg.run_dir))
        return train_seeds(cfg)
    return train_run(cfg)
