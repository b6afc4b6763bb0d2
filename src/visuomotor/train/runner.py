"""The runner: one training loop for every algorithm. It owns time and the run directory; the agent owns
learning; a small step driver per kind of agent (``train/offpolicy.py``, ``onpolicy.py``, ``offline.py``)
owns the envs and turns "advance" into env steps, rollouts or dataset updates.

The runner sequences: restore (resume), config.yaml, the first evaluation, then until the driver's last
step: advance, and at their cadences a metrics row (with the divergence check), an evaluation of
``agent.policy()`` (best.pt when it is the best), a checkpoint (latest.pt, where the driver allows one:
an off-policy driver of one env at episode ends, so a resumed run continues exactly). An offline run
with --online-steps hands its agent and storage to an off-policy driver for a second phase. SIGINT and
SIGTERM stop at once with a checkpoint that holds the open episode.

Resume: latest.pt restores the step counter, the evaluation record, the clocks, the agent (networks,
optimizers, RNGs), torch's RNG and what the driver keeps (replay sampling RNG, episode index, the
open episode); the driver rebuilds its storage from the run directory.
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
from pathlib import Path

import torch

from visuomotor._malloc import tune_malloc
from visuomotor.algos import ALGORITHMS
from visuomotor.algos.base import Kind
from visuomotor.envs import make_env
from visuomotor.errors import VisuomotorError
from visuomotor.evaluate.plots import plot_run
from visuomotor.evaluate.rollout import evaluate
from visuomotor.fileio import DirLock, remove_stale_temps
from visuomotor.train.checkpoint import load_agent_state, load_checkpoint, nonfinite, save_checkpoint
from visuomotor.train.config import (TrainConfig, config_type, load_config, resolve, resolve_device, save_config, to_dict,
                                     validate)
from visuomotor.train.logger import Logger
from visuomotor.train.rundir import prepare_run_dir, versions

CHECKPOINT_VERSION = 1


class MetricMean:
    """The mean of each update metric since the last row, summed as one tensor (no host sync)."""

    def __init__(self):
        self.keys: list[str] = []
        self.sum: torch.Tensor | None = None
        self.n = 0

    def add(self, metrics: dict[str, torch.Tensor]) -> None:
        values = torch.stack([v.float() for v in metrics.values()])  # one add per update
        if self.sum is None or self.sum.shape != values.shape:  # (keys are fixed per agent)
            self.keys, self.sum, self.n = list(metrics), values, 0
        else:
            self.sum = self.sum + values
        self.n += 1

    def pop(self, step: int) -> dict[str, float]:
        """The means (one host sync), reset; a one-line error when any is not finite."""
        if not self.n:
            return {}
        values = (self.sum.float() / self.n).tolist()
        self.sum, self.n = None, 0
        bad = [k for k, v in zip(self.keys, values) if not math.isfinite(v)]
        if bad:  # fail loudly (the last checkpoint stays the last good state)
            raise VisuomotorError(f"training diverged at step {step}: non-finite {', '.join(bad)}")
        return dict(zip(self.keys, values))


def driver_for(runner: Runner):
    """The step driver of the run's agent kind."""
    kind = ALGORITHMS[runner.cfg.algo][0].kind
    if kind == Kind.OFFLINE:
        from visuomotor.train.offline import OfflineDriver

        return OfflineDriver(runner)
    if kind == Kind.ON_POLICY:
        from visuomotor.train.onpolicy import OnPolicyDriver

        return OnPolicyDriver(runner)
    from visuomotor.train.offpolicy import OffPolicyDriver

    return OffPolicyDriver(runner)


class Runner:
    """One run: device, evaluation env, the driver (which builds the envs, the agent and its storage),
    the clock and the run directory's files."""

    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg
        self.run_dir = Path(cfg.run_dir)
        self.device = resolve_device(cfg.device)
        self.threads = cfg.threads or os.cpu_count() or 1
        torch.set_num_threads(self.threads)
        self.malloc_tuned = tune_malloc() if self.device.type == "cpu" else False
        torch.manual_seed(cfg.seed)
        self.env_kw = cfg.env_kwargs()
        self.eval_env = make_env(cfg.env, seed=cfg.seed + 1, render_mode="rgb_array" if cfg.video else None,
                                 randomization=cfg.randomization(evaluation=True), **cfg.env_kwargs(evaluation=True))
        self.step = 0
        self.eval_round = 0
        self.best_eval = -math.inf
        self.last_eval = math.nan
        self.wall_offset = 0.0
        self.eval_time = 0.0  # wall seconds spent evaluating, so train_time excludes them
        self.checkpoint_step: int | None = None  # the step of the last latest.pt written or restored
        self.eval_pending = False  # an evaluation is due at this step (set until it completes)
        self._t0 = time.perf_counter()
        self.driver = driver_for(self)
        self.agent = self.driver.agent

    # ---- paths and clocks -----------------------------------------------------------------------
    @property
    def ckpt_dir(self) -> Path:
        return self.run_dir / "checkpoints"

    @property
    def episode_dir(self) -> Path:
        return self.run_dir / "episodes"

    def _wall(self) -> float:
        return self.wall_offset + (time.perf_counter() - self._t0)

    # ---- checkpoints ----------------------------------------------------------------------------
    def _finite(self, agent_state: dict) -> dict:
        """``agent_state``, or a one-line divergence error when it holds a NaN or an infinity: a checkpoint
        (latest or best) is never written of a diverged agent, so the last one stays the last good state."""
        bad = nonfinite(agent_state)
        if bad:
            kept = f"the last checkpoint (step {self.checkpoint_step}) is kept" if self.checkpoint_step is not None \
                else "no checkpoint was written"
            raise VisuomotorError(f"training diverged by step {self.step}: non-finite {', '.join(bad[:3])} in the "
                                  f"agent's state; {kept}")
        return agent_state

    def checkpoint(self) -> None:
        """latest.pt: counters, evaluation record, clocks, agent, torch RNG, config, and the driver's own."""
        save_checkpoint(self.ckpt_dir / "latest.pt", {
            "version": CHECKPOINT_VERSION, "step": self.step, "eval_round": self.eval_round,
            "best_eval": self.best_eval, "last_eval": self.last_eval, "wall_time": self._wall(),
            "eval_time": self.eval_time, "agent": self._finite(self.agent.state_dict()),
            "torch_rng": torch.get_rng_state(), "config": to_dict(self.cfg), "eval_pending": self.eval_pending,
            **self.driver.state(),
        })
        self.checkpoint_step = self.step

    def _restore(self) -> dict:
        """Continue from latest.pt (``prepare_run_dir`` has checked that there is one); returns it."""
        path = self.ckpt_dir / "latest.pt"
        state = load_checkpoint(path, map_location=self.device)
        load_agent_state(self.agent, state, path, f"this run's {self.cfg.algo} agent")
        torch.set_rng_state(state["torch_rng"].cpu())
        self.step, self.eval_round = int(state["step"]), int(state["eval_round"])
        self.best_eval, self.last_eval = float(state["best_eval"]), float(state["last_eval"])
        self.wall_offset, self.eval_time = float(state["wall_time"]), float(state.get("eval_time", 0.0))
        self.driver.restore(state)
        self.checkpoint_step = self.step
        self.eval_pending = bool(state.get("eval_pending", False))  # interrupted mid-evaluation: redo it
        return state

    # ---- evaluation -----------------------------------------------------------------------------
    def evaluate(self) -> None:
        video = self.run_dir / "videos" / f"step_{self.step:09d}.mp4" if self.cfg.video else None
        t0 = time.perf_counter()
        res = evaluate(self.agent, self.eval_env, self.cfg.eval_episodes, seed=self.cfg.seed,
                       round_index=self.eval_round, video_path=video)
        eval_seconds = time.perf_counter() - t0
        self.eval_round += 1
        summary = res.summary()
        summary.update(self.agent.after_evaluation(summary["mean_return"]))  # (JSRL: its curriculum's stage)
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
                "agent": self._finite(self.agent.policy_state_dict()), "config": to_dict(self.cfg),
            })
        self._plot()

    def _plot(self) -> None:
        ar = self.cfg.action_repeat
        plot_run(self.run_dir, title=f"{self.cfg.env}  {self.cfg.algo}  seed {self.cfg.seed}",
                 xlabel="env steps" if ar == 1 else f"policy steps (x{ar} simulator steps)")

    # ---- the loop -------------------------------------------------------------------------------
    def _save_config(self) -> None:
        spec = self.driver.spec
        save_config(self.run_dir / "config.yaml", self.cfg, {
            "device": str(self.device), "threads": self.threads,
            "observation_shape": list(spec.observation_space.shape), "action_shape": list(spec.action_space.shape),
            **self.driver.describe(), **self.agent.describe(),
            "malloc_tuned": self.malloc_tuned, "versions": versions(), "command": sys.argv,
        })

    def _record_length(self) -> None:
        """A resumed run given other --steps / --online-steps: config.yaml records the run's new length
        (a later --resume without --steps continues to it)."""
        path = self.run_dir / "config.yaml"
        stored, resolved = load_config(path)
        if (stored.steps, stored.online_steps) != (self.cfg.steps, self.cfg.online_steps):
            save_config(path, dataclasses.replace(stored, steps=self.cfg.steps, online_steps=self.cfg.online_steps),
                        resolved)

    def run(self) -> Path:
        cfg = self.cfg
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.driver.prepare()
        state = self._restore() if cfg.resume else None
        resumed = state is not None
        self.driver.start(resumed)
        while resumed and self.step >= self.driver.end_step:  # resumed after a finished phase (offline)
            following = self.driver.next_phase()
            if following is None:
                break
            self.driver = following
            following.prepare()
            following.restore(state)
            following.start(resumed)
        if not resumed:
            self._save_config()
        else:
            self._record_length()
        self.logger = Logger(self.run_dir, resume_step=self.step if resumed else (-1 if cfg.resume else None))
        self._t0 = time.perf_counter()
        end = self.driver.final_step
        self.eval_pending = self.eval_pending or not resumed  # (a fresh run evaluates at step 0)
        if self.step >= end and not self.eval_pending:
            print(f"[visuomotor] {self.run_dir} already at step {self.step} >= {end}; nothing to do")
            self.logger.close()
            return self.run_dir
        from tqdm import tqdm

        self.bar = tqdm(total=end, initial=self.step, unit=self.driver.unit, disable=not cfg.progress,
                        dynamic_ncols=True, mininterval=1.0 if sys.stderr.isatty() else 30.0, desc=self.driver.desc)
        if self.agent.describe().get("compile") and self.driver.learns_before(end):
            print(f"[visuomotor] --{cfg.algo}.compile on: the first update runs torch.compile "
                  f"(10-30 s on a CPU; --{cfg.algo}.compile False turns it off)")
        try:
            if self.eval_pending:
                self.evaluate()
                self.eval_pending = False
                if resumed:  # the redone evaluation is recorded: a later resume does not repeat it
                    self.checkpoint()
            self._loop()
        except KeyboardInterrupt as e:
            self.checkpoint()
            e.checkpoint_step = self.step  # (what the CLI tells the user)
            self.bar.close()
            self.logger.close()
            self.driver.close()
            raise
        self.driver.close()
        self.bar.update(self.step - self.bar.n)
        self.bar.close()
        self.logger.close()
        self.eval_env.close()
        self._plot()
        print(f"[visuomotor] done: {self.step} {self.driver.unit}s in {self._wall():.0f}s, last eval return "
              f"{self.last_eval:.1f}, best {self.best_eval:.1f} -> {self.run_dir}")
        return self.run_dir

    def _loop(self) -> None:
        cfg = self.cfg
        metrics = MetricMean()
        while True:
            driver = self.driver
            nxt = lambda every: (self.step // every + 1) * every  # noqa: E731
            next_log, next_eval, next_ckpt = nxt(cfg.log_every), nxt(cfg.eval_every), nxt(cfg.checkpoint_every)
            win_t, win_step = time.perf_counter(), self.step
            while self.step < driver.end_step:
                with signals_deferred():  # a step is stored whole: Ctrl-C/SIGTERM take effect after it
                    advanced = driver.advance()
                for m in advanced:
                    metrics.add(m)
                last = self.step >= driver.end_step
                if self.step >= next_log or last:
                    now = time.perf_counter()
                    rate = (self.step - win_step) / max(now - win_t, 1e-9)
                    row = {"wall_time": self._wall(), driver.rate_name: rate, **driver.log_row(),
                           **metrics.pop(self.step)}
                    self.logger.log(self.step, row)
                    win_t, win_step, next_log = now, self.step, nxt(cfg.log_every)
                    self.bar.set_postfix_str(f"{driver.rate_name.split('/')[-1]} {rate:.0f} | eval {self.last_eval:.1f}",
                                             refresh=False)
                    self.bar.update(self.step - self.bar.n)
                if self.step >= next_eval or last:
                    t_eval = time.perf_counter()
                    self.eval_pending = True  # (a checkpoint taken by Ctrl-C during it says so)
                    self.evaluate()
                    self.eval_pending = False
                    win_t += time.perf_counter() - t_eval  # rates count training time only
                    next_eval = nxt(cfg.eval_every)
                    self.bar.set_postfix_str(f"eval {self.last_eval:.1f}", refresh=False)
                if self.step >= next_ckpt and driver.can_checkpoint():
                    self.checkpoint()
                    next_ckpt = nxt(cfg.checkpoint_every)
            self.checkpoint()
            following = driver.next_phase()
            if following is None:
                return
            driver.close()
            self.driver = following
            following.prepare()
            following.start(resumed=False)


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: the run stops the way Ctrl-C stops it (checkpoint with the open episode)."""


class _Signals:
    """Ctrl-C and SIGTERM while a driver advances wait for the step to finish (``signals_deferred``)."""

    in_step = False
    deferred: type[KeyboardInterrupt] | None = None


@contextlib.contextmanager
def signals_deferred():
    """A block (one advance of the driver) that a stop signal does not cut in two: the signal is raised
    when the block ends, so a checkpoint never holds a step half stored (the transition recorded but
    the step counter not advanced)."""
    _Signals.in_step = True
    try:
        yield
    finally:
        _Signals.in_step = False
    if _Signals.deferred is not None:
        exc, _Signals.deferred = _Signals.deferred, None
        raise exc()


@contextlib.contextmanager
def stop_on_sigterm():
    """While training, SIGTERM (``kill``, a cluster scheduler's notice) stops the run like Ctrl-C (SIGINT):
    the runner writes a checkpoint that holds the episode in progress, so ``--resume`` loses nothing.
    Inside a step, either waits for the step to end. Only in the main thread (where Python runs signal
    handlers); elsewhere both keep their actions."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        exc = Terminated if signum == signal.SIGTERM else KeyboardInterrupt
        if _Signals.in_step:
            _Signals.deferred = exc
            return
        raise exc()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        _Signals.in_step, _Signals.deferred = False, None


def train_run(config: TrainConfig | None = None, **overrides) -> Path:
    """Train one run from a config (and/or keyword overrides of its fields); returns the run directory."""
    cfg = dataclasses.replace(config or config_type()(), **overrides)
    if cfg.run_dir is not None:
        cfg = dataclasses.replace(cfg, run_dir=Path(cfg.run_dir))
    if cfg.seeds is not None:
        raise VisuomotorError("--seeds trains a sweep of runs: use visuomotor.train or the CLI")
    validate(cfg)
    steps_given = cfg.steps is not None
    cfg = resolve(cfg)
    continues = (cfg.resume or cfg.restart) and cfg.run_dir is not None and cfg.run_dir.is_dir()
    if not continues:  # a new run: its directory picked and checked before anything is created
        cfg = prepare_run_dir(cfg, steps_given=steps_given)  # (a one-line error for --resume of a missing one)
    with DirLock(cfg.run_dir):  # one writer: a second train or resume of this directory fails at once
        stale = remove_stale_temps(cfg.run_dir, ("checkpoints", "episodes"))
        if stale:  # a writer killed mid-write (kill -9, power loss): its unfinished copies; the files stand
            print(f"[visuomotor] removed {len(stale)} unfinished temporary file(s) a stopped process left in "
                  f"{cfg.run_dir}: {', '.join(p.name for p in stale[:3])}", file=sys.stderr)
        if continues:  # checked (and on --restart set aside) while holding the lock
            cfg = prepare_run_dir(cfg, steps_given=steps_given)
        runner = Runner(cfg)
        with stop_on_sigterm():
            return runner.run()
