"""FastSAC (``--algo fastsac``): each critic learns the projected soft target of its own target critic,
the temperature and delayed policy updates, the presets, exact resume, and a run with N envs."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

from tests.test_resume import COMMON, straight_and_split
from visuomotor.algos.fastsac import FastSAC, FastSACConfig
from visuomotor.buffers.replay import Batch
from visuomotor.cli import main
from visuomotor.nets import distributional

TINY = ["--fastsac.critic-hidden", "16", "16", "--fastsac.actor-hidden", "16", "16", "--fastsac.batch-size", "16",
        "--fastsac.num-atoms", "11", "--fastsac.buffer-size", "4000", "--fastsac.learning-starts", "40"]


def _agent(**kw) -> FastSAC:
    obs = gym.spaces.Box(-np.inf, np.inf, (3,), np.float32)
    act = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    torch.manual_seed(0)
    cfg = FastSACConfig(critic_hidden=(16,), actor_hidden=(16, 8), num_atoms=11, batch_size=8, bf16=False,
                        v_min=-5.0, v_max=5.0, **kw).resolved()
    return FastSAC(obs, act, cfg, num_envs=4)


def _batch(seed=0) -> Batch:
    g = torch.Generator().manual_seed(seed)
    return Batch(torch.randn(8, 3, generator=g), torch.rand(8, 2, generator=g) * 2 - 1, torch.rand(8, generator=g),
                 torch.randn(8, 3, generator=g), torch.tensor([0.0] * 7 + [1.0]))


def test_each_critic_learns_the_projected_soft_target_of_its_own_target_critic():
    agent = _agent()
    with torch.no_grad():  # make the target critics differ from the online ones and from each other
        for w in agent.critic_target.flat_params():
            w.add_(torch.randn(w.shape, generator=torch.Generator().manual_seed(w.numel())) * 0.3)
        agent.log_alpha.fill_(np.log(0.2))
    b = _batch()
    state = agent.noise.get_state()
    import copy

    before = [w.clone() for w in agent.critic.flat_params()]
    actor, target_critic = copy.deepcopy(agent.actor), copy.deepcopy(agent.critic_target)
    metrics = agent.update(b)
    agent.noise.set_state(state)
    with torch.no_grad():  # by hand, from the weights before the update and the same draws
        mean, log_std = actor(b.next_obs)
        eps = torch.randn(mean.shape, generator=agent.noise)
        u = mean + log_std.exp() * eps
        logp = (torch.distributions.Normal(mean, log_std.exp()).log_prob(u)
                - torch.log(1 - torch.tanh(u) ** 2 + 1e-6)).sum(-1)
        logits_next = target_critic(torch.cat([b.next_obs, torch.tanh(u)], -1))
        d = 0.99 * (1 - b.terminated)
        targets = [distributional.project(torch.softmax(lg, -1), b.reward - d * 0.2 * logp, d, agent.z)
                   for lg in logits_next]
        logits = agent.critic(torch.cat([b.obs, b.action], -1), before)
        expected = sum(-(t * torch.log_softmax(lg, -1)).sum(-1).mean() for t, lg in zip(targets, logits))
    torch.testing.assert_close(metrics["losses/critic"], expected)
    assert not torch.allclose(targets[0], targets[1])  # two different targets: no clipped double Q


def test_the_policy_learns_every_fourth_update_from_the_second_and_alpha_every_update():
    agent = _agent()
    actor_w = [p.clone() for p in agent.actor.parameters()]
    alphas, policy_steps = [], []
    for i in range(9):
        agent.update(_batch(i))
        moved = any(not torch.equal(a, p) for a, p in zip(actor_w, agent.actor.parameters()))
        policy_steps.append(moved)
        actor_w = [p.clone() for p in agent.actor.parameters()]
        alphas.append(agent.log_alpha.item())
    assert policy_steps == [True, False, False, False, True, False, False, False, True]  # updates 1, 5, 9
    assert len(set(alphas)) == 9  # the temperature moves every update


def test_presets_and_the_authors_settings():
    from visuomotor.train.config import TrainConfig, resolve

    cpu = resolve(TrainConfig(env="dmc/walker-walk", algo="fastsac")).fastsac
    assert (cpu.batch_size, cpu.updates_per_step, cpu.n_step, cpu.v_max, cpu.gamma) == (1024, 2, 3, 500.0, 0.99)
    assert (cpu.buffer_size, cpu.learning_starts, cpu.update_every) == (16 * 1024, 160, 16)
    assert (cpu.actor_hidden, cpu.critic_hidden) == ((256, 256), (256, 256))  # the cpu preset's smaller nets
    gpu = resolve(TrainConfig(env="playground/G1JoystickFlatTerrain", algo="fastsac", num_envs=1024,
                              fastsac=FastSACConfig(preset="gpu"))).fastsac
    assert (gpu.batch_size, gpu.updates_per_step, gpu.gamma, gpu.v_min, gpu.v_max, gpu.tau) == (
        8192, 8, 0.97, -20.0, 20.0, 0.125)
    assert (gpu.actor_hidden, gpu.critic_hidden) == ((512, 256, 128), (768, 384, 192))  # the authors'
    own = resolve(TrainConfig(env="dmc/walker-walk", algo="fastsac",
                              fastsac=FastSACConfig(critic_hidden=(64,)))).fastsac
    assert (own.actor_hidden, own.critic_hidden) == ((256, 256), (64,))  # a width given beats the preset's
    cheetah = resolve(TrainConfig(env="gym/HalfCheetah-v5", algo="fastsac")).fastsac
    hopper = resolve(TrainConfig(env="gym/Hopper-v5", algo="fastsac")).fastsac
    assert (cheetah.v_min, cheetah.v_max, cheetah.n_step, hopper.v_max) == (-1000.0, 1000.0, 1, 250.0)
    # the temperature: SimbaV2's on gym and DMC, the authors' on Playground and by default
    for c in (cpu, cheetah, hopper):
        assert (c.alpha_init, c.target_entropy_ratio) == (0.01, 0.5)
    assert (gpu.alpha_init, gpu.target_entropy_ratio) == (0.001, 0.0)
    given = resolve(TrainConfig(env="gym/Hopper-v5", algo="fastsac", fastsac=FastSACConfig(alpha_init=0.2))).fastsac
    assert (given.alpha_init, given.target_entropy_ratio) == (0.2, 0.5)  # a value given beats the task's
    act6 = gym.spaces.Box(-1.0, 1.0, (6,), np.float32)
    walker = FastSAC(gym.spaces.Box(-np.inf, np.inf, (24,), np.float32), act6, cpu, num_envs=2)
    assert walker.target_entropy == -3.0 and abs(walker.log_alpha.exp().item() - 0.01) < 1e-9
    agent = _agent()
    assert agent.target_entropy == 0.0 and abs(agent.log_alpha.exp().item() - 0.001) < 1e-9
    assert agent.actor_opt.defaults["betas"] == (0.9, 0.95) and agent.critic_opt.defaults["weight_decay"] == 0.001


def test_fastsac_resumes_exactly(tmp_path, drivers):
    args = ["--env", "dmc/cartpole-swingup", "--action-repeat", "8", "--algo", "fastsac", "--num-envs", "1", *TINY,
            *COMMON, "--eval-every", "125", "--checkpoint-every", "100", "--log-every", "50"]
    ckpt = straight_and_split(tmp_path, drivers, args, k=125, n=250)
    assert ckpt["step"] == 250 and ckpt["agent"]["updates"] > 0


def test_fastsac_trains_with_parallel_envs(tmp_path):
    run = tmp_path / "run"
    assert main(["train", "--env", "dmc/cartpole-swingup", "--action-repeat", "8", "--algo", "fastsac", "--num-envs",
                 "4", *TINY, *COMMON, "--steps", "400", "--eval-every", "400", "--run-dir", str(run)]) == 0
    state = torch.load(run / "checkpoints" / "latest.pt", weights_only=False)
    assert state["agent"]["updates"] == 2 * (400 - 40) // 4 and state["agent"]["normalizer"]["count"].item() == 400


def test_fast_agents_take_simba_networks():
    from visuomotor.algos.fasttd3 import FastTD3, FastTD3Config
    from visuomotor.nets import simba

    obs = gym.spaces.Box(-np.inf, np.inf, (3,), np.float32)
    act = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    for cls, cfg_cls in ((FastTD3, FastTD3Config), (FastSAC, FastSACConfig)):
        torch.manual_seed(0)
        agent = cls(obs, act, cfg_cls(net="simbav2", widths=(8, 16), blocks=(1, 1), num_atoms=11, batch_size=8,
                                      bf16=False, policy_frequency=1).resolved(), num_envs=2)
        assert isinstance(agent.critic, simba.NetEnsemble) and agent.critic(torch.zeros(5, 5)).shape == (2, 5, 11)
        for i in range(2):
            agent.update(_batch(i))
        for module in (agent.actor, agent.critic):
            for m in module.modules():
                if isinstance(m, simba.HyperLinear):
                    torch.testing.assert_close(m.weight.norm(dim=1), torch.ones(m.weight.shape[0]))
        assert agent.policy()(torch.zeros(4, 3)).shape == (4, 2)
