"""FastTD3 (``--algo fasttd3``): per-env exploration noise scales, the clipped double-Q choice between two
distributional targets, the delayed policy update, and exact resume."""

from __future__ import annotations

import types

import gymnasium as gym
import numpy as np
import torch

from tests.test_resume import COMMON, straight_and_split
from visuomotor.algos.base import Transitions
from visuomotor.algos.fasttd3 import FastTD3, FastTD3Config
from visuomotor.nets import distributional

TINY = ["--fasttd3.critic-hidden", "16", "16", "--fasttd3.actor-hidden", "16", "--fasttd3.batch-size", "16",
        "--fasttd3.num-atoms", "11", "--fasttd3.buffer-size", "4000", "--fasttd3.learning-starts", "40"]


def _agent(num_envs=64, **kw) -> FastTD3:
    obs = gym.spaces.Box(-np.inf, np.inf, (3,), np.float32)
    act = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    torch.manual_seed(0)
    cfg = FastTD3Config(critic_hidden=(16,), actor_hidden=(16,), num_atoms=11, batch_size=8, bf16=False, **kw).resolved()
    return FastTD3(obs, act, cfg, num_envs=num_envs)


def test_each_env_explores_with_its_own_noise_scale_drawn_in_range_and_redrawn_at_its_episode_end():
    agent = _agent(std_min=0.05, std_max=0.8)
    s = agent.noise_scales.squeeze(1)
    assert s.shape == (64,) and (s >= 0.05).all() and (s <= 0.8).all() and s.std() > 0.1  # spread over the range
    zero = np.zeros((64, 3), np.float32)
    with torch.no_grad():
        torch.nn.init.zeros_(agent.actor.net[-1].weight)  # pi(s) = 0: the action is the noise
    draws = np.stack([agent.act(zero, explore=True) for _ in range(400)])  # [400, 64, 2]
    measured = torch.as_tensor(draws.std(axis=(0, 2)), dtype=torch.float32)
    small = s < 0.5  # (large scales are clipped at +-1)
    assert torch.allclose(measured[small], s[small], rtol=0.12)
    from visuomotor.algos.base import EnvSpec

    agent.build_storage(EnvSpec(agent.observation_space, agent.action_space, 64), 640, 0)
    ended = np.zeros(64, bool)
    ended[[3, 10]] = True
    agent.observe(Transitions(zero, np.zeros((64, 2), np.float32), np.zeros(64, np.float32), zero, zero,
                              ended & False, ended))
    after = agent.noise_scales.squeeze(1)
    assert (after[~torch.as_tensor(ended)] == s[~torch.as_tensor(ended)]).all()
    assert (after[[3, 10]] != s[[3, 10]]).all() and ((after >= 0.05) & (after <= 0.8)).all()


def test_clipped_double_q_gives_both_critics_the_target_of_the_lower_mean():
    agent = _agent(num_envs=1, v_min=-1.0, v_max=1.0)
    agent.z = distributional.support(-1.0, 1.0, 3)
    low, high = torch.log(torch.tensor([0.6, 0.3, 0.1])), torch.log(torch.tensor([0.1, 0.3, 0.6]))

    def fixed(x):  # critic 0 pessimistic for sample 0, critic 1 for sample 1
        return torch.stack([torch.stack([low, high]), torch.stack([high, low])])

    agent.critic_target = fixed
    reward, discount = torch.zeros(2), torch.ones(2)  # R + d z = z: the projection is the distribution itself
    target = agent.critic_target_dist(reward, discount, torch.zeros(2, 3), agent.gaussian((2, agent.act_dim)))
    for i in (0, 1):
        assert torch.allclose(target[i], torch.softmax(torch.stack([low, low]), -1), atol=1e-6)
    agent.cfg.use_cdq = False
    target = agent.critic_target_dist(reward, discount, torch.zeros(2, 3), agent.gaussian((2, agent.act_dim)))
    assert torch.allclose(target[0, 1], torch.softmax(high, -1), atol=1e-6)


def test_the_policy_learns_every_policy_frequency_th_update():
    agent = _agent(num_envs=1, policy_frequency=2)
    batch = types.SimpleNamespace(obs=torch.randn(8, 3), action=torch.rand(8, 2) * 2 - 1, reward=torch.randn(8),
                                  next_obs=torch.randn(8, 3), terminated=torch.zeros(8), discount=None)
    batch.bootstrap_discount = lambda gamma: gamma * (1 - batch.terminated)
    before = [p.detach().clone() for p in agent.actor.parameters()]
    agent.update(batch)
    assert all(torch.equal(a, b) for a, b in zip(before, agent.actor.parameters()))  # update 1: critics only
    agent.update(batch)
    assert not all(torch.equal(a, b) for a, b in zip(before, agent.actor.parameters()))


def test_task_presets_and_the_settings_that_scale_with_the_envs():
    from visuomotor.train.config import TrainConfig, resolve

    cfg = resolve(TrainConfig(env="dmc/walker-walk", algo="fasttd3"))
    f = cfg.fasttd3
    assert cfg.num_envs == 16 and (f.n_step, f.v_min, f.v_max, f.std_min) == (3, -500.0, 500.0, 0.1)
    assert (f.buffer_size, f.learning_starts, f.update_every, f.batch_size) == (16 * 10240, 160, 16, 1024)
    gpu = resolve(TrainConfig(env="gym/Hopper-v5", algo="fasttd3", num_envs=64,
                              fasttd3=FastTD3Config(preset="gpu"))).fasttd3
    assert (gpu.batch_size, gpu.update_every, gpu.n_step, gpu.v_max) == (32768, 64, 1, 250.0)
    authors = ((512, 256, 128), (1024, 512, 256))
    assert (f.actor_hidden, f.critic_hidden) == (gpu.actor_hidden, gpu.critic_hidden) == authors


def test_fasttd3_resumes_exactly(tmp_path, drivers):
    args = ["--env", "dmc/cartpole-swingup", "--action-repeat", "8", "--algo", "fasttd3", "--num-envs", "1", *TINY,
            *COMMON, "--eval-every", "125", "--checkpoint-every", "100", "--log-every", "50"]
    ckpt = straight_and_split(tmp_path, drivers, args, k=125, n=250)
    assert ckpt["step"] == 250 and ckpt["agent"]["updates"] > 0


def _checkpoint_steps(monkeypatch) -> list[int]:
    """The steps at which runs in this test take checkpoints, in order."""
    from visuomotor.train.runner import Runner

    taken, save = [], Runner.checkpoint
    monkeypatch.setattr(Runner, "checkpoint", lambda self: (taken.append(self.step), save(self))[1])
    return taken


def test_fasttd3_with_parallel_envs_resumes_exactly(tmp_path, drivers, monkeypatch):
    """Two envs (3-step returns over each env's stream): a due checkpoint waits for the step where both
    envs' fixed-length episodes end, both envs restart there from the episode index's seed as a resumed
    run restarts them, and a run stopped there and resumed ends bit for bit like a straight one, its
    replay included."""
    taken = _checkpoint_steps(monkeypatch)
    args = ["--env", "dmc/cartpole-swingup", "--action-repeat", "8", "--algo", "fasttd3", "--num-envs", "2", *TINY,
            *COMMON, "--eval-every", "250", "--checkpoint-every", "100", "--log-every", "50"]
    ckpt = straight_and_split(tmp_path, drivers, args, k=250, n=500)
    assert ckpt["step"] == 500 and ckpt["episode_index"] == 4 and ckpt["agent"]["updates"] > 0
    assert "partial_episodes" not in ckpt and drivers[-1].agent.cfg.n_step == 3
    assert taken[0] == 250 and all(s % 250 == 0 for s in taken)  # due at 100, taken where both episodes end


def test_a_due_checkpoint_waits_for_unaligned_envs_at_most_max_wait(tmp_path, monkeypatch):
    """Hopper's envs terminate at different steps: a due checkpoint does not wait for them to end
    together longer than MAX_WAIT steps of each env."""
    from visuomotor.cli import main
    from visuomotor.train.offpolicy import OffPolicyDriver

    monkeypatch.setattr(OffPolicyDriver, "MAX_WAIT", 5)
    taken = _checkpoint_steps(monkeypatch)
    run = tmp_path / "run"
    assert main(["train", "--env", "gym/Hopper-v5", "--algo", "fasttd3", "--num-envs", "2", *TINY[:-2],
                 "--fasttd3.learning-starts", "1000", *COMMON, "--steps", "300", "--eval-every", "300",
                 "--checkpoint-every", "40", "--run-dir", str(run)]) == 0
    due = taken[:-1]  # (the last: the run's end)
    assert len(due) >= 6 and all(0 <= s - 40 * (i + 1) <= 10 for i, s in enumerate(due[:6])), taken
