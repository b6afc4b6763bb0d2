"""Offline RL (TD3+BC, PRDC, MCEP, online fine-tuning), residual RL on a frozen policy, and JSRL."""

import copy
import csv

import gymnasium as gym
import numpy as np
import pytest
import torch

from tests.conftest import random_data_and_bc, run_cli
from visuomotor.algos.base import Policy
from visuomotor.algos.prior import JSRLAgent, ResidualAgent
from visuomotor.algos.sac import SAC, SACConfig
from visuomotor.algos.td3 import TD3, TD3Config
from visuomotor.algos.td3bc import TD3BC, DatasetKDTree, TD3BCConfig
from visuomotor.buffers.replay import ReplayBuffer

OBS = gym.spaces.Box(-np.inf, np.inf, (3,), np.float32)
ACT = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
TINY_TD3BC = ["--td3bc.hidden", "32", "32", "--td3bc.batch-size", "64"]
TARGET = "tests.test_ppo:target_env"


def _dataset(n=300, seed=0) -> ReplayBuffer:
    g = torch.Generator().manual_seed(seed)
    rb = ReplayBuffer(n, 3, 2, seed=seed)
    obs = torch.randn(n, 3, generator=g) * torch.tensor([1.0, 5.0, 0.1]) + torch.tensor([0.0, 2.0, -1.0])
    act = torch.rand(n, 2, generator=g) * 2 - 1
    rb.add_many(obs, act, torch.randn(n, generator=g), torch.randn(n, 3, generator=g), torch.zeros(n))
    return rb


# ---- TD3+BC / PRDC / MCEP --------------------------------------------------------------------------
def test_kdtree_penalty_target_is_the_brute_force_nearest_neighbour():
    rb = _dataset()
    torch.manual_seed(0)
    agent = TD3BC(OBS, ACT, TD3BCConfig(prdc=True, beta=2.0, hidden=(16, 16)).resolved())
    agent.use_storage(rb)
    agent.fit_dataset(fresh=True)
    s = agent.normalizer(rb.obs)  # the tree holds (beta * normalized s, a)
    q_obs, q_act = agent.normalizer(torch.randn(64, 3) * 2), torch.rand(64, 2) * 2 - 1
    keys = torch.cat([2.0 * s, rb.action], -1).double()
    query = torch.cat([2.0 * q_obs, q_act], -1).double()
    brute = torch.cdist(query, keys).argmin(1)
    assert torch.equal(agent.kdtree.nearest(q_obs, q_act), brute)
    torch.testing.assert_close(agent.kdtree.nearest_actions(q_obs, q_act), rb.action[brute])
    # the penalty the policy gets is the squared distance to that neighbour's action
    pi = torch.rand(64, 2) * 2 - 1
    expected = (pi - rb.action[DatasetKDTree(s, rb.action, 2.0).nearest(q_obs, pi)]).pow(2).mean()
    torch.testing.assert_close(agent._constraint(q_obs, pi, torch.zeros(64, 2)), expected)


def test_td3bc_normalizes_with_dataset_statistics_and_its_policy_loss_matches_the_paper():
    rb = _dataset()
    torch.manual_seed(1)
    agent = TD3BC(OBS, ACT, TD3BCConfig(hidden=(16, 16)).resolved())
    agent.use_storage(rb)
    agent.fit_dataset(fresh=True)
    torch.testing.assert_close(agent.normalizer.mean, rb.obs.mean(0))
    torch.testing.assert_close(agent.normalizer.std, rb.obs.std(0) + 1e-3)
    obs, a = agent.normalizer(rb.obs[:32]), rb.action[:32]
    loss, lam, constraint = agent._policy_loss(agent.actor, obs, a, 1.0)
    pi = agent.actor(obs)
    q1 = agent.critic(torch.cat([obs, pi], -1))[0].squeeze(-1)
    expected_lam = 2.5 / q1.abs().mean()
    torch.testing.assert_close(lam, expected_lam.detach())
    torch.testing.assert_close(loss, -expected_lam.detach() * q1.mean() + (pi - a).pow(2).mean())
    # the policy (and the targets) move every policy_freq-th update only; metrics keep their keys
    before = [p.clone() for p in agent.actor.parameters()]
    m1 = agent.update(rb.sample(32))
    assert all(torch.equal(p, b) for p, b in zip(agent.actor.parameters(), before))
    m2 = agent.update(rb.sample(32))
    assert not all(torch.equal(p, b) for p, b in zip(agent.actor.parameters(), before))
    assert list(m1) == list(m2) and all(torch.isfinite(v) for v in m2.values())


def test_mcep_evaluation_policy_acts_and_never_feeds_the_critic():
    rb = _dataset()
    torch.manual_seed(2)
    agent = TD3BC(OBS, ACT, TD3BCConfig(mcep=True, hidden=(16, 16)).resolved())
    agent.use_storage(rb)
    agent.fit_dataset(fresh=True)
    for _ in range(4):
        metrics = agent.update(rb.sample(32))
    assert "losses/eval_actor" in metrics
    o = rb.obs[:5].numpy()
    with torch.no_grad():
        np.testing.assert_allclose(agent.act(o, explore=False), agent.eval_actor(agent.normalizer(rb.obs[:5])).numpy())
        assert not np.allclose(agent.act(o, explore=False), agent.actor(agent.normalizer(rb.obs[:5])).numpy())
    # the critic's update is the same whatever the evaluation policy is: perturb it, compare critics
    twin = TD3BC(OBS, ACT, TD3BCConfig(mcep=True, hidden=(16, 16)).resolved())
    twin.load_state_dict(copy.deepcopy(agent.state_dict()))  # (a checkpoint's copy: no shared Adam step tensors)
    twin.use_storage(rb)
    twin.fit_dataset(fresh=True)
    with torch.no_grad():
        for p in twin.eval_actor.parameters():
            p.add_(1.0)
    batch = rb.sample(32)
    agent.update(batch), twin.update(batch)
    for p, q in zip(agent.critic.parameters(), twin.critic.parameters()):
        torch.testing.assert_close(p, q)


def test_td3bc_prdc_mcep_offline_then_online_through_the_cli_and_resume(tmp_path):
    data = tmp_path / "data"
    run_cli("collect", "--random", "--env", TARGET, "--episodes", "30", "-o", data, check=True)
    run = tmp_path / "td3bc"
    common = ["train", "--env", TARGET, "--algo", "td3bc", "--data", data, "--eval-every", "100", "--eval-episodes",
              "2", "--no-video", "--run-dir", run, "--threads", "1", "--no-progress", "--checkpoint-every", "100",
              "--log-every", "50", "--prdc", "--mcep", *TINY_TD3BC]
    run_cli(*common, "--steps", "200", check=True)
    ck = torch.load(run / "checkpoints" / "latest.pt", weights_only=True)
    assert ck["step"] == 200 and "eval_actor" in ck["agent"] and not list((run / "episodes").glob("*.npz"))
    # the same run continues online: the step counter goes on, new episodes are stored
    run_cli(*common, "--steps", "200", "--online-steps", "80", "--resume", check=True)
    ck = torch.load(run / "checkpoints" / "latest.pt", weights_only=True)
    assert ck["step"] == 280 and ck["episode_index"] == 10
    assert len(list((run / "episodes").glob("ep_*.npz"))) == 10
    with open(run / "eval.csv", newline="") as f:
        steps = [int(r["step"]) for r in csv.DictReader(f)]
    assert steps == [0, 100, 200, 280]
    import yaml

    stored = yaml.safe_load((run / "config.yaml").read_text())
    assert stored["td3bc"]["prdc"] is True and stored["td3bc"]["mcep"] is True
    bad = run_cli("train", "--env", TARGET, "--algo", "sac", "--online-steps", "10", "--run-dir", tmp_path / "x")
    assert bad.returncode != 0 and "--online-steps" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


# ---- residual RL -----------------------------------------------------------------------------------
class _Linear(Policy):
    """A stand-in frozen policy module: a = tanh(W s)."""

    def __init__(self, seed=0):
        super().__init__()
        self.w = torch.nn.Parameter(torch.randn(2, 3, generator=torch.Generator().manual_seed(seed)))

    def forward(self, obs):
        return torch.tanh(obs.float() @ self.w.T)

    def act(self, obs, explore=False):
        with torch.no_grad():
            return self(torch.as_tensor(np.asarray(obs), dtype=torch.float32)).numpy()


@pytest.mark.parametrize("learner", ["sac", "td3"])
def test_residual_policy_equals_the_base_policy_at_initialization_and_learns_the_applied_residual(learner):
    torch.manual_seed(3)
    base = _Linear()
    cls, cfg = (SAC, SACConfig(hidden=(16, 16)).resolved()) if learner == "sac" else (TD3, TD3Config(hidden=(16, 16)).resolved())
    agent = ResidualAgent(base, OBS, ACT, cls, cfg, "cpu", scale=0.1)
    obs = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32)
    np.testing.assert_array_equal(agent.act(obs, explore=False), base.act(obs))
    explored = agent.act(obs, explore=True)  # exploration stays within scale of the base action
    assert np.abs(explored - base.act(obs)).max() <= 0.1 + 1e-6 and not np.allclose(explored, base.act(obs))
    # the learner's batch: (s, a_b) observations, the residual that was applied
    rb = ReplayBuffer(20, 3, 2)
    applied = np.clip(base.act(obs) + 0.1 * np.linspace(-1, 1, 40).reshape(20, 2), -1, 1)
    rb.add_many(obs, applied, np.ones(20), obs[::-1].copy(), np.zeros(20))
    b = agent.learner_batch(rb.sample(8))
    a_b = torch.as_tensor(base.act(b.obs[:, :3]))
    torch.testing.assert_close(b.obs[:, 3:], a_b)
    torch.testing.assert_close(b.next_obs[:, 3:], torch.as_tensor(base.act(b.next_obs[:, :3])))
    torch.testing.assert_close(a_b + 0.1 * b.action, torch.as_tensor(np.clip(a_b.numpy() + 0.1 * b.action.numpy(), -1, 1)))
    assert agent.learner.critic.layers[0].weight.shape[1] == 3 + 2 + 2  # the critic sees s, a_b and r
    agent.update(rb.sample(8))  # runs
    assert not base.w.requires_grad  # the base is frozen
    # the policy module acts as act(explore=False) does
    with torch.no_grad():
        np.testing.assert_array_equal(agent.policy()(torch.as_tensor(obs)).numpy(), agent.act(obs, explore=False))
    nrb = ReplayBuffer(20, 3, 2, n_step=3)  # an n-step batch keeps its per-sample discount
    nrb.add_many(obs, applied, np.ones(20), obs[::-1].copy(), np.zeros(20))
    nb = nrb.sample(8)
    torch.testing.assert_close(agent.learner_batch(nb).discount, nb.discount)


def test_residual_and_jsrl_runs_through_the_cli(tmp_path):
    bc = random_data_and_bc(tmp_path, TARGET, episodes=10, eval_episodes=4)
    common = ["train", "--env", TARGET, "--algo", "sac", "--steps", "160", "--eval-every", "80", "--eval-episodes",
              "4", "--no-video", "--threads", "1", "--no-progress", "--sac.hidden", "16", "16", "--sac.batch-size",
              "32", "--sac.learning-starts", "40", "--seed", "0"]
    res = tmp_path / "res"
    run_cli(*common, "--run-dir", res, "--base-policy", bc, "--residual-scale", "0.2", "--sac.n-step", "3",
            check=True)  # (n-step returns through the residual learner's batches)
    from visuomotor import load_agent, make_env
    from visuomotor.evaluate import evaluate

    base, _, _ = load_agent(bc)
    base_eval = evaluate(base, make_env(TARGET, seed=1), 4, seed=0, round_index=0)
    with open(res / "eval.csv", newline="") as f:
        first = next(csv.DictReader(f))
    assert float(first["mean_return"]) == pytest.approx(float(np.mean(base_eval.returns)), rel=1e-5)  # starts at the base
    agent, cfg, _ = load_agent(res)  # a residual run loads as residual + its base
    assert isinstance(agent, ResidualAgent) and cfg.residual_scale == 0.2 and cfg.sac.n_step == 3
    run_cli("eval", res, "--episodes", "2", check=True)

    jsrl = tmp_path / "jsrl"
    run_cli(*common, "--run-dir", jsrl, "--guide-policy", bc, "--jsrl-horizon", "8", "--jsrl-stages", "4",
            "--jsrl-tolerance", "10", check=True)  # a huge tolerance: every evaluation after the first advances
    with open(jsrl / "eval.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["jsrl_h"]) for r in rows] == [6, 6, 4]
    agent, _, _ = load_agent(jsrl)
    assert isinstance(agent, JSRLAgent) and agent.h == 2
    bad = run_cli(*common, "--run-dir", tmp_path / "b", "--guide-policy", tmp_path / "nope")
    assert bad.returncode != 0 and "--guide-policy" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    bad = run_cli(*common, "--run-dir", tmp_path / "b2", "--base-policy", bc, "--guide-policy", bc)
    assert bad.returncode != 0 and "cannot be combined" in bad.stderr


# ---- JSRL ------------------------------------------------------------------------------------------
class _ConstPolicy(Policy):
    def __init__(self, value):
        super().__init__()
        self.value = value

    def forward(self, obs):
        return torch.full((obs.shape[0], 2), self.value)


class _Const:
    """A stand-in learner that always acts ``value`` (and explores at -value before learning starts)."""

    def __init__(self, value):
        self.value = value
        self.observation_space, self.action_space, self.device = OBS, ACT, torch.device("cpu")
        self.cfg = TD3Config()  # (resolved as built: nothing to fill)

    def act(self, obs, explore=False):
        return np.full(2, self.value, np.float32)

    def warmup_action(self, obs):
        return np.full(2, -self.value, np.float32)

    def policy(self):
        return _ConstPolicy(self.value)

    def set_step(self, step):
        pass


def _jsrl(h_stages=4, horizon=8, tolerance=0.05):
    return JSRLAgent(_ConstPolicy(-0.25), _Const(0.5), horizon, h_stages, tolerance)


def test_jsrl_switches_from_guide_to_learner_at_step_h():
    agent = _jsrl()
    obs = np.zeros(3, np.float32)
    assert agent.h == 6  # stage 1 of 4: H * 3/4
    agent.begin_episode(explore=True)
    acts = [agent.act(obs, explore=True)[0] for _ in range(8)]
    assert acts == [-0.25] * 6 + [0.5] * 2
    # evaluation's policy module keeps its own count (an evaluation in the middle of a training episode)
    agent.begin_episode(explore=True)
    agent.act(obs, explore=True)
    policy = agent.policy()
    policy.reset()
    assert [policy(torch.zeros(1, 3))[0, 0].item() for _ in range(7)] == [-0.25] * 6 + [0.5]
    assert [agent.act(obs, explore=True)[0] for _ in range(6)] == [-0.25] * 5 + [0.5]
    # warm-up: the guide for its h steps, the learner's uniform exploration after
    agent.begin_episode(explore=True)
    assert [agent.warmup_action(obs)[0] for _ in range(8)] == [-0.25] * 6 + [-0.5] * 2


def test_jsrl_curriculum_moves_on_when_the_return_holds_up():
    agent = _jsrl(h_stages=4, tolerance=0.1)
    assert agent.after_evaluation(100.0) == {"jsrl_h": 6, "jsrl_stage": 1}  # the first sets the reference
    assert agent.after_evaluation(80.0)["jsrl_h"] == 6 and agent.h == 6  # below 100 - 10: stays
    assert agent.after_evaluation(91.0)["jsrl_h"] == 6 and agent.h == 4  # within tolerance: next stage
    agent.after_evaluation(120.0), agent.after_evaluation(110.0)
    assert agent.h == 0 and agent.stage == 4  # the learner alone; it stays there
    agent.after_evaluation(500.0)
    assert agent.h == 0
    twin = _jsrl(h_stages=4)
    twin.learner.load_state_dict = lambda s: None
    agent.learner.state_dict = lambda: {}
    twin.load_state_dict(agent.state_dict())
    assert (twin.stage, twin.best, twin.h) == (4, 500.0, 0)
