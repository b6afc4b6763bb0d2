"""Simba and SimbaV2 networks (nets/simba.py) and SAC with them (--sac.net): the layers against hand
computations, the hypersphere kept after optimizer steps, the reward scale, the distributional target,
the papers' settings, the learning-rate decay, and short runs through the CLI."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from visuomotor.algos.sac import SAC, SACConfig
from visuomotor.buffers.replay import Batch
from visuomotor.cli import main
from visuomotor.nets import distributional, simba

OBS = gym.spaces.Box(-1, 1, (5,), np.float32)
ACT = gym.spaces.Box(-1, 1, (2,), np.float32)
TINY = dict(widths=(8, 16), blocks=(1, 1), num_atoms=11, batch_size=16)


def batch(n=16, seed=0) -> Batch:
    g = torch.Generator().manual_seed(seed)
    return Batch(torch.randn(n, 5, generator=g), torch.rand(n, 2, generator=g) * 2 - 1, torch.rand(n, generator=g),
                 torch.randn(n, 5, generator=g), (torch.rand(n, generator=g) < 0.2).float())


def hyper_weights(module):
    return {n: m.weight for n, m in module.named_modules() if isinstance(m, simba.HyperLinear)}


def test_embedder_and_lerp_block_by_hand():
    torch.manual_seed(0)
    emb = simba.HyperEmbedder(2, 3, c_shift=3.0)
    x = torch.tensor([[3.0, 4.0]])
    shifted = torch.tensor([3.0, 4.0, 3.0]) / math.sqrt(34.0)  # [x, c_shift] on the unit sphere
    s = math.sqrt(2 / 3)  # the scaler's init: sqrt(2 / width)
    h = (emb.w.weight @ shifted) * s
    torch.testing.assert_close(emb(x)[0], h / h.norm())
    block = simba.HyperLERPBlock(3, blocks=1)
    hin = emb(x)
    mlp = block.w2.weight @ (torch.relu(block.w1.weight @ hin[0] * (s / 2)) + 1e-8)  # 4x expansion: scaler / 2
    mlp = mlp / mlp.norm()
    out = hin[0] + 0.5 * (mlp - hin[0])  # interpolation init 1 / (blocks + 1)
    torch.testing.assert_close(block(hin)[0], out / out.norm())
    assert torch.allclose(block(hin).norm(dim=-1), torch.ones(1))


def test_scaler_learns_at_the_rate_its_scale_sets():
    sc = simba.Scaler(4, init=0.5, scale=0.1)
    torch.testing.assert_close(sc(torch.ones(4)), torch.full((4,), 0.5))
    sc(torch.ones(4)).sum().backward()
    torch.testing.assert_close(sc.scaler.grad, torch.full((4,), 5.0))  # d/ds of s * init / scale


def test_simbav2_weight_rows_stay_on_the_unit_sphere_after_optimizer_steps():
    torch.manual_seed(0)
    agent = SAC(OBS, ACT, SACConfig(net="simbav2", **TINY).resolved())
    for module in (agent.actor, agent.critic):
        for w in hyper_weights(module).values():
            torch.testing.assert_close(w.norm(dim=1), torch.ones(w.shape[0]))
    before = {n: w.clone() for n, w in hyper_weights(agent.critic).items()}
    for _ in range(3):
        agent.update(batch())
    for module in (agent.actor, agent.critic):
        for name, w in hyper_weights(module).items():
            torch.testing.assert_close(w.norm(dim=1), torch.ones(w.shape[0]), msg=lambda m: f"{name}: {m}")
    assert any(not torch.equal(before[n], w) for n, w in hyper_weights(agent.critic).items())  # they did move


def test_reward_scaler_by_hand():
    sc = simba.RewardScaler(gamma=0.5, g_max=2.0)
    torch.testing.assert_close(sc.denominator(), torch.tensor(1.0))
    steps = [([1.0, 2.0], [False, True]), ([1.0, 4.0], [False, False]), ([2.0, -8.0], [True, False])]
    g, seen = np.zeros(2), []
    for r, ended in steps:
        g = 0.5 * g + np.asarray(r)
        seen += list(g)
        g[np.asarray(ended)] = 0.0
        sc.observe(torch.tensor(r), torch.tensor(ended))
    seen = np.asarray(seen)  # G: 1, 2 | 1.5, 4 | 2.75, -6
    assert sc.count.item() == 6 and sc.mean.item() == pytest.approx(seen.mean())
    assert sc.var.item() == pytest.approx(seen.var()) and sc.abs_max.item() == 6.0
    # max(std(G), max|G| / g_max) = max(3.06..., 3.0)
    assert sc.denominator().item() == pytest.approx(max(math.sqrt(seen.var() + 1e-8), 3.0), rel=1e-6)
    np.testing.assert_array_equal(sc.returns.numpy(), [0.0, -6.0])  # the first env's episode ended


def test_simbav2_critic_learns_the_projected_soft_target_of_the_lower_target_critic():
    torch.manual_seed(1)
    agent = SAC(OBS, ACT, SACConfig(net="simbav2", num_critics=2, bf16=False, **TINY).resolved())
    b, alpha = batch(), torch.tensor(0.3)
    state = agent.target_noise.get_state()
    loss, _ = agent.critic_loss(b, alpha)
    agent.target_noise.set_state(state)  # the same draws, by hand
    eps = torch.randn((16, 2), generator=agent.target_noise)
    with torch.no_grad():
        mean, log_std = agent.actor(b.next_obs)
        u = mean + log_std.exp() * eps
        logp = (torch.distributions.Normal(mean, log_std.exp()).log_prob(u) - torch.log(1 - torch.tanh(u) ** 2)).sum(-1)
        x = torch.cat([b.next_obs, torch.tanh(u)], -1)
        probs = [torch.softmax(m(x), -1) for m in agent.critic_target.members]
        means = torch.stack([(p * agent.z).sum(-1) for p in probs])
        p = torch.where((means[0] <= means[1])[:, None], probs[0], probs[1])
        d = 0.99 * (1 - b.terminated)
        target = distributional.project(p, b.reward - d * alpha * logp, d, agent.z)
        q = [torch.log_softmax(m(torch.cat([b.obs, b.action], -1)), -1) for m in agent.critic.members]
        expected = sum(-(target * qi).sum(-1).mean() for qi in q)
    torch.testing.assert_close(loss, expected, rtol=1e-4, atol=1e-4)


def test_the_papers_settings_fill_what_is_left_unset():
    from visuomotor.train.config import TrainConfig, resolve

    mlp = SACConfig().resolved()
    assert (mlp.actor_lr, mlp.init_alpha, mlp.log_std_min, mlp.obs_normalization, mlp.weight_decay) == (
        3e-4, 1.0, -20.0, False, 0.0)
    v2 = resolve(TrainConfig(env="dmc/walker-walk", algo="sac", sac=SACConfig(net="simbav2"))).sac
    assert (v2.actor_lr, v2.critic_lr, v2.init_alpha, v2.lr_final_ratio, v2.num_critics) == (1e-4, 1e-4, 0.01, 0.5, 1)
    assert v2.obs_normalization and v2.widths == (128, 512) and v2.blocks == (1, 2) and v2.g_max == 5.0
    gym_v2 = resolve(TrainConfig(env="gym/Hopper-v5", algo="sac", sac=SACConfig(net="simbav2"))).sac
    assert gym_v2.num_critics == 2  # episodes that terminate: clipped double Q
    v1 = resolve(TrainConfig(env="dmc/walker-walk", algo="sac", sac=SACConfig(net="simba"))).sac
    assert (v1.weight_decay, v1.lr_final_ratio, v1.num_critics) == (0.01, 1.0, 2)
    assert SAC(OBS, ACT, SACConfig(net="simba", **TINY).resolved()).target_entropy == -1.0  # -|A| / 2
    assert isinstance(SAC(OBS, ACT, SACConfig(net="simba", **TINY).resolved()).optimizer, torch.optim.AdamW)
    with pytest.raises(ValueError, match="net must be one of mlp, simba, simbav2, got 'resnet'"):
        SACConfig(net="resnet").check()


def test_learning_rates_decay_linearly_then_stay():
    agent = SAC(OBS, ACT, SACConfig(net="simbav2", lr_decay_updates=4, **TINY).resolved())
    lrs = []
    for _ in range(6):
        agent.update(batch())
        lrs.append(agent.optimizer.param_groups[0]["lr"])
    np.testing.assert_allclose(lrs, [1e-4, 0.875e-4, 0.75e-4, 0.625e-4, 0.5e-4, 0.5e-4], rtol=1e-9)


def test_observations_are_normalized_for_acting_learning_and_the_policy():
    torch.manual_seed(0)
    agent = SAC(OBS, ACT, SACConfig(net="simba", **TINY).resolved())
    x = torch.tensor([[10.0, 0, 0, 0, 0], [20.0, 0, 0, 0, 2]])
    agent.normalizer.update(x)
    torch.testing.assert_close(agent.normalizer(x)[:, 0], torch.tensor([-1.0, 1.0]), atol=1e-6, rtol=0)
    with torch.no_grad():
        expected = torch.tanh(agent.actor(agent.normalizer(x))[0])
        torch.testing.assert_close(agent.policy()(x), expected)
        assert not torch.allclose(torch.tanh(agent.actor(x)[0]), expected)
    np.testing.assert_allclose(agent.act(x.numpy(), explore=False), expected.numpy(), atol=1e-6)


def test_td3_with_simbav2_networks_keeps_the_sphere_and_learns_the_projected_target():
    from visuomotor.algos.td3 import TD3, TD3Config

    torch.manual_seed(2)
    agent = TD3(OBS, ACT, TD3Config(net="simbav2", widths=(8, 16), blocks=(1, 1), num_atoms=11, policy_freq=1).resolved())
    b = batch()
    obs, next_obs = agent.normalizer(b.obs), agent.normalizer(b.next_obs)
    state = agent.noise.get_state()
    loss, _ = agent.critic_loss(obs, next_obs, b)
    agent.noise.set_state(state)
    with torch.no_grad():  # by hand: smoothed target action, lower-mean target critic, projection
        noise = (torch.randn(b.action.shape, generator=agent.noise) * 0.2).clamp(-0.5, 0.5)
        next_a = (agent.actor_target(next_obs) + noise).clamp(-1, 1)
        probs = [torch.softmax(m(torch.cat([next_obs, next_a], -1)), -1) for m in agent.critic_target.members]
        means = [(p * agent.z).sum(-1) for p in probs]
        p = torch.where((means[0] <= means[1])[:, None], probs[0], probs[1])
        target = distributional.project(p, b.reward, 0.99 * (1 - b.terminated), agent.z)
        q = [torch.log_softmax(m(torch.cat([obs, b.action], -1)), -1) for m in agent.critic.members]
        expected = sum(-(target * qi).sum(-1).mean() for qi in q)
    torch.testing.assert_close(loss, expected)
    for _ in range(2):
        agent.update(batch(seed=3))
    for module in (agent.actor, agent.critic):
        for w in hyper_weights(module).values():
            torch.testing.assert_close(w.norm(dim=1), torch.ones(w.shape[0]))


@pytest.mark.parametrize("algo", ["sac", "td3"])
@pytest.mark.parametrize("net", ["simba", "simbav2"])
def test_simba_nets_train_through_the_cli(tmp_path, algo, net):
    run = tmp_path / net
    assert main(["train", "--env", "dmc/cartpole-swingup", "--action-repeat", "8", "--algo", algo, f"--{algo}.net", net,
                 f"--{algo}.widths", "8", "16", f"--{algo}.blocks", "1", "1", f"--{algo}.num-atoms", "11",
                 f"--{algo}.batch-size", "16", f"--{algo}.learning-starts", "100", "--steps", "250", "--eval-every",
                 "250", "--eval-episodes", "1", "--threads", "1", "--no-progress", "--no-video", "--run-dir", str(run)]) == 0
    state = torch.load(run / "checkpoints" / "latest.pt", weights_only=False)
    assert state["agent"]["updates"] == 150 and state["agent"]["normalizer"]["count"].item() == 250
    if net == "simbav2":  # every env step taken in by the reward scale
        assert state["agent"]["reward_scaler"]["count"].item() == 250
    if net == "simbav2" and algo == "sac":  # the decay over the run's 150 updates: the last one at 149/150
        assert state["agent"]["optimizer"]["param_groups"][0]["lr"] == pytest.approx(1e-4 * (1 - 0.5 * 149 / 150))
