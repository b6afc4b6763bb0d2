"""Adding an algorithm is one file plus one registry line: this file defines a small new one (DDPG,
Lillicrap et al. 2016, in a few dozen lines), registers it, and trains it through ``visuomotor.train``
with a run directory, evaluation, a checkpoint, resume and loading back, touching no library file."""

from __future__ import annotations

import copy
import csv
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import nn

import visuomotor
from visuomotor.algos import ALGORITHMS
from visuomotor.algos.base import Agent, OffPolicyConfig, Policy
from visuomotor.nets.mlp import mlp
from visuomotor.train.config import load_config

ENV = "tests.test_ppo:target_env"  # 8-step episodes: match a target drawn per episode


@dataclass
class DDPGConfig(OffPolicyConfig):
    """DDPG hyperparameters."""

    learning_starts: int = 32
    """Env steps of uniform random actions first."""
    batch_size: int = 32
    """Transitions per update."""
    gamma: float = 0.99
    """Discount factor."""
    tau: float = 0.01
    """Polyak step of the target networks."""
    lr: float = 1e-3
    """Adam learning rate of actor and critic."""
    noise: float = 0.2
    """Std of the Gaussian exploration noise."""
    hidden: tuple[int, ...] = (32, 32)
    """Hidden widths of actor and critic."""


class DDPGPolicy(Policy):
    def __init__(self, actor: nn.Module):
        super().__init__()
        self.actor = actor

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.actor(obs.float())


class DDPG(Agent):
    """y = r + gamma (1 - d) Q'(s', mu'(s')); J_Q = E[(Q(s, a) - y)^2]; J_mu = -E[Q(s, mu(s))]; Polyak targets."""

    def __init__(self, observation_space, action_space, cfg: DDPGConfig, device="cpu"):
        super().__init__(observation_space, action_space, cfg, device)
        obs_dim, act_dim = observation_space.shape[0], action_space.shape[0]
        self.actor = nn.Sequential(mlp(obs_dim, cfg.hidden, act_dim), nn.Tanh()).to(self.device)
        self.critic = mlp(obs_dim + act_dim, cfg.hidden, 1).to(self.device)
        self.actor_target, self.critic_target = copy.deepcopy(self.actor), copy.deepcopy(self.critic)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=cfg.lr)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=cfg.lr)

    @torch.no_grad()
    def act(self, obs, explore: bool) -> np.ndarray:
        a = self.actor(torch.as_tensor(np.asarray(obs), dtype=torch.float32, device=self.device))
        if explore:
            a = (a + self.cfg.noise * torch.randn_like(a)).clamp(-1.0, 1.0)
        return a.cpu().numpy()

    def policy(self) -> DDPGPolicy:
        return DDPGPolicy(self.actor)

    def update(self, batch=None) -> dict[str, torch.Tensor]:
        b = self.sample() if batch is None else batch
        with torch.no_grad():
            q_next = self.critic_target(torch.cat([b.next_obs, self.actor_target(b.next_obs)], -1)).squeeze(-1)
            y = b.reward + b.bootstrap_discount(self.cfg.gamma) * q_next
        critic_loss = (self.critic(torch.cat([b.obs, b.action], -1)).squeeze(-1) - y).pow(2).mean()
        self.critic_opt.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_opt.step()
        actor_loss = -self.critic(torch.cat([b.obs, self.actor(b.obs)], -1)).mean()
        self.actor_opt.zero_grad(set_to_none=True)
        actor_loss.backward()  # (the critic's gradients from it are cleared before its next step)
        self.actor_opt.step()
        with torch.no_grad():
            for net, target in ((self.actor, self.actor_target), (self.critic, self.critic_target)):
                torch._foreach_lerp_(list(target.parameters()), list(net.parameters()), self.cfg.tau)
        return {"losses/critic": critic_loss.detach(), "losses/actor": actor_loss.detach()}

    def state_dict(self) -> dict:
        return {k: getattr(self, k).state_dict() for k in PARTS}

    def load_state_dict(self, state: dict) -> None:
        for k, v in state.items():
            getattr(self, k).load_state_dict(v)


PARTS = ("actor", "critic", "actor_target", "critic_target", "actor_opt", "critic_opt")


@pytest.fixture
def ddpg(monkeypatch):
    monkeypatch.setitem(ALGORITHMS, "ddpg", (DDPG, DDPGConfig))  # the one registry line
    return DDPGConfig(hidden=(16, 16))


def test_a_new_algorithm_trains_evaluates_checkpoints_resumes_and_loads(tmp_path, ddpg):
    run = tmp_path / "ddpg"
    kw = dict(env=ENV, algo="ddpg", run_dir=run, seed=0, eval_every=64, checkpoint_every=64, log_every=32,
              eval_episodes=3, video=False, progress=False, threads=1, algo_configs={"ddpg": ddpg})
    assert visuomotor.train(steps=128, **kw) == run
    for name in ("config.yaml", "metrics.csv", "eval.csv", "curves.png", "checkpoints/latest.pt",
                 "checkpoints/best.pt"):
        assert (run / name).is_file(), name
    assert len(list((run / "episodes").glob("ep_*.npz"))) == 16
    with open(run / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["step"] for r in rows] == ["32", "64", "96", "128"] and rows[-1]["losses/critic"] != ""
    cfg, _ = load_config(run / "config.yaml")
    assert cfg.algo_config() == ddpg  # its section round-trips through config.yaml

    visuomotor.train(steps=192, resume=True, **kw)  # continue the run
    with open(run / "eval.csv", newline="") as f:
        assert [r["step"] for r in csv.DictReader(f)] == ["0", "64", "128", "192"]
    ck = torch.load(run / "checkpoints" / "latest.pt", weights_only=True)
    assert ck["step"] == 192 and set(ck["agent"]) == set(PARTS)

    agent, cfg, step = visuomotor.load_agent(run)
    assert isinstance(agent, DDPG) and step == 192
    res = visuomotor.evaluate(agent, visuomotor.make_env(ENV, seed=5), 3, seed=5)
    assert len(res.returns) == 3 and np.isfinite(res.returns).all()
    # and it exports with no code of its own (its Policy is plain torch)
    from visuomotor.deploy.export import export_run

    meta = export_run(run, fmt="torchscript", output=tmp_path / "export", samples=16, log=lambda m: None)
    assert meta["verification"]["max_abs_difference"]["torchscript"]["action"] <= 1e-5
    assert (tmp_path / "export" / "policy.pt").is_file()


def test_a_registered_algorithm_gets_its_flags_and_checks_from_the_cli(tmp_path, ddpg, capsys):
    """The registry line alone gives `visuomotor train` the --ddpg.* flags (documented in --help), its
    section of config.yaml, and the one-line checks every section gets."""
    import yaml

    from visuomotor.cli import main

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "--ddpg.noise" in capsys.readouterr().out
    run = tmp_path / "cli"
    args = ["train", "--env", ENV, "--algo", "ddpg", "--run-dir", str(run), "--steps", "64", "--eval-every", "64",
            "--eval-episodes", "1", "--no-video", "--no-progress", "--threads", "1"]
    assert main([*args, "--ddpg.hidden", "8", "8", "--ddpg.noise", "0.3"]) == 0
    section = yaml.safe_load((run / "config.yaml").read_text())["ddpg"]
    assert section["hidden"] == [8, 8] and section["noise"] == 0.3
    cfg, _ = load_config(run / "config.yaml")
    assert cfg.algo_config() == DDPGConfig(hidden=(8, 8), noise=0.3)
    assert main([*args, "--run-dir", str(tmp_path / "bad"), "--ddpg.tau", "nan"]) == 2  # checked like every section
    assert "--ddpg.tau must be a finite number" in capsys.readouterr().err
