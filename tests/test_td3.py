"""TD3: the update against a hand computation, delayed policy updates, the critic warm-up, acting,
state, and a run through the CLI (plain, resumed, and as the residual learner)."""

import copy
import csv

import gymnasium as gym
import numpy as np
import pytest
import torch

from tests.conftest import random_data_and_bc, run_cli
from visuomotor.algos.td3 import TD3, TD3Config
from visuomotor.buffers.replay import Batch

OBS = gym.spaces.Box(-np.inf, np.inf, (3,), np.float32)
ACT = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)


def _batch(b=16, seed=0, discount=None) -> Batch:
    g = torch.Generator().manual_seed(seed)
    return Batch(obs=torch.randn(b, 3, generator=g), action=torch.rand(b, 2, generator=g) * 2 - 1,
                 reward=torch.randn(b, generator=g), next_obs=torch.randn(b, 3, generator=g),
                 terminated=(torch.rand(b, generator=g) < 0.3).float(), discount=discount)


def _agent(**kw) -> TD3:
    torch.manual_seed(0)
    return TD3(OBS, ACT, TD3Config(hidden=(8, 8), **kw).resolved())


def _q(critic, s, a):
    """Each critic by hand: ReLU MLP on [s, a] with the ensemble's per-member weights."""
    x = torch.cat([s, a], -1)
    out = []
    for i in range(critic.n):
        h = x
        for j, layer in enumerate(critic.layers):
            h = h @ layer.weight[i] + layer.bias[i]
            if j < len(critic.layers) - 1:
                h = torch.relu(h)
        out.append(h.squeeze(-1))
    return torch.stack(out)


@pytest.mark.parametrize("n_step_discount", [False, True])
def test_td3_update_against_hand_computation(n_step_discount):
    agent = _agent()
    batch = _batch(discount=torch.rand(16) if n_step_discount else None)
    g = torch.Generator().manual_seed(0)
    g.set_state(agent.noise.get_state())
    with torch.no_grad():  # y = r + gamma (1 - d) min_i Qbar_i(s', clip(pibar(s') + clip(0.2 eps, +-0.5), +-1))
        eps = (torch.randn(16, 2, generator=g) * 0.2).clamp(-0.5, 0.5)
        next_a = (agent.actor_target(batch.next_obs) + eps).clamp(-1, 1)
        discount = batch.discount if n_step_discount else 0.99 * (1 - batch.terminated)
        y = batch.reward + discount * _q(agent.critic_target, batch.next_obs, next_a).min(0).values
        expected = (_q(agent.critic, batch.obs, batch.action) - y).pow(2).mean(-1).sum()
    m = agent.update(batch)
    torch.testing.assert_close(m["losses/critic"], expected)

    # the 2nd update steps the policy on J_pi = -E[Q_1(s, pi(s))] against the just-stepped critic
    actor_before = copy.deepcopy(agent.actor)
    target_before = [p.clone() for p in agent.critic_target.parameters()]
    m = agent.update(batch)
    with torch.no_grad():
        expected_pi = -_q(agent.critic, batch.obs, actor_before(batch.obs))[0].mean()
    torch.testing.assert_close(m["losses/actor"], expected_pi)
    for t0, t, p in zip(target_before, agent.critic_target.parameters(), agent.critic.parameters()):
        torch.testing.assert_close(t, t0 + 0.005 * (p - t0))  # Polyak with the policy update


def test_action_l2_pulls_the_policy_toward_zero_against_the_scaled_q_term():
    agent = _agent(action_l2=0.3)
    batch = _batch()
    loss, metrics = agent.policy_loss(batch.obs, batch)
    with torch.no_grad():
        pi = agent.actor(batch.obs)
        q1 = _q(agent.critic, batch.obs, pi)[0]
        expected = -q1.mean() / q1.abs().mean() + 0.3 * pi.pow(2).mean()
    torch.testing.assert_close(loss.detach(), expected)
    with pytest.raises(ValueError, match="action_l2"):
        from visuomotor.algos.td3bc import TD3BCConfig

        TD3BCConfig(action_l2=0.1).check()


def test_policy_and_targets_move_only_every_policy_freq_updates_and_after_the_critic_warmup():
    agent = _agent(critic_warmup=4)
    batch = _batch()

    def snap(m):
        return [p.clone() for p in m.parameters()]

    def same(a, b):
        return all(torch.equal(x, y) for x, y in zip(a, b))

    actor0, actor_t0, critic_t0 = snap(agent.actor), snap(agent.actor_target), snap(agent.critic_target)
    critic0 = snap(agent.critic)
    agent.update(batch)  # update 1: critic only, no target step
    assert not same(critic0, snap(agent.critic)) and same(critic_t0, snap(agent.critic_target))
    agent.update(batch)  # update 2: targets step, the policy is still warming up its critic
    assert same(actor0, snap(agent.actor)) and not same(critic_t0, snap(agent.critic_target))
    assert same(actor_t0, snap(agent.actor_target))  # (lerp toward an unchanged policy)
    for _ in range(2):
        agent.update(batch)  # updates 3-4: the warm-up's last
    assert same(actor0, snap(agent.actor))
    agent.update(batch)  # update 5: odd, no policy step
    assert same(actor0, snap(agent.actor))
    agent.update(batch)  # update 6: the first policy step
    assert not same(actor0, snap(agent.actor)) and not same(actor_t0, snap(agent.actor_target))


def test_acting_zero_output_and_state_roundtrip():
    agent = _agent(exploration_noise=0.1)
    obs = np.random.default_rng(0).normal(size=(4000, 3)).astype(np.float32)
    det = agent.act(obs, explore=False)
    np.testing.assert_allclose(det, agent.actor(torch.as_tensor(obs)).detach().numpy(), rtol=1e-6, atol=1e-6)
    noisy = agent.act(obs, explore=True)
    inside = np.abs(det) < 0.6  # away from the clip at +-1, the noise is N(0, 0.1)
    assert abs(float(np.std((noisy - det)[inside])) - 0.1) < 0.01 and np.abs(noisy).max() <= 1.0
    assert agent.act(obs[0], explore=False).shape == (2,)

    for _ in range(3):
        agent.update(_batch())
    twin = _agent(exploration_noise=0.1)
    twin.load_state_dict(copy.deepcopy(agent.state_dict()))
    np.testing.assert_array_equal(twin.act(obs, explore=False), agent.act(obs, explore=False))
    b = _batch(seed=5)
    torch.testing.assert_close(twin.update(b), agent.update(b))  # optimizer, noise and counter restored
    assert twin.updates == agent.updates == 4

    agent.zero_policy_output()  # the residual learner's start: pi(s) = 0 everywhere, its target too
    assert not agent.act(obs, explore=False).any() and not agent.actor_target(torch.as_tensor(obs)).any()


def test_same_seed_same_first_losses():
    a, b = _agent(), _agent()
    for s in range(3):
        torch.testing.assert_close(a.update(_batch(seed=s)), b.update(_batch(seed=s)))


@pytest.mark.parametrize("field, value", [("policy_freq", 0), ("critic_warmup", -1), ("exploration_noise", -0.1),
                                          ("num_critics", 0), ("n_step", 0), ("tau", 0.0)])
def test_bad_config_rejected(field, value):
    with pytest.raises(ValueError, match=field if field != "tau" else "tau"):
        TD3Config(**{field: value}).check()


def test_td3_through_the_cli_trains_resumes_and_learns_a_residual(tmp_path):
    target = "tests.test_ppo:target_env"
    common = ["train", "--env", target, "--algo", "td3", "--eval-every", "80", "--eval-episodes", "2", "--no-video",
              "--threads", "1", "--no-progress", "--td3.hidden", "16", "16", "--td3.batch-size", "32",
              "--td3.learning-starts", "40", "--seed", "0"]
    run = tmp_path / "td3"
    opts = ["--td3.n-step", "3", "--td3.layer-norm"]
    run_cli(*common, "--steps", "80", "--run-dir", run, *opts, check=True)
    run_cli(*common, "--steps", "160", "--run-dir", run, "--resume", *opts, check=True)
    ck = torch.load(run / "checkpoints" / "latest.pt", weights_only=False)
    assert ck["step"] == 160 and ck["agent"]["updates"] == 160 - 40
    from visuomotor import load_agent

    _, cfg, _ = load_agent(run)
    assert cfg.td3.n_step == 3 and cfg.td3.layer_norm
    bad = run_cli(*common, "--steps", "80", "--run-dir", tmp_path / "bad", "--td3.policy-freq", "0")
    assert bad.returncode != 0 and "policy_freq" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1

    # the residual learner: the first evaluation is the base policy's own
    bc = random_data_and_bc(tmp_path, target, episodes=6, eval_episodes=2)
    res = tmp_path / "res"
    run_cli(*common, "--steps", "120", "--run-dir", res, "--base-policy", bc, "--td3.critic-warmup", "20", check=True)
    from visuomotor import make_env
    from visuomotor.evaluate import evaluate

    base, _, _ = load_agent(bc)
    base_eval = evaluate(base, make_env(target, seed=1), 2, seed=0, round_index=0)  # the loop's first evaluation's episodes
    with open(res / "eval.csv", newline="") as f:
        first = next(csv.DictReader(f))
    assert float(first["mean_return"]) == pytest.approx(float(np.mean(base_eval.returns)), rel=1e-5)
