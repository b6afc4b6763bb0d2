"""The off-policy training loop: it owns time, I/O and the run directory; the agent owns learning.

Run directory (one format for every algorithm)::

    config.yaml         full resolved config
    metrics.csv, tb/    training scalars (CSV + TensorBoard)
    eval.csv            one row per evaluation: step, mean/std/min/max return, all returns
    checkpoints/        latest.pt (resume) and best.pt (policy with the best eval), atomic
    episodes/           every finished training episode as .npz (the replay is rebuilt from these)
    videos/             step_<N>.mp4 of the first episode of each evaluation
    curves.png          learning curve

Resume: the latest checkpoint restores the step counter, agent (networks, optimizers, temperature),
the torch RNG and the replay's sampling RNG; the replay is refilled from the episodes stored up to
the checkpoint's step. Each training episode is seeded by its index, and checkpoints are taken at
episode ends, so a killed-and-resumed run continues exactly like one that was never stopped.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import signal
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import torch

from visuomotor._malloc import tune_malloc
from visuomotor.algos import ALGORITHMS
from visuomotor.buffers import EpisodeRecorder, list_episodes, load_episode, write_episode
from visuomotor.envs import make_env, validate_env_id
from visuomotor.errors import VisuomotorError
from visuomotor.evaluate.plots import plot_run
from visuomotor.evaluate.rollout import episode_seed, evaluate
from visuomotor.train.checkpoint import load_checkpoint, save_checkpoint
from visuomotor.train.config import (TrainConfig, config_differences, flatten, load_config, resolve_defaults,
                                     save_config, to_dict)
from visuomotor.train.logger import Logger

CHECKPOINT_VERSION = 1


def default_run_dir(cfg: TrainConfig) -> Path:
    env = cfg.env.replace("/", "-").replace(":", "-")
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{env}_{cfg.algo}_s{cfg.seed}_{stamp}"


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise VisuomotorError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise VisuomotorError(f"device {name!r} asked for but CUDA is not available; use --device cpu")
    return dev


def validate(cfg: TrainConfig) -> None:
    """Every check that needs no work: raise a one-line VisuomotorError on bad input."""
    if cfg.algo not in ALGORITHMS:
        raise VisuomotorError(f"unknown algo {cfg.algo!r}; choose one of: {', '.join(ALGORITHMS)}")
    validate_env_id(cfg.env)
    for name in ("steps", "eval_every", "checkpoint_every", "log_every"):
        if getattr(cfg, name) is not None and getattr(cfg, name) <= 0:
            raise VisuomotorError(f"--{name.replace('_', '-')} must be > 0, got {getattr(cfg, name)}")
    if cfg.num_envs is not None and cfg.num_envs < 1:
        raise VisuomotorError(f"--num-envs must be >= 1, got {cfg.num_envs}")
    if cfg.action_repeat is not None and cfg.action_repeat < 1:
        raise VisuomotorError(f"--action-repeat must be >= 1, got {cfg.action_repeat}")
    if cfg.frame_stack < 1 or cfg.pixel_size < 8:
        raise VisuomotorError(f"--frame-stack must be >= 1 and --pixel-size >= 8, got {cfg.frame_stack}, {cfg.pixel_size}")
    agent_cls, _ = ALGORITHMS[cfg.algo]
    if cfg.pixels and not (getattr(agent_cls, "pixels", False) or getattr(agent_cls, "pixels_optional", False)):
        raise VisuomotorError(f"--algo {cfg.algo} learns from states; for pixels use --algo drqv2")
    if (cfg.prior_data or cfg.prior_runs) and getattr(agent_cls, "on_policy", False):
        raise VisuomotorError(f"--prior-data/--prior-runs feed a replay; --algo {cfg.algo} learns on-policy")
    if getattr(agent_cls, "offline", False) and not cfg.data:
        raise VisuomotorError(f"--algo {cfg.algo} learns offline from a dataset: pass --data DIR (see visuomotor collect)")
    if cfg.data and not getattr(agent_cls, "offline", False):
        raise VisuomotorError(f"--data is for offline algorithms (bc, td3bc); for --algo {cfg.algo} use --prior-data")
    if cfg.online_steps < 0:
        raise VisuomotorError(f"--online-steps must be >= 0, got {cfg.online_steps}")
    if cfg.online_steps and cfg.algo != "td3bc":
        raise VisuomotorError(f"--online-steps fine-tunes an offline td3bc run online; --algo {cfg.algo} has no online phase")
    for name in ("base_policy", "guide_policy"):
        flag = "--" + name.replace("_", "-")
        if getattr(cfg, name) is not None:
            if cfg.algo not in ("sac", "td3"):
                raise VisuomotorError(f"{flag} trains an off-policy learner on top of a policy: use --algo sac or td3, "
                                      f"not {cfg.algo}")
            if not (Path(getattr(cfg, name)) / "config.yaml").is_file():
                raise VisuomotorError(f"{flag} {getattr(cfg, name)} is not a run directory (no config.yaml)")
    if cfg.base_policy is not None and cfg.guide_policy is not None:
        raise VisuomotorError("--base-policy and --guide-policy cannot be combined; choose one")
    if not cfg.residual_scale > 0:
        raise VisuomotorError(f"--residual-scale must be > 0, got {cfg.residual_scale}")
    if cfg.jsrl_stages < 1 or cfg.jsrl_tolerance < 0 or (cfg.jsrl_horizon is not None and cfg.jsrl_horizon < 1):
        raise VisuomotorError(f"--jsrl-stages must be >= 1, --jsrl-tolerance >= 0 and --jsrl-horizon >= 1; got "
                              f"{cfg.jsrl_stages}, {cfg.jsrl_tolerance}, {cfg.jsrl_horizon}")
    for p in [*cfg.prior_data, *cfg.prior_runs, *cfg.data]:
        if not Path(p).is_dir():
            raise VisuomotorError(f"prior data {p} does not exist")
    if cfg.eval_episodes < 1:
        raise VisuomotorError(f"--eval-episodes must be >= 1, got {cfg.eval_episodes}")
    if cfg.seed < 0:
        raise VisuomotorError(f"--seed must be >= 0, got {cfg.seed}")
    if cfg.threads < 0:
        raise VisuomotorError(f"--threads must be >= 0, got {cfg.threads}")
    try:
        cfg.dr.validate()
    except ValueError as e:
        raise VisuomotorError(f"--{e}") from None
    try:
        cfg.algo_config().validate()
    except ValueError as e:
        raise VisuomotorError(f"--{cfg.algo}: {e}") from None
    resolve_device(cfg.device)


def prepare_run_dir(cfg: TrainConfig) -> TrainConfig:
    """Pick and check the run directory; on --resume, adopt the stored config (steps may grow)."""
    if cfg.resume:
        if cfg.run_dir is None:
            raise VisuomotorError("--resume needs --run-dir PATH of the run to continue")
        cfg_path = Path(cfg.run_dir) / "config.yaml"
        if not cfg_path.is_file():
            raise VisuomotorError(f"cannot resume: {cfg_path} does not exist")
        stored, _ = load_config(cfg_path)
        diffs = config_differences(stored, cfg)
        if diffs:
            raise VisuomotorError(
                f"cannot resume {cfg.run_dir}: settings differ from the stored config.yaml ({', '.join(diffs)})"
            )
        return dataclasses.replace(
            stored, steps=cfg.steps, online_steps=cfg.online_steps, resume=True, run_dir=Path(cfg.run_dir),
            progress=cfg.progress, threads=cfg.threads, device=cfg.device,
        )
    run_dir = Path(cfg.run_dir) if cfg.run_dir is not None else default_run_dir(cfg)
    if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
        raise VisuomotorError(f"run dir {run_dir} already exists; pass --resume to continue it or choose another --run-dir")
    return dataclasses.replace(cfg, run_dir=run_dir)


def _versions() -> dict:
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


def collect_dr(info: dict, out: dict[str, list[float]], mask: np.ndarray | None = None) -> None:
    """Append the domain-randomization draws of episodes that just started (``info["dr/..."]``, from a
    single env, or a vector env's info restricted to ``mask``) to ``out`` for logging."""
    for k, v in info.items():
        if not k.startswith("dr/"):
            continue
        if mask is None:
            out.setdefault(k, []).append(float(v))
        else:
            sel = np.asarray(mask, bool) & np.asarray(info.get(f"_{k}", np.ones(len(mask), bool)), bool)
            out.setdefault(k, []).extend(np.asarray(v, np.float64)[sel].tolist())


class Trainer:
    """What every loop shares: device, envs for evaluation, the agent, the run directory's files."""

    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg
        self.run_dir = Path(cfg.run_dir)
        self.algo_cfg = cfg.algo_config()
        self.device = resolve_device(cfg.device)
        self.threads = cfg.threads or os.cpu_count() or 1
        torch.set_num_threads(self.threads)
        self.malloc_tuned = tune_malloc() if self.device.type == "cpu" else False
        torch.manual_seed(cfg.seed)
        self.env_kw = cfg.env_kwargs()
        self.eval_env = make_env(cfg.env, seed=cfg.seed + 1, render_mode="rgb_array" if cfg.video else None,
                                 randomization=cfg.randomization(evaluation=True), **self.env_kw)
        self.step = 0
        self.eval_round = 0
        self.best_eval = -math.inf
        self.last_eval = math.nan
        self.wall_offset = 0.0
        self.eval_time = 0.0  # wall seconds spent evaluating, so train_time excludes them
        self.resumed_from: int | None = None
        self.end_step = cfg.steps  # the step counter's last value (offline + online steps when fine-tuning)

    def _save_config(self, observation_space, action_space, **extra) -> None:
        save_config(self.run_dir / "config.yaml", self.cfg, {
            "device": str(self.device), "threads": self.threads,
            "observation_shape": list(observation_space.shape),
            "action_shape": list(action_space.shape),
            **extra, "malloc_tuned": self.malloc_tuned, "versions": _versions(), "command": sys.argv,
        })

    def _start(self, resumed: bool, observation_space, action_space, desc: str, unit: str = "step", **extra):
        """After a restore (or none): write config.yaml (fresh runs), open the logger, the progress bar
        and take the first evaluation. Returns the bar, or None when the run already reached --steps."""
        cfg = self.cfg
        if not resumed:
            self._save_config(observation_space, action_space, **extra)
        self.logger = Logger(self.run_dir, resume_step=self.step if resumed else (-1 if cfg.resume else None))
        self._t0 = time.perf_counter()
        if self.step >= self.end_step:
            print(f"[visuomotor] {self.run_dir} already at step {self.step} >= {self.end_step}; nothing to do")
            self.logger.close()
            return None
        from tqdm import tqdm

        bar = tqdm(total=self.end_step, initial=self.step, unit=unit, disable=not cfg.progress, dynamic_ncols=True,
                   mininterval=1.0 if sys.stderr.isatty() else 30.0, desc=desc)
        if not resumed:
            self._evaluate()
        return bar

    def _finish(self, bar, what: str = "steps") -> Path:
        """After the last checkpoint: close the bar, logger and eval env, plot, report."""
        bar.update(self.step - bar.n)
        bar.close()
        self.logger.close()
        self.eval_env.close()
        self._plot()
        print(f"[visuomotor] done: {self.step} {what} in {self._wall():.0f}s, last eval return "
              f"{self.last_eval:.1f}, best {self.best_eval:.1f} -> {self.run_dir}")
        return self.run_dir

    # ---- checkpoints -------------------------------------------------------------------------------
    def _save_state(self, **extra) -> None:
        """latest.pt: what every loop keeps (counters, evaluation record, clocks, agent, torch RNG,
        config) plus the loop's own ``extra``."""
        save_checkpoint(self.ckpt_dir / "latest.pt", {
            "version": CHECKPOINT_VERSION, "step": self.step, "eval_round": self.eval_round,
            "best_eval": self.best_eval, "last_eval": self.last_eval, "wall_time": self._wall(),
            "eval_time": self.eval_time, "agent": self.agent.state_dict(), "torch_rng": torch.get_rng_state(),
            "config": to_dict(self.cfg), **extra,
        })

    def _load_state(self) -> dict | None:
        """Restore what ``_save_state`` keeps from latest.pt; returns the checkpoint (None if there is none)
        for the loop's own fields."""
        path = self.ckpt_dir / "latest.pt"
        if not path.exists():
            return None
        state = load_checkpoint(path, map_location=self.device)
        self.agent.load_state_dict(state["agent"])
        torch.set_rng_state(state["torch_rng"].cpu())
        self.step, self.eval_round = int(state["step"]), int(state["eval_round"])
        self.best_eval, self.last_eval = float(state["best_eval"]), float(state["last_eval"])
        self.wall_offset, self.eval_time = float(state["wall_time"]), float(state.get("eval_time", 0.0))
        self.resumed_from = self.step
        return state

    # ---- paths -----------------------------------------------------------------------------------
    @property
    def ckpt_dir(self) -> Path:
        return self.run_dir / "checkpoints"

    @property
    def episode_dir(self) -> Path:
        return self.run_dir / "episodes"

    def _wall(self) -> float:
        return self.wall_offset + (time.perf_counter() - self._t0)

    # ---- evaluation --------------------------------------------------------------------------------
    def _evaluate(self) -> None:
        video = self.run_dir / "videos" / f"step_{self.step:09d}.mp4" if self.cfg.video else None
        t0 = time.perf_counter()
        res = evaluate(self.agent, self.eval_env, self.cfg.eval_episodes, seed=self.cfg.seed,
                       round_index=self.eval_round, video_path=video)
        eval_seconds = time.perf_counter() - t0
        self.eval_round += 1
        summary = res.summary()
        if hasattr(self.agent, "on_evaluation"):  # JSRL: the curriculum's stage, from this evaluation
            summary.update(self.agent.on_evaluation(summary["mean_return"]))
        self.last_eval = summary["mean_return"]
        self.eval_time += eval_seconds
        wall = self._wall()
        row = {**summary, "wall_time": wall, "train_time": wall - self.eval_time,
               "eval_seconds": eval_seconds, "returns": ";".join(f"{r:.4g}" for r in res.returns)}
        self.logger.log_eval(self.step, row)
        if summary["mean_return"] > self.best_eval:
            self.best_eval = summary["mean_return"]
            save_checkpoint(self.ckpt_dir / "best.pt", {
                "version": CHECKPOINT_VERSION, "step": self.step, "mean_return": self.best_eval,
                "agent": self.agent.policy_state_dict(), "config": to_dict(self.cfg),
            })
        self._plot()

    def _plot(self) -> None:
        ar = self.cfg.action_repeat
        plot_run(self.run_dir, title=f"{self.cfg.env}  {self.cfg.algo}  seed {self.cfg.seed}",
                 xlabel="env steps" if ar == 1 else f"policy steps (x{ar} simulator steps)")


class OffPolicyTrainer(Trainer):
    """Env steps with one env, updates from a replay. ``agent`` and ``replay`` given: online fine-tuning
    of an offline-trained agent (--online-steps), continuing its step counter after the --steps offline
    gradient steps, with the dataset already in the replay."""

    def __init__(self, cfg: TrainConfig, agent=None, replay=None):
        super().__init__(cfg)
        self.finetune = agent is not None
        if cfg.num_envs not in (None, 1):
            raise VisuomotorError(f"--num-envs {cfg.num_envs}: --algo {cfg.algo} steps one env; "
                                  f"parallel envs are for on-policy algorithms (ppo)")
        self.env = make_env(cfg.env, seed=cfg.seed, randomization=cfg.randomization(), **self.env_kw)
        self.frame_channels = 3 if cfg.pixels else None
        offset = cfg.steps if self.finetune else 0
        self.end_step = offset + cfg.online_steps if self.finetune else cfg.steps
        self.learning_starts = offset + self.algo_cfg.learning_starts
        if agent is None and hasattr(self.algo_cfg, "with_auto_compile"):  # compile None: on for long CPU runs (SAC)
            acfg = self.algo_cfg.resolved(cfg.env)
            updates = max(0, self.end_step - self.learning_starts) // acfg.update_every * acfg.updates_per_step
            self.algo_cfg = self.algo_cfg.with_auto_compile(updates, self.device)
            if self.algo_cfg.compile and self.learning_starts < self.end_step:
                print(f"[visuomotor] --{cfg.algo}.compile on: the first update runs torch.compile "
                      f"(10-30 s on a CPU; --{cfg.algo}.compile False turns it off)")
        agent_cls, _ = ALGORITHMS[cfg.algo]
        self.agent = agent if agent is not None else self._make_agent(agent_cls)
        self.replay = replay if replay is not None else self.agent.make_replay(
            self.algo_cfg.buffer_size, self.device, cfg.seed)
        self.episode_index = 0
        self._open_prior_data()

    def _make_agent(self, agent_cls):
        """The algorithm's agent; with --base-policy a residual on the frozen policy, with --guide-policy JSRL."""
        cfg = self.cfg
        if cfg.base_policy is None and cfg.guide_policy is None:
            return agent_cls(self.env.observation_space, self.env.action_space, self.algo_cfg, self.device)
        from visuomotor.algos.prior import make_prior_agent

        return make_prior_agent(cfg, self.env, agent_cls, self.algo_cfg, self.device)

    def _open_prior_data(self) -> None:
        """Check every --prior-data / --prior-runs source against this run's env (before any work) and
        build the prior-data replay; the prior runs' episodes are loaded in ``run``."""
        from visuomotor.buffers.datasets import _env_kwargs, load_replay, open_run
        from visuomotor.buffers.replay import MixedSampler

        cfg = self.cfg
        self.prior_runs = [open_run(p) for p in cfg.prior_runs]
        for src in self.prior_runs:
            src.check(cfg.env, self.env.observation_space, self.env.action_space, _env_kwargs(self.env_kw))
        self.prior, self.sampler = None, self.replay
        if not cfg.prior_data:
            return
        self.prior, episodes, n = load_replay(cfg.prior_data, self.agent, cfg.env, self.env_kw, self.device,
                                              cfg.seed + 1_000_003)
        self.sampler = MixedSampler(self.replay, self.prior, self.algo_cfg.prior_fraction)
        print(f"[visuomotor] prior data: {episodes} episodes, {n} transitions from "
              f"{', '.join(map(str, cfg.prior_data))}; {self.algo_cfg.prior_fraction:.0%} of each batch",
              file=sys.stderr)

    def _load_prior_runs(self) -> None:
        n = 0
        for src in self.prior_runs:
            for ep in src.episodes():
                self.replay.add_episode(ep)
                n += len(ep["reward"])
        if self.prior_runs:
            print(f"[visuomotor] replay starts with {n} transitions from "
                  f"{', '.join(str(s.path) for s in self.prior_runs)}", file=sys.stderr)

    # ---- state -------------------------------------------------------------------------------------
    def _checkpoint(self, partial: EpisodeRecorder | None = None) -> None:
        extra = {"episode_index": self.episode_index, "replay_rng": self.replay.rng_state()}
        if self.prior is not None:
            extra["prior_rng"] = self.prior.rng_state()
        if partial is not None and len(partial):
            extra["partial_episode"] = {k: torch.as_tensor(v) for k, v in partial.arrays().items()}
        self._save_state(**extra)

    def _restore(self) -> bool:
        episodes = list_episodes(self.episode_dir)
        state = self._load_state()
        if state is None:
            self._set_aside([p for _, _, p in episodes], "no checkpoint was written before the run stopped")
            return False
        self.replay.set_rng_state(state["replay_rng"])
        if self.prior is not None and "prior_rng" in state:
            self.prior.set_rng_state(state["prior_rng"])
        self.episode_index = int(state.get("episode_index", 0))  # (absent after an offline phase)
        kept, later = [], []
        for i, end, p in episodes:
            (kept if end <= self.step and i < self.episode_index else later).append(p)
        self._set_aside(later, f"they finished after the checkpoint at step {self.step}")
        for p in kept:
            self.replay.add_episode(load_episode(p))
        if "partial_episode" in state:  # the episode the run stopped in (Ctrl-C, or the end of --steps)
            ep = {k: v.numpy() for k, v in state["partial_episode"].items()}
            self.replay.add_episode(ep)
            # on disk as an episode of its own, so a later resume rebuilds it too (until the next
            # checkpoint counts it, a restore sets it aside and takes it from this checkpoint again)
            write_episode(self.episode_dir, self.episode_index, self.step, ep)
            self.episode_index += 1
        return True

    def _set_aside(self, paths: list[Path], why: str) -> None:
        if not paths:
            return
        dest = self.episode_dir / "discarded"
        dest.mkdir(parents=True, exist_ok=True)
        for p in paths:
            os.replace(p, dest / p.name)
        print(f"[visuomotor] moved {len(paths)} episode file(s) to {dest}: {why}", file=sys.stderr)

    # ---- main loop ---------------------------------------------------------------------------------
    def run(self) -> Path:
        cfg, acfg = self.cfg, self.algo_cfg
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._load_prior_runs()  # first, on a fresh start and on resume alike
        resumed = self._restore() if (cfg.resume or self.finetune) else False
        bar = self._start(resumed, self.env.observation_space, self.env.action_space, f"{cfg.env} {cfg.algo}",
                          target_entropy=getattr(self.agent, "target_entropy", None),
                          bf16=getattr(self.agent, "bf16", None), compile=getattr(self.algo_cfg, "compile", None))
        if bar is None:
            return self.run_dir
        next_ckpt = (self.step // cfg.checkpoint_every + 1) * cfg.checkpoint_every

        rec = EpisodeRecorder(frame_channels=self.frame_channels)
        obs, info = self.env.reset(seed=episode_seed(cfg.seed, 0, self.episode_index))
        self.agent.begin_episode(explore=True)
        rec.start(obs)
        ep_return, ep_returns, ep_lengths = 0.0, [], []
        dr: dict[str, list[float]] = {}
        collect_dr(info, dr)
        metric_sum: torch.Tensor | None = None
        n_updates = 0
        win_t, win_step = time.perf_counter(), self.step
        try:
            while self.step < self.end_step:
                self.agent.set_step(self.step)
                if self.step < self.learning_starts:
                    action = self.agent.warmup_action(obs)
                else:
                    action = self.agent.act(obs, explore=True)
                next_obs, reward, terminated, truncated, _ = self.env.step(action)
                self.replay.add(obs, action, reward, next_obs, terminated, truncated)
                rec.step(action, reward, next_obs, terminated, truncated)
                ep_return += reward
                obs = next_obs
                self.step += 1

                if self.step > self.learning_starts and self.step % acfg.update_every == 0:
                    for _ in range(acfg.updates_per_step):
                        metrics = self.agent.update(self.sampler.sample(acfg.batch_size))
                        values = torch.stack([v.float() for v in metrics.values()])  # one add per update, no sync
                        if metric_sum is None or metric_sum.shape != values.shape:  # (keys are fixed per agent)
                            metric_sum, n_updates = values, 0
                        else:
                            metric_sum = metric_sum + values
                        n_updates += 1

                if terminated or truncated:
                    write_episode(self.episode_dir, self.episode_index, self.step, rec.arrays())
                    ep_returns.append(ep_return)
                    ep_lengths.append(len(rec))
                    self.episode_index += 1
                    ep_return = 0.0
                    obs, info = self.env.reset(seed=episode_seed(cfg.seed, 0, self.episode_index))
                    self.agent.begin_episode(explore=True)
                    collect_dr(info, dr)
                    rec.start(obs)

                if self.step % cfg.log_every == 0 or self.step == self.end_step:
                    now = time.perf_counter()
                    sps = (self.step - win_step) / max(now - win_t, 1e-9)
                    row = {"wall_time": self._wall(), "perf/sps": sps, "charts/episodes": self.episode_index,
                           "charts/env_frames": self.step * cfg.action_repeat}
                    if ep_returns:
                        row["charts/episode_return"] = float(np.mean(ep_returns))
                        row["charts/episode_length"] = float(np.mean(ep_lengths))
                    row.update({k: float(np.mean(v)) for k, v in dr.items() if v})
                    dr = {}
                    if n_updates:
                        values = (metric_sum.float() / n_updates).tolist()
                        bad = [k for k, v in zip(metrics.keys(), values) if not math.isfinite(v)]
                        if bad:  # fail loudly (the last checkpoint stays the last good state)
                            raise VisuomotorError(f"training diverged at step {self.step}: non-finite "
                                                  f"{', '.join(bad)}")
                        row.update(zip(metrics.keys(), values))
                    self.logger.log(self.step, row)
                    metric_sum, n_updates, ep_returns, ep_lengths = None, 0, [], []
                    win_t, win_step = now, self.step
                    bar.set_postfix_str(f"sps {sps:.0f} | eval {self.last_eval:.1f}", refresh=False)
                    bar.update(self.step - bar.n)

                if self.step % cfg.eval_every == 0 or self.step == self.end_step:
                    t_eval = time.perf_counter()
                    self._evaluate()
                    win_t += time.perf_counter() - t_eval  # env-steps/s counts training time only
                    bar.set_postfix_str(f"eval {self.last_eval:.1f}", refresh=False)

                # checkpoints at episode ends: the next episode then starts from its own seed on resume
                if len(rec) == 0 and self.step >= next_ckpt:
                    self._checkpoint()
                    next_ckpt = (self.step // cfg.checkpoint_every + 1) * cfg.checkpoint_every
        except KeyboardInterrupt:
            self._checkpoint(partial=rec)
            bar.close()
            self.logger.close()
            raise
        self._checkpoint(partial=rec)
        self.env.close()
        return self._finish(bar)


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: the run stops the way Ctrl-C stops it (checkpoint with the open episode)."""


@contextlib.contextmanager
def _stop_on_sigterm():
    """While training, SIGTERM (``kill``, a cluster scheduler's notice) stops the run like Ctrl-C:
    the loop writes a checkpoint that holds the episode in progress, so ``--resume`` loses nothing.
    Only in the main thread (where Python runs signal handlers); elsewhere SIGTERM keeps its action."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def train(config: TrainConfig | None = None, **overrides) -> Path:
    """Train from a config (and/or keyword overrides of its fields); returns the run directory.

    >>> train(env="dmc/cartpole-swingup", algo="sac", steps=20_000, run_dir="runs/demo")
    """
    cfg = dataclasses.replace(config or TrainConfig(), **overrides)
    if cfg.run_dir is not None:
        cfg = dataclasses.replace(cfg, run_dir=Path(cfg.run_dir))
    if cfg.seeds is not None:
        return train_seeds(cfg)
    validate(cfg)
    cfg = resolve_defaults(cfg)
    cfg = prepare_run_dir(cfg)
    agent_cls, _ = ALGORITHMS[cfg.algo]
    if getattr(agent_cls, "offline", False):
        from visuomotor.train.offline import OfflineTrainer as trainer_cls
    elif getattr(agent_cls, "on_policy", False):
        from visuomotor.train.onpolicy import OnPolicyTrainer as trainer_cls
    else:
        trainer_cls = OffPolicyTrainer
    trainer = trainer_cls(cfg)
    with _stop_on_sigterm():
        return trainer.run()


def train_seeds(cfg: TrainConfig) -> Path:
    """``--seeds``: one run per seed (a sweep over seeds, local processes); returns the sweep directory."""
    from visuomotor.sweep import Sweep, SweepSpec, parse_seeds

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
