"""The on-policy training loop (PPO): rollouts from N parallel envs, then an update, repeated.

Same run directory, evaluation, logging and checkpoints as the off-policy loop (see ``loop.py``),
with two differences: ``--steps`` counts env steps summed over all envs and advances one rollout
(num_steps x num_envs) at a time, and no training episodes are stored (there is no replay to
rebuild). Checkpoints are taken between rollouts; a resumed run restores the step counter, the
agent (networks, normalizer statistics, optimizer, learning rate, shuffling RNG) and torch's RNG,
and starts fresh episodes in every env, seeded by the rollout index.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch

from visuomotor.algos import ALGORITHMS
from visuomotor.buffers.rollout import RolloutStorage
from visuomotor.envs.vector import make_vec_env
from visuomotor.errors import VisuomotorError
from visuomotor.evaluate.rollout import episode_seed
from visuomotor.train.config import TrainConfig
from visuomotor.train.loop import Trainer, collect_dr

CRITIC_OBS_KEY = "critic_obs"
"""An env that puts privileged observations in ``info["critic_obs"]`` (on reset and every step)
gets an asymmetric critic that sees those instead of the policy's observation."""


def _critic_obs(info: dict, n: int):
    if CRITIC_OBS_KEY not in info:
        return None
    mask = info.get(f"_{CRITIC_OBS_KEY}")
    if mask is not None and not bool(np.all(np.asarray(mask))):
        raise VisuomotorError(f"every env must provide info[{CRITIC_OBS_KEY!r}] on every step, or none")
    x = info[CRITIC_OBS_KEY]
    return x.reshape(n, -1) if isinstance(x, torch.Tensor) else np.asarray(x, dtype=np.float32).reshape(n, -1)


def _rows(x, idx: torch.Tensor):
    """Rows ``idx`` of a batch: a tensor, an array, or gymnasium's object array of per-env arrays."""
    if isinstance(x, torch.Tensor):
        return x[idx.to(x.device)]
    x = np.asarray(x)
    ids = idx.cpu().numpy()
    if x.dtype == object:
        return np.stack([np.asarray(x[i], dtype=np.float32).ravel() for i in ids])
    return x[ids]


class OnPolicyTrainer(Trainer):
    def __init__(self, cfg: TrainConfig):
        super().__init__(cfg)
        self.num_envs = int(cfg.num_envs)
        self.envs = make_vec_env(cfg.env, self.num_envs, seed=cfg.seed, vectorization=cfg.vectorization,
                                 threads=self.threads, device=self.device, randomization=cfg.randomization(),
                                 **self.env_kw)
        self.obs_space = self.envs.single_observation_space
        self.act_space = self.envs.single_action_space
        _, info = self.envs.reset(seed=episode_seed(cfg.seed, 0, 0))
        cobs = _critic_obs(info, self.num_envs)
        agent_cls, _ = ALGORITHMS[cfg.algo]
        self.agent = agent_cls(self.obs_space, self.act_space, self.algo_cfg, self.device,
                               critic_obs_dim=None if cobs is None else cobs.shape[1])
        self.acfg = self.agent.cfg  # resolved from the preset
        self.storage = RolloutStorage(self.acfg.num_steps, self.num_envs, self.agent.obs_dim, self.agent.act_dim,
                                      self.device, critic_obs_dim=self.agent.critic_obs_dim if cobs is not None else None)
        self.iteration = 0
        self.tensor_env = cfg.env.startswith("playground/")  # takes and returns torch tensors

    def _new_stats(self) -> dict:
        """Per-env running return/length (tensors) and the episodes finished since the last log row."""
        return {"ret": torch.zeros(self.num_envs, dtype=torch.float64, device=self.device),
                "len": torch.zeros(self.num_envs, dtype=torch.int64, device=self.device),
                "returns": [], "lengths": [], "dr": {}}

    # ---- state -------------------------------------------------------------------------------------
    def _checkpoint(self) -> None:
        self._save_state(iteration=self.iteration)

    def _restore(self) -> bool:
        state = self._load_state()
        if state is None:
            return False
        self.iteration = int(state["iteration"])
        return True

    # ---- one rollout -------------------------------------------------------------------------------
    def _collect(self, obs, cobs, stats: dict):
        """Fill the storage with num_steps steps of every env; returns the observations after them.

        Env outputs (numpy from gymnasium envs, torch tensors from Playground) become tensors on the
        agent's device at once; the bookkeeping stays in tensors."""
        agent, dev, gamma = self.agent, self.device, self.acfg.gamma
        as_t = lambda x, dt=torch.float32: torch.as_tensor(x, dtype=dt, device=dev)  # noqa: E731
        for _ in range(self.acfg.num_steps):
            out = agent.explore(as_t(obs), None if cobs is None else as_t(cobs))
            action = out["actions"].clamp(-1.0, 1.0)
            next_obs, reward, terminated, truncated, info = self.envs.step(
                action if self.tensor_env else action.cpu().numpy())
            next_cobs = _critic_obs(info, self.num_envs) if cobs is not None else None
            term, trunc = as_t(terminated, torch.bool), as_t(truncated, torch.bool)
            ended = term | trunc
            rewards = agent.scale_rewards(as_t(reward), ended)
            timeout = (trunc & ~term).nonzero().squeeze(1)
            if len(timeout):  # bootstrap a time limit from V(real last observation)
                final = (_rows(info["final_obs"], timeout) if cobs is None
                         else _rows(info["final_info"][CRITIC_OBS_KEY], timeout))
                rewards[timeout] += gamma * agent.value(as_t(final).reshape(len(timeout), -1))
            self.storage.add(out["obs"], out["actions"], out["log_probs"], out["values"], rewards, ended.float(),
                             out["mean"], out["std"], critic_obs=out["critic_obs"] if cobs is not None else None)
            stats["ret"] += as_t(reward, torch.float64)
            stats["len"] += 1
            done = ended.nonzero().squeeze(1)
            if len(done):
                stats["returns"] += stats["ret"][done].tolist()
                stats["lengths"] += stats["len"][done].tolist()
                stats["ret"][done] = 0.0
                stats["len"][done] = 0
                collect_dr(info, stats["dr"], ended.cpu().numpy())
            obs, cobs = next_obs, next_cobs
        last = agent.value(as_t(obs if cobs is None else cobs))
        self.storage.compute_returns(last, gamma, self.acfg.gae_lambda)
        return obs, cobs

    # ---- main loop ---------------------------------------------------------------------------------
    def run(self) -> Path:
        cfg, acfg = self.cfg, self.acfg
        self.run_dir.mkdir(parents=True, exist_ok=True)
        resumed = self._restore() if cfg.resume else False
        per_iter = acfg.num_steps * self.num_envs
        bar = self._start(resumed, self.obs_space, self.act_space, f"{cfg.env} {cfg.algo} x{self.num_envs}",
                          num_envs=self.num_envs, rollout_steps=per_iter, minibatches=acfg.minibatches_for(self.num_envs),
                          critic_obs_dim=self.agent.critic_obs_dim if self.agent.asymmetric else None)
        if bar is None:
            return self.run_dir
        nxt = lambda every: (self.step // every + 1) * every  # noqa: E731
        next_log, next_eval, next_ckpt = nxt(cfg.log_every), nxt(cfg.eval_every), nxt(cfg.checkpoint_every)

        obs, info = self.envs.reset(seed=episode_seed(cfg.seed, 0, self.iteration))
        cobs = _critic_obs(info, self.num_envs) if self.agent.asymmetric else None
        stats = self._new_stats()
        collect_dr(info, stats["dr"], np.ones(self.num_envs, bool))
        metric_sum, n_updates, collect_s, learn_s = None, 0, 0.0, 0.0
        win_t, win_step = time.perf_counter(), self.step
        try:
            while self.step < cfg.steps:
                self.agent.set_step(self.step)
                t0 = time.perf_counter()
                obs, cobs = self._collect(obs, cobs, stats)
                t1 = time.perf_counter()
                metrics = self.agent.update(self.storage)
                t2 = time.perf_counter()
                collect_s, learn_s = collect_s + t1 - t0, learn_s + t2 - t1
                values = torch.stack([v.float() for v in metrics.values()])
                metric_sum = values if metric_sum is None else metric_sum + values
                n_updates += 1
                self.step += per_iter
                self.iteration += 1

                if self.step >= next_log or self.step >= cfg.steps:
                    now = time.perf_counter()
                    sps = (self.step - win_step) / max(now - win_t, 1e-9)
                    row = {"wall_time": self._wall(), "perf/sps": sps, "perf/collect_share": collect_s / max(
                        collect_s + learn_s, 1e-9), "charts/iterations": self.iteration,
                        "charts/env_frames": self.step * cfg.action_repeat}
                    if stats["returns"]:
                        row["charts/episode_return"] = float(np.mean(stats["returns"]))
                        row["charts/episode_length"] = float(np.mean(stats["lengths"]))
                    vals = (metric_sum / n_updates).tolist()
                    bad = [k for k, v in zip(metrics.keys(), vals) if not math.isfinite(v)]
                    if bad:
                        raise VisuomotorError(f"training diverged at step {self.step}: non-finite {', '.join(bad)}")
                    row.update(zip(metrics.keys(), vals))
                    row.update({k: float(np.mean(v)) for k, v in stats["dr"].items() if v})
                    self.logger.log(self.step, row)
                    metric_sum, n_updates, collect_s, learn_s = None, 0, 0.0, 0.0
                    stats["returns"], stats["lengths"], stats["dr"] = [], [], {}
                    win_t, win_step, next_log = now, self.step, nxt(cfg.log_every)
                    bar.set_postfix_str(f"sps {sps:.0f} | eval {self.last_eval:.1f}", refresh=False)
                    bar.update(self.step - bar.n)

                if self.step >= next_eval or self.step >= cfg.steps:
                    t_eval = time.perf_counter()
                    self._evaluate()
                    win_t += time.perf_counter() - t_eval  # env-steps/s counts training time only
                    next_eval = nxt(cfg.eval_every)
                    bar.set_postfix_str(f"eval {self.last_eval:.1f}", refresh=False)

                if self.step >= next_ckpt:
                    self._checkpoint()
                    next_ckpt = nxt(cfg.checkpoint_every)
        except KeyboardInterrupt:
            self.storage.clear()
            self._checkpoint()
            bar.close()
            self.logger.close()
            self.envs.close()
            raise
        self._checkpoint()
        self.envs.close()
        return self._finish(bar)
