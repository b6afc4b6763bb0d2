"""The run directory: its name, the checks before a run starts or resumes in it, what config.yaml records.

One format for every algorithm::

    config.yaml         full resolved config (plus a ``resolved`` section: device, shapes, versions, ...)
    metrics.csv, tb/    training scalars (CSV + TensorBoard)
    eval.csv            one row per evaluation: step, mean/std/min/max return, all returns
    checkpoints/        latest.pt (resume) and best.pt (policy with the best eval), atomic
    episodes/           every finished training episode of an off-policy run as .npz (the replay is
                        rebuilt from these on resume)
    videos/             step_<N>.mp4 of the first episode of each evaluation
    curves.png          learning curve
"""

from __future__ import annotations

import dataclasses
import os
import sys
from datetime import datetime
from pathlib import Path

import torch

from visuomotor.errors import VisuomotorError
from visuomotor.fileio import LOCK_NAME, is_empty
from visuomotor.buffers.datasets import DataSource, env_kwargs_of_data
from visuomotor.buffers.episodes import list_episodes
from visuomotor.train.config import TrainConfig, config_differences, load_config, resolve


def default_run_dir(cfg: TrainConfig) -> Path:
    env = cfg.env.replace("/", "-").replace(":", "-")
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{env}_{cfg.algo}_s{cfg.seed}_{stamp}"


def prepare_run_dir(cfg: TrainConfig, steps_given: bool = True) -> TrainConfig:
    """Pick and check the run directory; on --resume, adopt the stored config: its --steps unless
    ``steps_given`` (the run may then grow), and the given --threads, --device, --progress."""
    if cfg.resume and cfg.restart:
        raise VisuomotorError("--resume continues a run, --restart starts it over; choose one")
    if cfg.restart:
        if cfg.run_dir is None:
            raise VisuomotorError("--restart needs --run-dir PATH of the run to start over")
        set_aside_run(Path(cfg.run_dir))
        return dataclasses.replace(cfg, run_dir=Path(cfg.run_dir), restart=False)
    if cfg.resume:
        if cfg.run_dir is None:
            raise VisuomotorError("--resume needs --run-dir PATH of the run to continue")
        cfg_path = Path(cfg.run_dir) / "config.yaml"
        if not cfg_path.is_file():
            raise VisuomotorError(f"cannot resume: {cfg_path} does not exist")
        if not (Path(cfg.run_dir) / "checkpoints" / "latest.pt").is_file():
            raise VisuomotorError(f"cannot resume {cfg.run_dir}: it holds no checkpoint (checkpoints/latest.pt), only "
                                  f"{describe_run(Path(cfg.run_dir))}; pass --restart instead of --resume to start it "
                                  f"over (its files are kept in {cfg.run_dir}/restart-<time>/), or choose a new --run-dir")
        stored, _ = load_config(cfg_path)
        diffs = config_differences(stored, cfg)
        if diffs:
            raise VisuomotorError(
                f"cannot resume {cfg.run_dir}: settings differ from the stored config.yaml ({', '.join(diffs)})"
            )
        return dataclasses.replace(
            stored, steps=cfg.steps if steps_given else stored.steps, online_steps=cfg.online_steps, resume=True,
            run_dir=Path(cfg.run_dir),
            progress=cfg.progress, threads=cfg.threads, device=cfg.device,
        )
    run_dir = Path(cfg.run_dir) if cfg.run_dir is not None else default_run_dir(cfg)
    if run_dir.exists() and (not run_dir.is_dir() or not is_empty(run_dir)):
        raise VisuomotorError(f"run dir {run_dir} already exists; pass --resume to continue it or choose another --run-dir")
    return dataclasses.replace(cfg, run_dir=run_dir)


def describe_run(run_dir: Path) -> str:
    """What a run directory holds, in a few words (for errors)."""
    episodes = len(list((run_dir / "episodes").glob("ep_*.npz")))
    parts = [f"{episodes} episode file(s)"]
    for name in ("eval.csv", "metrics.csv"):
        path = run_dir / name
        if path.is_file():
            rows = max(0, len(path.read_text().splitlines()) - 1)
            parts.append(f"{name} with {rows} row(s)")
    return ", ".join(parts)


def set_aside_run(run_dir: Path) -> Path | None:
    """Move everything in ``run_dir`` (but earlier set-aside folders) into ``run_dir/restart-<time>/``."""
    entries = [p for p in run_dir.iterdir() if not p.name.startswith("restart-") and p.name != LOCK_NAME] \
        if run_dir.is_dir() else []
    if not entries:
        return None
    dest = run_dir / f"restart-{datetime.now():%Y%m%d-%H%M%S}"
    dest.mkdir()
    for p in entries:
        os.replace(p, dest / p.name)
    print(f"[visuomotor] --restart: moved the earlier files of {run_dir} to {dest}", file=sys.stderr)
    return dest


def versions() -> dict:
    """The versions config.yaml records."""
    import dm_control  # noqa: F401
    import gymnasium
    import mujoco

    from visuomotor import __version__

    dmc_version = getattr(sys.modules.get("dm_control"), "__version__", None)
    if dmc_version is None:
        from importlib.metadata import version

        dmc_version = version("dm_control")
    return {"visuomotor": __version__, "torch": str(torch.__version__), "mujoco": mujoco.__version__,
            "dm_control": dmc_version, "gymnasium": gymnasium.__version__, "python": sys.version.split()[0]}


def set_aside(episode_dir: Path, paths: list[Path], why: str) -> None:
    """Move episode files a resumed run does not use to episodes/discarded/ (never deleted)."""
    if not paths:
        return
    dest = episode_dir / "discarded"
    dest.mkdir(parents=True, exist_ok=True)
    for p in paths:
        os.replace(p, dest / p.name)
    print(f"[visuomotor] moved {len(paths)} episode file(s) to {dest}: {why}", file=sys.stderr)


def open_run(path: str | Path) -> DataSource:
    """A training run's stored episodes as a DataSource (replay across experiments)."""
    path = Path(path)
    if not (path / "config.yaml").is_file():
        raise VisuomotorError(f"{path} is not a run directory (no config.yaml)")
    cfg, resolved = load_config(path / "config.yaml")
    cfg = resolve(cfg)
    files = [p for _, _, p in list_episodes(path / "episodes")]
    return DataSource(path, cfg.env, tuple(resolved.get("observation_shape", ())),
                      tuple(resolved.get("action_shape", ())), env_kwargs_of_data(cfg.env_kwargs()), files)
