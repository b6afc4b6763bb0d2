import copy
import math
import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch

from visuomotor.algos.sac import SAC, SACConfig
from visuomotor.buffers.replay import Batch
from visuomotor.nets import hardware
from visuomotor.nets.distributions import squashed_gaussian_log_prob, squashed_gaussian_sample

from tests.conftest import require

# the bf16 numerics tests run on any CPU: where bf16 is not native it is emulated, and SAC warns so
emulated_bf16_ok = pytest.mark.filterwarnings("ignore:bf16 is on but")


def test_squashed_log_prob_hand_computed():
    # u = 0.5 from N(0, 1): log N = -0.125 - 0.5 log(2 pi); log(1 - tanh(0.5)^2) = log(0.7864477)
    expected = -0.125 - 0.5 * math.log(2 * math.pi) - math.log(1 - math.tanh(0.5) ** 2)
    got = squashed_gaussian_log_prob(torch.tensor([0.5]), torch.tensor([0.0]), torch.tensor([0.0]))
    assert got.item() == pytest.approx(expected, abs=1e-6)
    assert expected == pytest.approx(-0.80371, abs=1e-5)


def test_squashed_log_prob_matches_torch_distributions():
    torch.manual_seed(0)
    mean, log_std = torch.randn(64, 3), torch.randn(64, 3).clamp(-2, 1)
    a, logp = squashed_gaussian_sample(mean, log_std)
    ref = torch.distributions.TransformedDistribution(
        torch.distributions.Normal(mean, log_std.exp()), [torch.distributions.TanhTransform(cache_size=1)])
    torch.testing.assert_close(logp, ref.log_prob(a).sum(-1), atol=2e-3, rtol=1e-3)
    # stable even deep in the tails where tanh saturates
    u = torch.tensor([[30.0]])
    assert torch.isfinite(squashed_gaussian_log_prob(u, torch.zeros(1, 1), torch.zeros(1, 1))).all()


def _tiny(**kw):
    obs = gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)
    act = gym.spaces.Box(-1, 1, (1,), np.float32)
    torch.manual_seed(0)
    kw.setdefault("bf16", False)
    return SAC(obs, act, SACConfig(hidden=(3,), **kw).resolved())


def _batch():
    return Batch(obs=torch.tensor([[0.1, -0.2], [0.3, 0.4]]), action=torch.tensor([[0.5], [-0.7]]),
                 reward=torch.tensor([1.0, -0.5]), next_obs=torch.tensor([[0.2, 0.1], [-0.3, 0.0]]),
                 terminated=torch.tensor([0.0, 1.0]))


def _q(layers, x):
    """Critic i by hand: Linear -> ReLU -> Linear, from the ensemble's stacked weights."""
    w1, b1, w2, b2 = layers
    return [torch.relu(x @ w1[i] + b1[i, 0]) @ w2[i] + b2[i, 0] for i in range(w1.shape[0])]


def _pi(actor, x, eps):
    l1, l2 = actor.net[0], actor.net[2]
    out = torch.relu(x @ l1.weight.T + l1.bias) @ l2.weight.T + l2.bias
    mean, log_std = out[:, :1], out[:, 1:].clamp(-20, 2)
    u = mean + log_std.exp() * eps
    logp = (-0.5 * eps**2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1) - torch.log(1 - torch.tanh(u) ** 2).sum(-1)
    return torch.tanh(u), logp


def test_sac_losses_against_hand_computation():
    agent = _tiny(init_alpha=0.5)
    b = _batch()
    agent.seed(123)
    got = agent.losses(b)
    # the same noise: the target's next actions from seed 123, the policy's actions from seed 124
    eps_next = torch.randn(2, 1, generator=torch.Generator().manual_seed(123))
    eps_pi = torch.randn(2, 1, generator=torch.Generator().manual_seed(124))
    crit = [p.detach() for p in agent.critic.parameters()]
    targ = [p.detach() for p in agent.critic_target.parameters()]
    alpha = 0.5
    with torch.no_grad():
        a2, logp2 = _pi(agent.actor, b.next_obs, eps_next)
        q_next = torch.minimum(*_q(targ, torch.cat([b.next_obs, a2], 1))).squeeze(-1)
        y = b.reward + 0.99 * (1 - b.terminated) * (q_next - alpha * logp2)
        q1, q2 = (q.squeeze(-1) for q in _q(crit, torch.cat([b.obs, b.action], 1)))
        critic = 0.5 * ((q1 - y) ** 2).mean() + 0.5 * ((q2 - y) ** 2).mean()
        a, logp = _pi(agent.actor, b.obs, eps_pi)
        q_pi = torch.minimum(*_q(crit, torch.cat([b.obs, a], 1))).squeeze(-1)
        actor = (alpha * logp - q_pi).mean()
        alpha_loss = -(math.log(alpha) * (logp - 1.0)).mean()  # on log alpha; target entropy -|A| = -1
    torch.testing.assert_close(got["losses/critic"], critic, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got["losses/actor"], actor, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got["losses/alpha"], alpha_loss, atol=1e-5, rtol=1e-5)
    assert agent.target_entropy == -1.0


def _soft_v_and_critic_loss(agent, b, seed: int):
    """By hand, at alpha 1: V(s') = min_i Qbar_i(s', a') - log pi(a'|s') with the target noise of
    ``seed``, and J_Q as a function of the target y."""
    eps = torch.randn(2, 1, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        a2, logp2 = _pi(agent.actor, b.next_obs, eps)
        targ = [p.detach() for p in agent.critic_target.parameters()]
        v = torch.minimum(*_q(targ, torch.cat([b.next_obs, a2], 1))).squeeze(-1) - logp2
        q1, q2 = (q.squeeze(-1) for q in _q([p.detach() for p in agent.critic.parameters()],
                                              torch.cat([b.obs, b.action], 1)))
    return v, lambda y: 0.5 * ((q1 - y) ** 2).mean() + 0.5 * ((q2 - y) ** 2).mean()


def test_target_bootstraps_through_truncation_only():
    """terminated=0 (a time limit ended the episode) keeps gamma * V(s'); terminated=1 drops it."""
    agent = _tiny(gamma=0.9, init_alpha=1.0)
    b = _batch()
    b.reward = torch.zeros(2)
    b.next_obs = torch.tensor([[0.2, 0.1], [0.2, 0.1]])
    b.terminated = torch.tensor([0.0, 1.0])
    agent.seed(5)
    got = agent.losses(b)["losses/critic"]
    v, critic_loss = _soft_v_and_critic_loss(agent, b, 5)
    assert v[0].abs() > 1e-3  # a bootstrap that matters
    expected = critic_loss(torch.stack([0.9 * v[0], torch.zeros(())]))
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_n_step_batch_discount_replaces_gamma():
    """An n-step batch's per-sample discount (gamma^m, 0 after a termination) is what multiplies
    V(s_m) in the target, whatever gamma and the terminated flags say."""
    agent = _tiny(gamma=0.9, init_alpha=1.0, n_step=3)
    b = _batch()
    b.terminated = torch.tensor([0.0, 0.0])
    b.discount = torch.tensor([0.9 ** 2, 0.0])
    agent.seed(5)
    got = agent.losses(b)["losses/critic"]
    v, critic_loss = _soft_v_and_critic_loss(agent, b, 5)
    expected = critic_loss(b.reward + torch.tensor([0.81, 0.0]) * v)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    # the replay an n-step SAC makes returns such batches
    rb = agent.make_replay(16, seed=0)
    assert (rb.n_step, rb.gamma) == (3, 0.9)


def test_update_moves_all_parts_and_polyak():
    agent = _tiny(tau=0.5)
    b = _batch()
    before_actor = [p.clone() for p in agent.actor.parameters()]
    before_critic = [p.clone() for p in agent.critic.parameters()]
    before_target = [p.clone() for p in agent.critic_target.parameters()]
    alpha0 = agent.log_alpha.item()
    metrics = agent.update(b)
    assert all(isinstance(v, torch.Tensor) and not v.requires_grad for v in metrics.values())
    assert any(not torch.equal(a, p) for a, p in zip(before_actor, agent.actor.parameters()))
    assert all(not torch.equal(a, p) for a, p in zip(before_critic, agent.critic.parameters()))
    assert agent.log_alpha.item() != alpha0
    for t0, t1, c1 in zip(before_target, agent.critic_target.parameters(), agent.critic.parameters()):
        torch.testing.assert_close(t1, 0.5 * t0 + 0.5 * c1)


def test_actor_loss_does_not_move_critic():
    """The policy loss reaches the critics with detached weights: critic grads come from J_Q only."""
    agent = _tiny()
    b = _batch()
    out = agent.losses(b)
    grads = torch.autograd.grad(out["losses/actor"], list(agent.critic.parameters()), allow_unused=True)
    assert all(g is None for g in grads)


def test_deterministic_eval_action_and_state_roundtrip():
    agent = _tiny()
    obs = np.array([0.3, -0.1], np.float32)
    a1, a2 = agent.act(obs, explore=False), agent.act(obs, explore=False)
    np.testing.assert_array_equal(a1, a2)
    assert a1.shape == (1,) and -1 <= a1[0] <= 1
    agent.update(_batch())
    other = _tiny()
    other.load_state_dict(agent.state_dict())
    np.testing.assert_array_equal(other.act(obs, explore=False), agent.act(obs, explore=False))
    torch.manual_seed(1)
    m1 = agent.update(_batch())
    torch.manual_seed(1)
    m2 = other.update(_batch())
    for k in m1:
        torch.testing.assert_close(m1[k], m2[k])


def test_same_seed_same_first_losses():
    def first_losses():
        agent = _tiny()  # seeds torch's generator, which seeds the update's noise
        return [agent.update(_batch())["losses/critic"].item() for _ in range(3)]

    assert first_losses() == first_losses()


def _space_agent(obs_dim=5, act_dim=2, **kw):
    obs = gym.spaces.Box(-np.inf, np.inf, (obs_dim,), np.float32)
    act = gym.spaces.Box(-1, 1, (act_dim,), np.float32)
    torch.manual_seed(0)
    kw.setdefault("bf16", False)
    return SAC(obs, act, SACConfig(hidden=(32, 32), **kw).resolved())


def _random_batch(n=64, obs_dim=5, act_dim=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return Batch(obs=torch.randn(n, obs_dim, generator=g), action=torch.rand(n, act_dim, generator=g) * 2 - 1,
                 reward=torch.randn(n, generator=g), next_obs=torch.randn(n, obs_dim, generator=g),
                 terminated=(torch.rand(n, generator=g) < 0.1).float())


def test_parallel_update_equals_serial_update():
    """The two halves on two threads (one intra-op thread each) give bit-identical parameters to
    the same halves one after the other on one thread."""
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        serial = _space_agent(simultaneous_update=True, manual_grad=False)  # the same autograd code in turn
        torch.set_num_threads(2)
        parallel = _space_agent(simultaneous_update=True, parallel_update=True)
        assert parallel.speed.parallel and not serial.speed.parallel
        for i in range(5):
            b = _random_batch(seed=i)
            torch.set_num_threads(1)
            m_s = serial.update(b)
            torch.set_num_threads(2)
            m_p = parallel.update(b)
            assert torch.get_num_threads() == 2  # restored after the update
            for k in m_s:
                assert torch.equal(m_s[k], m_p[k]), k
        for a, b in zip(serial.state_dict()["actor"].values(), parallel.state_dict()["actor"].values()):
            assert torch.equal(a, b)
        for a, b in zip(serial.critic.parameters(), parallel.critic.parameters()):
            assert torch.equal(a, b)
        assert torch.equal(serial.log_alpha, parallel.log_alpha)
    finally:
        torch.set_num_threads(threads)


def test_parallel_update_options():
    assert not _space_agent().speed.parallel
    with pytest.raises(ValueError, match="compile"):
        _space_agent(simultaneous_update=True, parallel_update=True, compile=True)
    with pytest.raises(ValueError, match="needs simultaneous_update"):
        _space_agent(parallel_update=True)


def test_sequential_update_steps_policy_against_updated_critics():
    """Default (Algorithm 1): the policy's loss is taken after the critic step; simultaneous: before."""
    batch = _random_batch()
    for simultaneous in (False, True):
        agent = _space_agent(simultaneous_update=simultaneous)
        ref = _space_agent(simultaneous_update=simultaneous)
        ref.load_state_dict(agent.state_dict())
        metrics = agent.update(batch)
        # recompute the policy loss from the reference: with the critics before or after their step
        alpha = ref.log_alpha.exp().detach()
        if not simultaneous:
            ref.critic_loss(batch, alpha)[0].backward()
            ref.optimizer.step()
        actor_loss, _, _ = ref.policy_losses(batch, alpha)
        torch.testing.assert_close(metrics["losses/actor"], actor_loss.detach(), rtol=0, atol=0)


def test_noise_state_in_checkpoint():
    a, b = _space_agent(), _space_agent()
    a.update(_random_batch())
    b.load_state_dict(copy.deepcopy(a.state_dict()))  # as through a checkpoint file: no shared tensors
    batch = _random_batch(seed=1)
    m_a, m_b = a.update(batch), b.update(batch)
    for k in m_a:
        assert torch.equal(m_a[k], m_b[k]), k


@emulated_bf16_ok
def test_bf16_losses_close_to_fp32():
    fp32, bf16 = _tiny(), _tiny(bf16=True)
    bf16.load_state_dict(fp32.state_dict())
    torch.manual_seed(3)
    a = fp32.losses(_batch())
    torch.manual_seed(3)
    b = bf16.losses(_batch())
    for k in ("losses/critic", "losses/actor"):
        torch.testing.assert_close(a[k], b[k], atol=2e-2, rtol=2e-2)


@emulated_bf16_ok
def test_bf16_keeps_q_resolution():
    """Hidden layers in bf16, output layer in float32: large Q values are not rounded to bf16."""
    agent = _tiny(bf16=True)
    with torch.no_grad():
        agent.critic.layers[-1].bias.fill_(100.3)
    b = _batch()
    q = agent.losses(b)["losses/q_mean"]
    assert q.dtype == torch.float32
    assert (q * 8).frac().abs() > 1e-3  # 100.3-ish, not a bf16 value (multiples of 0.5 near 100)


def test_bad_config_rejected():
    with pytest.raises(ValueError, match="gamma"):
        _tiny(gamma=1.5)
    with pytest.raises(ValueError, match="n_step"):
        _tiny(n_step=0)
    with pytest.raises(ValueError, match="batch_size"):
        _tiny(batch_size=0)


def _recorded_grads(agent: SAC) -> list[list[torch.Tensor | None]]:
    """Every optimizer step's gradients (in parameter order), recorded as the agent updates."""
    record, step = [], agent.optimizer.step

    def recording_step(*args, **kwargs):
        record.append([None if p.grad is None else p.grad.clone()
                       for g in agent.optimizer.param_groups for p in g["params"]])
        return step(*args, **kwargs)

    agent.optimizer.step = recording_step
    return record


def _assert_same_steps(grads_a, grads_b, metrics_a, metrics_b, tol: float, metric_rtol: float, metric_atol: float):
    """Two recorded runs moved the same parameters at every optimizer step, with gradients equal to
    ``tol`` relative to the step's largest, and reported the same metrics."""
    for step_a, step_b in zip(grads_a, grads_b):
        assert [g is None for g in step_a] == [g is None for g in step_b]  # the same parameters move
        for x, y in zip(step_a, step_b):
            if x is not None:
                assert (x - y).abs().max() <= tol * x.abs().max() + 1e-9
    for ma, mb in zip(metrics_a, metrics_b):
        for k in ma:
            torch.testing.assert_close(mb[k], ma[k], rtol=metric_rtol, atol=metric_atol)


@emulated_bf16_ok
@pytest.mark.parametrize("kw", [dict(bf16=False), dict(bf16=True), dict(simultaneous_update=True),
                                dict(log_prob_epsilon=1e-6), dict(actor_q="mean", num_critics=3),
                                dict(autotune_alpha=False, init_alpha=0.2), dict(n_step=3)],
                         ids=["fp32", "bf16", "tf1-order", "sb3-epsilon", "mean-of-3", "fixed-alpha", "n-step"])
def test_manual_gradients_equal_autograd(kw):
    """The hand-derived update takes the same gradients at every optimizer step as autograd on the
    same losses (float rounding apart), and reports the same metrics."""
    runs = {}
    for manual in (False, True):
        agent = _space_agent(manual_grad=manual, **kw)
        assert agent.speed.manual_grad is manual
        agent.seed(5)
        grads = _recorded_grads(agent)
        metrics = [agent.update(_random_batch(seed=i)) for i in range(3)]
        runs[manual] = (grads, metrics, agent)
    (g_auto, m_auto, a_auto), (g_man, m_man, a_man) = runs[False], runs[True]
    assert len(g_auto) == len(g_man) == (3 if kw.get("simultaneous_update") else 6)
    _assert_same_steps(g_auto, g_man, m_auto, m_man, 2e-3 if kw.get("bf16") else 2e-5, 1e-4, 1e-5)
    for pa, pm in zip(a_auto.actor.parameters(), a_man.actor.parameters()):
        torch.testing.assert_close(pm, pa, rtol=0, atol=1e-5)


def test_manual_grad_default_and_limits():
    assert _space_agent().speed.manual_grad  # the plain SAC update
    assert not _space_agent(preset="rlpd").speed.manual_grad  # LayerNorm critics: autograd
    with pytest.raises(ValueError, match="manual_grad"):
        _space_agent(preset="rlpd", manual_grad=True)
    with pytest.raises(ValueError, match="manual_grad"):
        _space_agent(manual_grad=True, simultaneous_update=True, parallel_update=True)
    assert not _space_agent(simultaneous_update=True, parallel_update=True).speed.manual_grad


def test_bf16_none_follows_the_hardware_and_emulated_bf16_warns(monkeypatch):
    """bf16 None is on exactly where the CPU does bf16 natively (AVX512-BF16 or AMX); asking for it on a
    CPU without (its matmuls emulated, ~45x slower) warns once per agent and keeps it on; no warning where
    native."""
    import warnings

    for flags, native in ((frozenset({"avx2", "fma"}), False), (frozenset({"avx2", "amx_bf16"}), True),
                          (frozenset({"avx512_bf16"}), True)):
        monkeypatch.setattr(hardware, "_cpu_flags", lambda flags=flags: flags)
        assert _space_agent(bf16=None).speed.bf16 is native
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert _space_agent(bf16=True).speed.bf16 is True
            assert _space_agent(bf16=False).speed.bf16 is False
        emulated = [w for w in caught if "no native bf16" in str(w.message)]
        assert len(emulated) == (0 if native else 1), [str(w.message) for w in caught]


@emulated_bf16_ok
@pytest.mark.skipif(hardware.cpp_compiler() is None, reason="torch.compile on CPU needs a C++ compiler")
@pytest.mark.parametrize("bf16", [False, True], ids=["fp32", "bf16"])
def test_compiled_update_equals_eager(bf16):
    """--sac.compile compiles the hand-derived gradients whole (no graph breaks) and takes the same
    gradients at every optimizer step as the eager functions, to float rounding."""
    import torch._dynamo

    torch._dynamo.reset()
    runs = []
    for compiled in (False, True):
        agent = _space_agent(compile=compiled, bf16=bf16)
        agent.seed(5)
        grads = _recorded_grads(agent)
        metrics = [agent.update(_random_batch(seed=i)) for i in range(3)]
        runs.append((grads, metrics))
    assert not torch._dynamo.utils.counters["graph_break"]
    (g_eager, m_eager), (g_comp, m_comp) = runs
    assert len(g_eager) == len(g_comp) == 6
    tol = 2e-2 if bf16 else 1e-5
    _assert_same_steps(g_eager, g_comp, m_eager, m_comp, tol, tol, tol)


def test_compile_failure_falls_back_to_eager(monkeypatch):
    """A compiler that fails on the first call (e.g. no Python headers) leaves a warning and an eager
    update with the same numbers, not a crashed run."""
    def failing_compile(fn, **kw):
        def call(*args):
            raise RuntimeError("fatal error: Python.h: No such file or directory")
        return call

    monkeypatch.setattr(torch, "compile", failing_compile)
    agents = [_space_agent(compile=c) for c in (True, False)]
    for agent in agents:
        agent.seed(3)
    with pytest.warns(UserWarning, match="Python.h"):
        m_fallback = agents[0].update(_random_batch(seed=1))
    m_eager = agents[1].update(_random_batch(seed=1))
    for k in m_eager:
        torch.testing.assert_close(m_fallback[k], m_eager[k], rtol=0, atol=0)
    with warnings.catch_warnings():  # eager from now on: no second attempt, no second warning
        warnings.simplefilter("error")
        agents[0].update(_random_batch(seed=2))


def test_auto_compile(monkeypatch):
    """compile None: on for CPU runs of at least AUTO_COMPILE_UPDATES updates where a C++ compiler is
    found, else off; an explicit value stays; compile True with no compiler is a one-line error."""
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    n = hardware.AUTO_COMPILE_UPDATES
    monkeypatch.setattr(hardware, "cpp_compiler", lambda: "/usr/bin/g++")
    assert SACConfig().resolved().for_run(n, cpu).compile is True
    assert SACConfig().resolved().for_run(n - 1, cpu).compile is False
    assert SACConfig().resolved().for_run(n, cuda).compile is False
    assert SACConfig(compile=False).resolved().for_run(n, cpu).compile is False
    assert SACConfig(compile=True).resolved().for_run(1, cpu).compile is True
    assert SACConfig(manual_grad=False).resolved().for_run(n, cpu).compile is False  # autograd: not compiled by default
    assert SACConfig(preset="rlpd").resolved().for_run(n, cpu).compile is False  # LayerNorm critics: autograd
    monkeypatch.setattr(hardware, "cpp_compiler", lambda: None)
    assert SACConfig().resolved().for_run(n, cpu).compile is False
    with pytest.raises(ValueError, match="C\\+\\+ compiler"):
        _space_agent(compile=True)
    agent = _space_agent()  # built directly (no run length known): eager
    assert agent.cfg.compile is None and not hasattr(agent.speed.fn.__self__.critic_fn, "wrapped")


def test_training_run_resolves_compile(tmp_path, monkeypatch):
    """A run decides compile None from its update count (``for_run``): a CPU run of 20k+ updates compiles."""
    from visuomotor import TrainConfig
    from visuomotor.train.config import resolve
    from visuomotor.train.runner import Runner

    monkeypatch.setattr(hardware, "cpp_compiler", lambda: "/usr/bin/g++")
    for steps, expect in ((1000 + hardware.AUTO_COMPILE_UPDATES, True), (999 + hardware.AUTO_COMPILE_UPDATES, False)):
        cfg = resolve(TrainConfig(env="dmc/cartpole-swingup", algo="sac", steps=steps, run_dir=tmp_path / "r",
                                  video=False, device="cpu", sac=SACConfig(learning_starts=1000)))
        agent = Runner(cfg).agent
        assert agent.cfg.compile is expect and agent.describe()["compile"] is expect
        assert cfg.sac.compile is None  # the stored config keeps the user's choice (a resume may run longer)
        assert hasattr(agent.speed.fn.__self__.critic_fn, "wrapped") is expect  # wrapped by torch.compile


def test_update_matches_sb3_in_float64():
    """From the same weights, batches and noise, 30 of our updates (hand-derived and autograd
    gradients) leave every parameter where 30 of SB3's do, to 1e-6 (float64, so that Adam cannot
    amplify rounding; a parameter moves ~1e-2 in that many steps)."""
    require("stable_baselines3", "the test extra (stable-baselines3)")
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "sac_vs_sb3_update.py"
    spec = importlib.util.spec_from_file_location("sac_vs_sb3_update", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for manual in (True, False):
        (k, diffs), = module.compare("dmc/cartpole-swingup", updates=30, batch=64, manual_grad=manual)
        assert k == 30
        assert max(v for v in diffs.values() if isinstance(v, float)) < 1e-6, diffs


@pytest.mark.parametrize("ensemble", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_relu_mlp_backward_matches_autograd(ensemble, dtype):
    """Hand-derived MLP gradients (hidden layers in ``dtype``, output layer float32) against autograd:
    every parameter's gradient and the gradient of the last input columns."""
    from visuomotor.nets.mlp import EnsembleMLP, mlp, relu_mlp_backward, relu_mlp_forward

    torch.manual_seed(0)
    if ensemble:
        net = EnsembleMLP(3, 7, (16, 16), 1)
        params = net.flat_params()
    else:
        net = mlp(7, (16, 16), 4)
        params = list(net.parameters())
    x = torch.randn(32, 7, requires_grad=True)
    cast = [p.to(dtype) for p in params[:-2]] + params[-2:]
    out, inputs = relu_mlp_forward(x, cast)
    dy = torch.randn_like(out.float())
    (out.float() * dy).sum().backward()
    grads, dx = relu_mlp_backward([c.detach() for c in cast], [i.detach() for i in inputs], dy,
                                  input_cols=slice(5, None))
    tol = 2e-2 if dtype == torch.bfloat16 else 1e-5
    for p, g in zip(params, grads):
        torch.testing.assert_close(g.float(), p.grad, rtol=tol, atol=tol * p.grad.abs().max().item())
    dx = dx.float().sum(0) if ensemble else dx.float()
    torch.testing.assert_close(dx, x.grad[:, 5:], rtol=tol, atol=tol * x.grad.abs().max().item())


def test_an_agent_is_built_from_a_resolved_config():
    """Configs are resolved once (train.config.resolve, or cfg.resolved(env_id) in Python): a constructor
    given an unresolved one refuses it in one line naming what is left to fill, and validates the rest."""
    obs = gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)
    act = gym.spaces.Box(-1, 1, (1,), np.float32)
    with pytest.raises(ValueError, match=r"SACConfig is not resolved \(updates_per_step, .*actor_lr.*cfg\.resolved"):
        SAC(obs, act, SACConfig())
    with pytest.raises(ValueError, match="tau must be in"):
        SAC(obs, act, SACConfig(tau=0.0).resolved())
    with pytest.raises(ValueError, match="preset must be one of sac, rlpd"):
        SACConfig(preset="nope").check()
    resolved = SACConfig(net="simbav2").resolved("dmc/walker-walk")
    assert resolved.unresolved() == [] and resolved.num_critics == 1 and resolved.resolved() == resolved
