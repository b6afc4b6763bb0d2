"""The offline step driver (``--algo bc`` or ``td3bc`` with ``--data DIR``): gradient steps on a fixed
dataset, evaluated in the env.

``--steps`` counts gradient steps and the eval/checkpoint/log cadences count them too. The data is
checked against the env before any work and loaded once into the agent's storage (a replay of its
layout), where the agent fits what depends on it (TD3+BC's state statistics and PRDC's KD-tree);
a resumed run reloads it and restores the sampling RNG. With --online-steps the agent and its replay
(the dataset, with room for the new transitions) go on to an off-policy phase in the same run.
"""

from __future__ import annotations

import sys

import torch

from visuomotor.algos.base import EnvSpec
from visuomotor.buffers.datasets import load_replay
from visuomotor.train.build import build_agent
from visuomotor.train.driver import Driver
from visuomotor.train.rundir import open_run


class OfflineDriver(Driver):
    rate_name = "perf/updates_per_s"
    unit = "update"

    def __init__(self, runner):
        super().__init__(runner)  # (train.config.validate has checked that --data is given)
        cfg = runner.cfg
        self.spec = EnvSpec(runner.eval_env.observation_space, runner.eval_env.action_space)
        self.agent = build_agent(cfg, self.spec, runner.device)
        replay, self.episodes, self.transitions = load_replay(
            cfg.data, self.agent, cfg.env, runner.env_kw, cfg.seed,
            extra_capacity=cfg.online_steps, open_run=open_run)  # room for the online phase's transitions
        self.agent.use_storage(replay)
        print(f"[visuomotor] dataset: {self.episodes} episodes, {self.transitions} transitions from "
              f"{', '.join(map(str, cfg.data))}", file=sys.stderr)
        self.end_step = cfg.steps

    @property
    def desc(self) -> str:
        return f"{self.cfg.env} {self.cfg.algo} (offline)"

    @property
    def final_step(self) -> int:
        return self.cfg.steps + self.cfg.online_steps

    def describe(self) -> dict:
        return {"dataset_transitions": self.transitions, "dataset_episodes": self.episodes}

    def state(self) -> dict:
        return {"replay_rng": self.agent.storage.rng_state()}

    def restore(self, state: dict) -> None:
        self.agent.storage.set_rng_state(state["replay_rng"])

    def start(self, resumed: bool) -> None:
        self.agent.fit_dataset(fresh=not resumed)  # statistics fresh from the data, or restored

    def advance(self) -> list[dict[str, torch.Tensor]]:
        metrics = self.agent.update()
        self.runner.step += 1
        return [metrics]

    def next_phase(self):
        if not self.cfg.online_steps:
            return None
        from visuomotor.train.offpolicy import OffPolicyDriver

        print(f"[visuomotor] offline phase done at step {self.cfg.steps}; fine-tuning online for "
              f"{self.cfg.online_steps} env steps", file=sys.stderr)
        return OffPolicyDriver(self.runner, agent=self.agent, offset=self.cfg.steps)
