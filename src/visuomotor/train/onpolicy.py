"""The on-policy step driver (PPO): rollouts of N parallel envs, then an update, repeated.

``--steps`` counts env steps summed over all envs and advances one rollout (rollout_steps x num_envs)
at a time; no training episodes are stored (there is no replay to rebuild). The agent keeps the
rollout and does its own bootstrapping (time limits from the real final observation, GAE); this
driver hands it each step's transitions, with the privileged observations an env offers in
``info["critic_obs"]`` for an asymmetric critic. Checkpoints are taken between rollouts; a resumed run
restores the agent (networks, normalizer statistics, optimizer, learning rate, shuffling RNG) and
torch's RNG, and starts fresh episodes in every env, seeded by the rollout index.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from visuomotor.algos.base import EnvSpec, Transitions
from visuomotor.envs import backend_of
from visuomotor.envs.vector import make_vec_env
from visuomotor.errors import VisuomotorError, env_call
from visuomotor.evaluate.rollout import episode_seed
from visuomotor.train.build import build_agent
from visuomotor.train.driver import Driver, EpisodeStats, check_finite, merge_rows, nonfinite_flag

CRITIC_OBS_KEY = "critic_obs"
"""An env that puts privileged observations in ``info["critic_obs"]`` (on reset and every step)
gets an asymmetric critic that sees those instead of the policy's observation."""


def critic_obs(info: dict, n: int):
    """The privileged observations [N, D] of a vector env's info, or None when it offers none."""
    if CRITIC_OBS_KEY not in info:
        return None
    mask = info.get(f"_{CRITIC_OBS_KEY}")
    if mask is not None and not bool(np.all(np.asarray(mask))):
        raise VisuomotorError(f"every env must provide info[{CRITIC_OBS_KEY!r}] on every step, or none")
    x = info[CRITIC_OBS_KEY]
    return x.reshape(n, -1) if isinstance(x, torch.Tensor) else np.asarray(x, dtype=np.float32).reshape(n, -1)


class OnPolicyDriver(Driver):
    def __init__(self, runner):
        super().__init__(runner)
        cfg = runner.cfg
        self.num_envs = int(cfg.num_envs)
        self.envs = make_vec_env(cfg.env, self.num_envs, seed=cfg.seed, vectorization=cfg.vectorization,
                                 threads=runner.threads, device=runner.device, randomization=cfg.randomization(),
                                 **runner.env_kw)
        _, info = self.envs.reset(seed=episode_seed(cfg.seed, 0, 0))
        cobs = critic_obs(info, self.num_envs)
        self.spec = EnvSpec(self.envs.single_observation_space, self.envs.single_action_space, self.num_envs,
                            None if cobs is None else cobs.shape[1])
        self.agent = build_agent(cfg, self.spec, runner.device)
        self.agent.build_storage(self.spec, 0, cfg.seed)
        self.acfg = self.agent.cfg  # resolved from the preset
        self.asymmetric = cobs is not None
        self.per_iter = self.agent.rollout_steps * self.num_envs
        self.end_step = cfg.steps
        self.iteration = 0
        self.tensor_env = backend_of(cfg.env).tensor_native  # takes and returns torch tensors
        self.collect_s = self.learn_s = 0.0

    @property
    def desc(self) -> str:
        return f"{self.cfg.env} {self.cfg.algo} x{self.num_envs}"

    def describe(self) -> dict:
        return {"num_envs": self.num_envs, "rollout_steps": self.per_iter,
                "minibatches": self.acfg.minibatches_for(self.num_envs),
                "critic_obs_dim": self.spec.critic_obs_dim}

    def state(self) -> dict:
        return {"iteration": self.iteration}

    def restore(self, state: dict) -> None:
        self.iteration = int(state["iteration"])

    def start(self, resumed: bool) -> None:
        self.obs, info = env_call(self.cfg.env, self.runner.step, self.envs.reset,
                                  seed=episode_seed(self.cfg.seed, 0, self.iteration))
        self.cobs = critic_obs(info, self.num_envs) if self.asymmetric else None
        self.stats = EpisodeStats(self.num_envs, self.runner.device if self.tensor_env else None)
        self.stats.started(info, np.ones(self.num_envs, bool))

    def _collect(self) -> None:
        """One rollout: rollout_steps steps of every env into the agent's storage. Env outputs (numpy
        from gymnasium envs, torch tensors from Playground) become tensors on the agent's device."""
        agent, dev, n = self.agent, self.runner.device, self.num_envs
        as_t = lambda x: torch.as_tensor(x, dtype=torch.float32, device=dev)  # noqa: E731
        obs, cobs = self.obs, self.cobs
        bad = torch.zeros((), dtype=torch.bool, device=dev)  # a tensor env's non-finite output (checked once)
        for t in range(agent.rollout_steps):
            action = agent.act_rollout(as_t(obs), None if cobs is None else as_t(cobs))
            next_obs, reward, terminated, truncated, info = env_call(
                self.cfg.env, self.runner.step + (t + 1) * n, self.envs.step,
                action if self.tensor_env else action.cpu().numpy())
            mask = info.get("_final_obs")
            final = next_obs if mask is None else merge_rows(next_obs, info["final_obs"], mask)
            if self.tensor_env:
                bad = bad | nonfinite_flag(reward, final)
            else:
                check_finite(self.cfg.env, self.runner.step + (t + 1) * n, reward, final)
            next_cobs = final_cobs = None
            if cobs is not None:
                next_cobs = critic_obs(info, n)
                final_cobs = next_cobs if mask is None else merge_rows(
                    next_cobs, info["final_info"][CRITIC_OBS_KEY], mask)
            agent.observe(Transitions(obs, action, reward, next_obs, final, terminated, truncated, next_cobs,
                                      final_cobs))
            ended = (torch.as_tensor(terminated, device=dev) | torch.as_tensor(truncated, device=dev)) \
                if self.tensor_env else np.asarray(terminated) | np.asarray(truncated)
            if self.stats.step(reward, ended):  # episodes ended (and the next ones began)
                self.stats.started(info, torch.as_tensor(ended).cpu().numpy())
            obs, cobs = next_obs, next_cobs
        if self.tensor_env and bool(bad):
            raise VisuomotorError(f"env {self.cfg.env} returned a non-finite reward or observation in the rollout of "
                                  f"steps {self.runner.step + n}-{self.runner.step + self.per_iter}; the last "
                                  f"checkpoint is intact")
        self.obs, self.cobs = obs, cobs

    def advance(self) -> list[dict[str, torch.Tensor]]:
        self.agent.set_step(self.runner.step)
        t0 = time.perf_counter()
        self._collect()
        t1 = time.perf_counter()
        metrics = self.agent.update()
        self.collect_s += t1 - t0
        self.learn_s += time.perf_counter() - t1
        self.runner.step += self.per_iter
        self.iteration += 1
        return [metrics]

    def log_row(self) -> dict:
        row = {"perf/collect_share": self.collect_s / max(self.collect_s + self.learn_s, 1e-9),
               "charts/iterations": self.iteration, "charts/env_frames": self.runner.step * self.cfg.action_repeat,
               **self.stats.row()}
        self.collect_s = self.learn_s = 0.0
        return row

    def close(self) -> None:
        self.envs.close()
