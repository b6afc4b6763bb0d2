"""DrM: dormant ratio, perturbation, awakening, expectile value and the blended target."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

from visuomotor.algos.drm import DrM, DrMConfig, dormant_ratio, expectile_loss, shrink_perturb
from visuomotor.buffers.frames import FrameBatch


def test_dormant_ratio_of_a_network_with_known_dead_units():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 10), nn.ReLU(), nn.Linear(10, 5))
    with torch.no_grad():
        net[0].weight[:3] = 0.0  # units 0-2 of layer 1: output is only their (tiny) bias
        net[0].bias[:3] = 1e-4
        net[2].weight[4] = 0.0   # unit 4 of layer 2: dead
        net[2].bias[4] = 0.0
    x = torch.randn(256, 4)
    outs = []
    h = net[0](x)
    outs.append(h)
    outs.append(net[2](net[1](h)))
    assert dormant_ratio(outs, 0.025).item() == pytest.approx(4 / 15)
    # by hand for layer 1: mean |output| per unit vs 0.025 x the layer mean
    m = h.abs().mean(0)
    assert int((m < 0.025 * m.mean()).sum()) == 3


def test_expectile_loss_weights_errors_by_sign():
    d = torch.tensor([1.0, -1.0])
    assert expectile_loss(d, 0.9).item() == pytest.approx((0.9 * 1 + 0.1 * 1) / 2)
    assert expectile_loss(torch.tensor([2.0]), 0.9).item() == pytest.approx(0.9 * 4)
    assert expectile_loss(torch.tensor([-2.0]), 0.9).item() == pytest.approx(0.1 * 4)


def test_shrink_perturb_interpolates():
    a, b = nn.Linear(3, 2), nn.Linear(3, 2)
    wa, wb = a.weight.detach().clone(), b.weight.detach().clone()
    shrink_perturb(a, b, 0.3)
    torch.testing.assert_close(a.weight, 0.3 * wa + 0.7 * wb)


def _agent(**kw):
    obs = gym.spaces.Box(0, 255, (9, 32, 32), np.uint8)
    act = gym.spaces.Box(-1, 1, (2,), np.float32)
    torch.manual_seed(0)
    return DrM(obs, act, DrMConfig(hidden_dim=32, feature_dim=8, bf16=False, **kw).resolved())


def _batch(n=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return FrameBatch(obs=torch.randint(0, 256, (n, 9, 32, 32), generator=g, dtype=torch.uint8),
                      action=torch.rand(n, 2, generator=g) * 2 - 1, reward=torch.rand(n, generator=g),
                      discount=torch.full((n,), 0.97), next_obs=torch.randint(0, 256, (n, 9, 32, 32), generator=g,
                                                                              dtype=torch.uint8))


def test_update_logs_dormant_ratio_and_trains_value():
    agent = _agent()
    v0 = [p.clone() for p in agent.value.parameters()]
    m = agent.update(_batch())
    beta = m["charts/dormant_ratio"].item()
    assert 0.0 <= beta <= 1.0 and agent.beta.item() == beta
    assert np.isfinite(m["losses/value"].item())
    assert any(not torch.equal(a, b) for a, b in zip(v0, agent.value.parameters()))
    lam = m["losses/lambda"].item()
    assert lam == pytest.approx(0.6 / (1 + np.exp(50 * (beta - 0.2))), rel=1e-5)


def test_blended_target():
    agent = _agent()
    agent.beta = torch.tensor(0.2)  # lambda = 0.3
    h = agent._encode(_batch().next_obs)
    agent.noise.manual_seed(1)
    got = agent.target_value(h, 0.5)
    agent.noise.manual_seed(1)
    min_q = super(DrM, agent).target_value(h, 0.5)
    v = agent.value(h)
    torch.testing.assert_close(got, 0.3 * v + 0.7 * min_q)


def test_awaken_exploration():
    agent = _agent(stddev_schedule="linear(1.0,0.1,100)")
    agent.beta = torch.tensor(0.5)
    agent.set_step(10)
    assert agent.exploration_std() == pytest.approx(1 / (1 + np.exp(-10 * 0.3)))  # dormant: sigmoid
    assert agent.awaken_step is None
    agent.beta = torch.tensor(0.1)
    agent.set_step(40)
    s = agent.exploration_std()  # awake at step 40: the schedule restarts there (1.0 at its start)
    assert agent.awaken_step == 40 and s == pytest.approx(1.0)
    agent.set_step(90)  # schedule 50 steps in: 0.55; dormant sigmoid(10 * -0.1) = 0.269
    assert agent.exploration_std() == pytest.approx(0.55)
    agent.set_step(200)
    assert agent.exploration_std() == pytest.approx(max(0.1, 1 / (1 + np.exp(1.0))))


def test_perturbation_keeps_shapes_and_resets_optimizers():
    agent = _agent(perturb_every=5)
    agent.update(_batch())
    assert len(agent.critic_opt.state) > 0
    shapes = {k: v.shape for k, v in agent.state_dict()["critic"].items()}
    before = [p.clone() for p in agent.actor.parameters()]
    agent.beta = torch.tensor(0.1)  # a = clip(1 - 0.2, 0.2, 0.9) = 0.8
    agent.set_step(5)
    m = agent.update(_batch(seed=1))
    assert m["charts/perturb_factor"].item() == pytest.approx(min(max(1 - 2 * m["charts/dormant_ratio"].item(), 0.2), 0.9))
    assert agent.last_perturb == 5
    assert all(len(o.state) == 0 for o in (agent.encoder_opt, agent.critic_opt, agent.actor_opt, agent.value_opt))
    assert {k: v.shape for k, v in agent.state_dict()["critic"].items()} == shapes
    assert any(not torch.equal(a, b) for a, b in zip(before, agent.actor.parameters()))
    agent.set_step(7)
    factor = m["charts/perturb_factor"].item()
    assert agent.update(_batch(seed=2))["charts/perturb_factor"].item() == factor  # none until step 10
    assert agent.last_perturb == 5


def test_per_task_settings_follow_the_authors_configs():
    from visuomotor.train.config import TrainConfig, resolve

    dog = resolve(TrainConfig(env="dmc/dog-walk", algo="drm"))
    assert dog.drm.perturb_max == 0.6 and dog.drm.preset == "hard"
    cheetah = resolve(TrainConfig(env="dmc/cheetah-run", algo="drm"))
    assert cheetah.drm.perturb_max == 0.9 and cheetah.drm.preset == "medium"
    assert resolve(TrainConfig(env="dmc/dog-walk", algo="drm", drm=DrMConfig(perturb_max=1.0))).drm.perturb_max == 1.0
    with pytest.raises(ValueError, match="perturb_min <= perturb_max"):
        DrMConfig(perturb_min=0.5, perturb_max=0.3).check()


def test_update_measures_the_dormant_ratio_of_the_agents_own_actor():
    """Units killed in the agent's actor (zero weights and bias) are exactly the dormant ones the update
    reports: trunk 2 of 8, hidden layers 4 and 5 of 32 each, of 8 + 32 + 32 + 2 units."""
    agent = _agent()
    linears = [m for m in agent.actor.modules() if isinstance(m, nn.Linear)]
    assert [m.out_features for m in linears] == [8, 32, 32, 2]
    with torch.no_grad():
        for layer, dead in zip(linears, (2, 4, 5, 0)):
            layer.weight[:dead] = 0.0
            layer.bias[:dead] = 0.0
    m = agent.update(_batch(n=64))
    assert m["charts/dormant_ratio"].item() == pytest.approx(11 / 74)
    assert agent.beta.item() == pytest.approx(11 / 74)
