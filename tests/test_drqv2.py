"""DrQ-v2: augmentation, schedules, the update's structure, and a short pixel run through the CLI."""

import csv

import gymnasium as gym
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from visuomotor.algos.drqv2 import DrQv2, DrQv2Config, clipped_noise_action
from visuomotor.buffers.frames import FrameBatch
from visuomotor.nets.conv import ConvEncoder, random_shift
from visuomotor.nets.schedules import parse_schedule


def test_random_shift_shape_bounds_and_identity():
    torch.manual_seed(0)
    x = torch.rand(5, 9, 20, 20) * 255
    pad = 4
    out = random_shift(x, pad)
    assert out.shape == x.shape
    # shift (pad, pad) is the identity; (0, 0) is the replicate-padded image's top-left crop
    same = random_shift(x, pad, shifts=torch.full((5, 2), pad))
    torch.testing.assert_close(same, x, atol=2e-3, rtol=0)  # pixel values 0..255
    corner = random_shift(x, pad, shifts=torch.zeros(5, 2, dtype=torch.long))
    padded = F.pad(x, (pad, pad, pad, pad), mode="replicate")
    torch.testing.assert_close(corner, padded[..., :20, :20], atol=2e-3, rtol=0)
    # every random output is one of the 81 integer shifts of its image (bounded by pad)
    for i in range(5):
        crops = [padded[i, :, dy:dy + 20, dx:dx + 20] for dy in range(2 * pad + 1) for dx in range(2 * pad + 1)]
        assert min(float((out[i] - c).abs().max()) for c in crops) < 2e-3
    assert torch.equal(random_shift(x, 0), x)


def test_encoder_output_size():
    enc = ConvEncoder((9, 84, 84))
    assert enc.repr_dim == 32 * 35 * 35
    assert enc(torch.zeros(2, 9, 84, 84, dtype=torch.uint8)).shape == (2, 32 * 35 * 35)


def test_schedules():
    lin = parse_schedule("linear(1.0,0.1,500000)")
    assert lin(0) == 1.0 and lin(250000) == pytest.approx(0.55) and lin(10**7) == pytest.approx(0.1)
    assert parse_schedule("0.2")(123) == 0.2 and parse_schedule(0.3)(0) == 0.3
    st = parse_schedule("step_linear(1.0,0.5,100,0.1,100)")
    assert st(50) == pytest.approx(0.75) and st(150) == pytest.approx(0.3) and st(1000) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="not understood"):
        parse_schedule("cosine(1,0,10)")
    with pytest.raises(ValueError, match="stddev_schedule|not understood"):
        DrQv2Config(stddev_schedule="linear(1,0)").check()


def test_clipped_noise_action():
    g = torch.Generator().manual_seed(0)
    mean = torch.zeros(10000, 2)
    a = clipped_noise_action(mean, 1.0, 0.3, g)
    assert a.abs().max() <= 0.3 + 1e-6  # noise clipped
    b = clipped_noise_action(torch.full((10000, 2), 0.95), 1.0, None, g)
    assert b.max() < 1.0 and b.min() > -1.0  # clamped into the action box
    m = torch.zeros(3, 1, requires_grad=True)
    clipped_noise_action(m + 5.0, 0.1, 0.3).sum().backward()
    assert torch.equal(m.grad, torch.ones(3, 1))  # straight-through gradient past the clamp


def _agent(**kw):
    obs = gym.spaces.Box(0, 255, (9, 32, 32), np.uint8)
    act = gym.spaces.Box(-1, 1, (2,), np.float32)
    torch.manual_seed(0)
    return DrQv2(obs, act, DrQv2Config(hidden_dim=32, feature_dim=8, bf16=False, **kw).resolved())


def _batch(n=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return FrameBatch(obs=torch.randint(0, 256, (n, 9, 32, 32), generator=g, dtype=torch.uint8),
                      action=torch.rand(n, 2, generator=g) * 2 - 1, reward=torch.rand(n, generator=g),
                      discount=torch.full((n,), 0.99 ** 3),
                      next_obs=torch.randint(0, 256, (n, 9, 32, 32), generator=g, dtype=torch.uint8))


def test_update_moves_encoder_only_through_the_critic():
    agent = _agent()
    enc0 = [p.clone() for p in agent.encoder.parameters()]
    act0 = [p.clone() for p in agent.actor.parameters()]
    tgt0 = [p.clone() for p in agent.critic_target.parameters()]
    m = agent.update(_batch())
    assert all(torch.isfinite(v) for v in m.values())
    assert any(not torch.equal(a, b) for a, b in zip(enc0, agent.encoder.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(act0, agent.actor.parameters()))
    for t0, t1, c1 in zip(tgt0, agent.critic_target.parameters(), agent.critic.parameters()):
        torch.testing.assert_close(t1, 0.99 * t0 + 0.01 * c1)
    # the actor's loss reaches the encoder's features detached: the encoder's grads are the critic's
    agent.encoder_opt.zero_grad(set_to_none=True)
    h = agent._encode(agent._augment(_batch().obs)).detach()
    (-agent.critic(h, agent.actor(h)).amin(0).mean()).backward()
    assert all(p.grad is None for p in agent.encoder.parameters())


def test_stddev_follows_the_schedule_and_act_is_deterministic_in_eval():
    agent = _agent(stddev_schedule="linear(1.0,0.1,1000)")
    agent.set_step(500)
    assert agent.update(_batch())["losses/stddev"].item() == pytest.approx(0.55)
    obs = np.zeros((9, 32, 32), np.uint8)
    a1, a2 = agent.act(obs, explore=False), agent.act(obs, explore=False)
    np.testing.assert_array_equal(a1, a2)
    assert a1.shape == (2,) and np.all(np.abs(a1) <= 1)
    assert not np.array_equal(agent.act(obs, explore=True), agent.act(obs, explore=True))


def test_state_roundtrip_gives_same_updates():
    import copy

    a, b = _agent(), _agent()
    a.update(_batch())
    b.load_state_dict(copy.deepcopy(a.state_dict()))
    ma, mb = a.update(_batch(seed=1)), b.update(_batch(seed=1))
    for k in ma:
        assert torch.equal(ma[k], mb[k]), k


def test_rejects_state_observations():
    obs = gym.spaces.Box(-np.inf, np.inf, (5,), np.float32)
    with pytest.raises(ValueError, match="--pixels"):
        DrQv2(obs, gym.spaces.Box(-1, 1, (2,), np.float32), DrQv2Config().resolved())


TINY_DRQ = ["--algo", "drqv2", "--action-repeat", "8", "--drqv2.learning-starts", "60", "--drqv2.batch-size", "8",
            "--drqv2.hidden-dim", "32", "--drqv2.feature-dim", "16", "--drqv2.buffer-size", "2000",
            "--log-every", "50", "--eval-episodes", "1", "--no-progress"]


def test_pixel_run_through_cli_writes_run_dir_and_resumes(tmp_path, cli):
    run = tmp_path / "drq"
    proc = cli("train", "--env", "dmc/cartpole-swingup", "--steps", "150", "--eval-every", "150",
               "--checkpoint-every", "125", "--run-dir", run, *TINY_DRQ, timeout=900)
    assert proc.returncode == 0, proc.stderr
    for name in ["config.yaml", "metrics.csv", "eval.csv", "curves.png", "checkpoints/latest.pt",
                 "checkpoints/best.pt", "videos/step_000000150.mp4"]:
        assert (run / name).is_file(), name
    ep = np.load(run / "episodes" / "ep_000000_000000125.npz")
    assert ep["obs"].shape == (126, 3, 84, 84) and ep["obs"].dtype == np.uint8  # frames once, not stacks
    rows = list(csv.DictReader(open(run / "metrics.csv")))
    assert any(r.get("losses/critic") for r in rows)
    # continue the same run further: the replay is rebuilt from its episodes and the partial one
    more = cli("train", "--env", "dmc/cartpole-swingup", "--steps", "200", "--eval-every", "150",
               "--checkpoint-every", "125", "--run-dir", run, "--resume", *TINY_DRQ, timeout=900)
    assert more.returncode == 0, more.stderr
    assert list(csv.DictReader(open(run / "eval.csv")))[-1]["step"] == "200"
    # the 25 steps the first run stopped in are an episode file of their own now (a third run keeps them)
    part = np.load(run / "episodes" / "ep_000001_000000150.npz")
    assert part["action"].shape == (25, 1) and part["obs"].shape == (26, 3, 84, 84)
    ev = cli("eval", run, "--episodes", "1")
    assert ev.returncode == 0 and "return  mean" in ev.stdout
    # prior data from pixels: the run's stored frames as RLPD-style prior data and as a prior run
    prior = cli("train", "--env", "dmc/cartpole-swingup", "--steps", "70", "--eval-every", "70", "--run-dir",
                tmp_path / "prior", "--prior-data", run, "--prior-runs", run, *TINY_DRQ, "--no-video", timeout=900)
    assert prior.returncode == 0, prior.stderr
    # (the finished episodes: 125 steps and the 25-step piece; the last 50 steps wait in the checkpoint)
    assert "prior data: 2 episodes, 150 transitions" in prior.stderr and "replay starts with 150" in prior.stderr
    rows = list(csv.DictReader(open(tmp_path / "prior" / "metrics.csv")))
    assert any(r.get("losses/critic") for r in rows)
    bad = cli("train", "--env", "dmc/cartpole-swingup", "--algo", "sac", "--pixels", "--run-dir", tmp_path / "x")
    assert bad.returncode == 2 and "learns from states" in bad.stderr


def test_presets_and_per_task_overrides_resolve_before_the_run():
    from visuomotor.train.config import TrainConfig, resolve

    # the task's preset (the authors' task configs): walker-walk is easy, walker-run medium, humanoid hard
    walker = resolve(TrainConfig(env="dmc/walker-walk", algo="drqv2"))
    assert walker.pixels and walker.action_repeat == 2 and walker.steps == 1_100_000 // 2
    assert walker.drqv2.preset == "easy" and walker.drqv2.stddev_schedule == "linear(1.0,0.1,100000)"
    assert walker.drqv2.batch_size == 512 and walker.drqv2.n_step == 1 and walker.drqv2.lr == 1e-4
    run = resolve(TrainConfig(env="dmc/walker-run", algo="drqv2"))
    assert run.drqv2.preset == "medium" and run.steps == 3_100_000 // 2 and run.drqv2.batch_size == 512
    assert run.drqv2.stddev_schedule == "linear(1.0,0.1,500000)"
    assert resolve(TrainConfig(env="dmc/walker-walk", algo="drqv2",
                                        drqv2=DrQv2Config(preset="medium"))).steps == 3_100_000 // 2  # given wins
    assert resolve(TrainConfig(env="gym/HalfCheetah-v5", algo="drqv2")).drqv2.preset == "medium"
    hum = resolve(TrainConfig(env="dmc/humanoid-run", algo="drqv2", drqv2=DrQv2Config(n_step=5)))
    assert hum.drqv2.preset == "hard"
    assert hum.drqv2.lr == 8e-5 and hum.drqv2.feature_dim == 100 and hum.drqv2.n_step == 5  # given wins
    assert hum.steps == 30_100_000 // 2 and hum.drqv2.stddev_schedule == "linear(1.0,0.1,2000000)"
    easy = resolve(TrainConfig(env="dmc/cup-catch", algo="drqv2", steps=1000, action_repeat=4,
                                        drqv2=DrQv2Config(preset="easy")))
    assert easy.steps == 1000 and easy.action_repeat == 4 and easy.drqv2.batch_size == 256
    assert easy.drqv2.stddev_schedule == "linear(1.0,0.1,100000)"
    sac = resolve(TrainConfig(env="dmc/walker-walk", algo="sac"))
    assert sac.steps == 100_000 and sac.action_repeat == 1 and not sac.pixels
    with pytest.raises(ValueError, match="preset"):
        DrQv2Config(preset="extreme").check()


def test_update_target_and_critic_loss_by_hand_with_fixed_shifts_and_noise():
    """With the update's shifts and noise drawn beforehand from a copy of its generator: the n-step target
    y = r0 + g r1 + g^2 r2 + g^3 min_i Qbar_i(h', clip(mu(h') + clip(sigma eps, -c, c))) and
    J_Q = sum_i mean (Q_i(h, a) - y)^2, exactly."""
    import copy

    agent = _agent(stddev_schedule="0.4", stddev_clip=0.3)
    n, g, pad = 8, 0.99, 4
    rng = torch.Generator().manual_seed(5)
    r = torch.rand(n, 3, generator=rng)  # the 3 rewards of each sample's n-step window
    reward = r[:, 0] + g * r[:, 1] + g ** 2 * r[:, 2]
    batch = FrameBatch(obs=torch.randint(0, 256, (n, 9, 32, 32), generator=rng, dtype=torch.uint8),
                       action=torch.rand(n, 2, generator=rng) * 2 - 1, reward=reward,
                       discount=torch.full((n,), g ** 3),
                       next_obs=torch.randint(0, 256, (n, 9, 32, 32), generator=rng, dtype=torch.uint8))
    twin = copy.deepcopy(agent)
    draws = torch.Generator()
    draws.set_state(agent.noise.get_state())
    shift_obs = torch.randint(0, 2 * pad + 1, (n, 1, 1, 2), generator=draws)
    shift_next = torch.randint(0, 2 * pad + 1, (n, 1, 1, 2), generator=draws)
    eps = torch.randn((n, 2), generator=draws)
    m = agent.update(batch)

    with torch.no_grad():
        h = twin.encoder(random_shift(batch.obs.float(), pad, shifts=shift_obs))
        h_next = twin.encoder(random_shift(batch.next_obs.float(), pad, shifts=shift_next))
        mu = twin.actor(h_next)
        a_next = (mu + (0.4 * eps).clamp(-0.3, 0.3)).clamp(-1 + 1e-6, 1 - 1e-6)
        q_bar = twin.critic_target(h_next, a_next)  # [2, n]
        y = reward + g ** 3 * torch.minimum(q_bar[0], q_bar[1])
        q = twin.critic(h, batch.action)
        loss = (q[0] - y).pow(2).mean() + (q[1] - y).pow(2).mean()
    torch.testing.assert_close(m["losses/target_q"], y.mean(), rtol=0, atol=1e-6)
    torch.testing.assert_close(m["losses/critic"], loss, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(m["losses/q_mean"], q.mean(), rtol=0, atol=1e-6)


def _marker_offsets(images: torch.Tensor, pad: int) -> torch.Tensor:
    """(dy, dx) each image's centre marker moved by, from where the brightest pixel landed [B, 2]."""
    b, _, h, w = images.shape
    flat = images[:, 0].reshape(b, -1).argmax(1)
    return torch.stack([flat // w - h // 2, flat % w - w // 2], 1)


def test_random_shift_draws_every_offset_independently_per_sample_and_for_obs_and_next_obs(monkeypatch):
    """Through the agent's update: every offset in [-pad, pad]^2 occurs, each sample draws its own, and
    the shifts of o and o' are independent."""
    import visuomotor.algos.drqv2 as drqv2_module

    agent = _agent()
    n, pad = 2000, 4
    marker = torch.zeros(n, 9, 32, 32, dtype=torch.uint8)
    marker[:, :, 16, 16] = 255
    seen = []
    real = drqv2_module.random_shift

    def recording(x, p, generator=None, shifts=None):
        out = real(x, p, generator=generator, shifts=shifts)
        seen.append(_marker_offsets(out, p))
        return out

    monkeypatch.setattr(drqv2_module, "random_shift", recording)
    agent.update(FrameBatch(obs=marker, action=torch.zeros(n, 2), reward=torch.zeros(n),
                            discount=torch.ones(n), next_obs=marker.clone()))
    assert len(seen) == 2  # o and o'
    for off in seen:
        assert off.abs().max() <= pad
        pairs, counts = torch.unique(off, dim=0, return_counts=True)
        assert len(pairs) == (2 * pad + 1) ** 2  # all 81 offsets
        from scipy import stats

        assert stats.chisquare(counts.numpy()).pvalue > 1e-3  # uniform over the 81
    same = (seen[0] == seen[1]).all(1).float().mean().item()
    assert same < 3 / 81  # independent draws agree ~1/81 of the time
    for axis in range(2):
        c = np.corrcoef(seen[0][:, axis].numpy(), seen[1][:, axis].numpy())[0, 1]
        assert abs(c) < 0.1
