"""Prior data: datasets from `visuomotor collect`, manifests, symmetric sampling, replay across runs, RLPD critics."""

import json

import gymnasium as gym
import numpy as np
import pytest
import torch

from tests.conftest import TINY_SAC, require, run_cli
from visuomotor.algos.sac import SAC, SACConfig
from visuomotor.buffers.datasets import open_dataset
from visuomotor.buffers.episodes import load_episode
from visuomotor.buffers.replay import MixedSampler, ReplayBuffer
from visuomotor.nets.mlp import EnsembleMLP


def _replay(value: float, n: int = 50, seed: int = 0) -> ReplayBuffer:
    r = ReplayBuffer(100, 2, 1, seed=seed)
    r.add_many(np.zeros((n, 2)), np.zeros((n, 1)), np.full(n, value), np.zeros((n, 2)), np.zeros(n))
    return r


@pytest.mark.parametrize("fraction, expected", [(0.5, 128), (0.25, 64), (0.0, 0), (1.0, 256), (0.3, 77)])
def test_symmetric_sampling_draws_the_configured_fraction_from_each_source(fraction, expected):
    sampler = MixedSampler(_replay(0.0), _replay(1.0, seed=1), fraction)
    batch = sampler.sample(256)
    assert batch.reward.shape == (256,)
    assert int(batch.reward.sum()) == expected  # prior rewards are 1, online 0
    if 0 < expected < 256:  # online first, then prior
        assert (batch.reward[: 256 - expected] == 0).all() and (batch.reward[256 - expected:] == 1).all()


def test_ensemble_layer_norm_matches_a_hand_computation():
    torch.manual_seed(0)
    net = EnsembleMLP(3, 4, (5,), 1, layer_norm=True)
    with torch.no_grad():
        net.norms[0].weight.uniform_(0.5, 1.5)
        net.norms[0].bias.uniform_(-0.5, 0.5)
    x = torch.randn(7, 4)
    out = net(x)
    for i in range(3):
        h = x @ net.layers[0].weight[i] + net.layers[0].bias[i]
        h = (h - h.mean(-1, keepdim=True)) / torch.sqrt(h.var(-1, unbiased=False, keepdim=True) + 1e-5)
        h = torch.relu(h * net.norms[0].weight[i] + net.norms[0].bias[i])
        torch.testing.assert_close(out[i], h @ net.layers[1].weight[i] + net.layers[1].bias[i])


def test_rlpd_preset_and_its_update():
    r = SACConfig(preset="rlpd").resolved()
    assert (r.num_critics, r.critic_subset, r.actor_q, r.layer_norm, r.updates_per_step) == (10, 2, "mean", True, 20)
    s = SACConfig().resolved()
    assert (s.num_critics, s.critic_subset, s.actor_q, s.layer_norm, s.updates_per_step) == (2, 0, "min", False, 1)
    assert SACConfig(preset="rlpd", num_critics=4).resolved().num_critics == 4  # a given field wins
    with pytest.raises(ValueError, match="critic_subset"):
        SACConfig(num_critics=2, critic_subset=3).check()
    obs = gym.spaces.Box(-1, 1, (3,), np.float32)
    act = gym.spaces.Box(-1, 1, (2,), np.float32)
    torch.manual_seed(0)
    agent = SAC(obs, act, SACConfig(preset="rlpd", hidden=(16, 16), bf16=False).resolved())
    assert agent.critic.n == 10 and agent.critic.norms is not None
    b = ReplayBuffer(64, 3, 2, seed=0)
    b.add_many(np.random.rand(64, 3), np.random.rand(64, 2) * 2 - 1, np.random.rand(64), np.random.rand(64, 3),
               np.zeros(64))
    before = agent.critic.norms[0].weight.detach().clone()
    m = agent.update(b.sample(32))
    assert all(torch.isfinite(v) for v in m.values())
    assert not torch.equal(before, agent.critic.norms[0].weight)  # LayerNorm affine learns


def test_critic_subset_takes_the_min_over_a_random_subset():
    from visuomotor.buffers.replay import Batch

    obs = gym.spaces.Box(-1, 1, (3,), np.float32)
    act = gym.spaces.Box(-1, 1, (2,), np.float32)
    batch = Batch(obs=torch.rand(16, 3), action=torch.rand(16, 2), reward=torch.zeros(16),
                  next_obs=torch.rand(16, 3), terminated=torch.zeros(16))

    def targets(subset: int) -> set[float]:
        torch.manual_seed(0)
        agent = SAC(obs, act, SACConfig(num_critics=6, critic_subset=subset, hidden=(8,), gamma=1.0, bf16=False).resolved())
        with torch.no_grad():  # online critics output 0; target critic i outputs the constant i
            for net in (agent.critic, agent.critic_target):
                for layer in net.layers:
                    layer.weight.zero_()
                    layer.bias.zero_()
            agent.critic_target.layers[-1].bias.copy_(torch.arange(6.0).view(6, 1, 1))
        seen = set()
        for seed in range(30):
            agent.seed(seed)
            loss, _ = agent.critic_loss(batch, torch.tensor(0.0))
            seen.add(round(float(torch.sqrt(2 * loss.detach() / 6)), 4))  # loss = 6 x 0.5 x target^2
        return seen

    assert targets(0) == {0.0}  # the min over all six critics
    subset = targets(2)  # the min of two distinct random members: 0..4, varying with the draw
    assert len(subset) >= 3 and subset <= {0.0, 1.0, 2.0, 3.0, 4.0}


def test_collect_writes_a_dataset_that_trains_and_mismatches_fail(tmp_path):
    run = tmp_path / "run"
    run_cli("train", "--env", "dmc/cartpole-swingup", "--steps", "1000", "--run-dir", run, "--eval-episodes", "1",
            "--no-video", "--threads", "1", "--no-progress", *TINY_SAC, check=True)
    data = tmp_path / "data"
    out = run_cli("collect", run, "--episodes", "2", "-o", data, "--noise", "0.3", check=True)
    assert "2 episodes, 2000 transitions" in out.stdout
    m = json.loads((data / "manifest.json").read_text())
    assert m["env"] == "dmc/cartpole-swingup" and m["observation_shape"] == [5] and m["action_shape"] == [1]
    assert m["source"]["noise"] == 0.3 and m["source"]["run"] == str(run)
    src = open_dataset(data)
    rets = [float(load_episode(p)["reward"].sum()) for p in src.episode_files]
    assert m["returns"]["mean"] == pytest.approx(np.mean(rets), rel=1e-5)
    # never overwrites
    again = run_cli("collect", run, "--episodes", "1", "-o", data)
    assert again.returncode != 0 and "not empty" in again.stderr
    # random actions
    rnd = tmp_path / "rnd"
    run_cli("collect", "--random", "--env", "dmc/cartpole-swingup", "--episodes", "1", "-o", rnd, check=True)
    assert json.loads((rnd / "manifest.json").read_text())["source"]["random"] is True

    # train with both kinds of prior data; the config records them
    t = tmp_path / "t"
    run_cli("train", "--env", "dmc/cartpole-swingup", "--steps", "400", "--run-dir", t, "--prior-data", data, rnd,
            "--prior-runs", run, "--sac.preset", "rlpd", "--sac.updates-per-step", "2", "--eval-episodes", "1",
            "--no-video", "--threads", "1", "--no-progress", "--sac.hidden", "16", "16", "--sac.batch-size", "32",
            "--sac.learning-starts", "200", check=True)
    ck = torch.load(t / "checkpoints" / "latest.pt", weights_only=True)
    assert "prior_rng" in ck
    # mismatches: another env, a manifest that disagrees with its files
    bad = run_cli("train", "--env", "dmc/walker-walk", "--steps", "10", "--run-dir", tmp_path / "w",
                  "--prior-data", data)
    assert bad.returncode != 0 and len(bad.stderr.strip().splitlines()) == 1
    assert "recorded on dmc/cartpole-swingup, not on this run's env dmc/walker-walk" in bad.stderr
    bad = run_cli("train", "--env", "dmc/walker-walk", "--steps", "10", "--run-dir", tmp_path / "w2",
                  "--prior-runs", run)
    assert bad.returncode != 0 and "recorded on dmc/cartpole-swingup" in bad.stderr
    (data / "manifest.json").write_text(json.dumps({**m, "episodes": 5}))
    bad = run_cli("train", "--env", "dmc/cartpole-swingup", "--steps", "10", "--run-dir", tmp_path / "c",
                  "--prior-data", data)
    assert bad.returncode != 0 and "manifest lists 5 episodes, found 2" in bad.stderr
    (data / "manifest.json").write_text(json.dumps({**m, "observation_shape": [6]}))
    bad = run_cli("train", "--env", "dmc/cartpole-swingup", "--steps", "10", "--run-dir", tmp_path / "d",
                  "--prior-data", data)
    assert bad.returncode != 0 and "observation shape (6,)" in bad.stderr
    bad = run_cli("train", "--algo", "ppo", "--steps", "10", "--run-dir", tmp_path / "p", "--prior-data", data)
    assert bad.returncode != 0 and "on-policy" in bad.stderr


def test_prior_runs_fill_the_replay_before_training_and_on_resume(tmp_path):
    from visuomotor.train.config import TrainConfig, resolve
    from visuomotor.train.runner import Runner

    run = tmp_path / "run"
    run_cli("train", "--env", "dmc/cartpole-swingup", "--steps", "2000", "--run-dir", run, "--eval-episodes", "1",
            "--no-video", "--threads", "1", "--no-progress", *TINY_SAC, check=True)
    cfg = resolve(TrainConfig(env="dmc/cartpole-swingup", steps=10, run_dir=tmp_path / "new",
                              prior_runs=[run], video=False, device="cpu"))
    driver = Runner(cfg).driver
    driver.prepare()
    replay = driver.agent.storage
    assert len(replay) == 2000
    first = load_episode(sorted((run / "episodes").glob("ep_*.npz"))[0])
    torch.testing.assert_close(replay.obs[:1000], torch.as_tensor(first["obs"][:-1]))


def test_bc_clones_the_dataset_policy(tmp_path):
    """A dataset whose actions are a fixed function of the observation: BC recovers it."""
    from visuomotor.buffers.datasets import write_manifest
    from visuomotor.buffers.episodes import write_episode
    from visuomotor.envs import make_env

    env = make_env("tests.test_ppo:target_env")
    data = tmp_path / "expert"
    rng = np.random.default_rng(0)
    returns, total = [], 0
    for i in range(40):  # the expert plays a = target
        target = rng.uniform(-0.8, 0.8, size=(1,)).astype(np.float32)
        obs = np.repeat(target[None], 9, 0)
        ep = {"obs": obs, "action": obs[:-1].copy(), "reward": np.ones(8, np.float32),
              "terminated": np.zeros(8, bool), "truncated": np.eye(8, dtype=bool)[-1]}
        total += 8
        write_episode(data / "episodes", i, total, ep)
        returns.append(8.0)
    write_manifest(data, "tests.test_ppo:target_env", {}, env.observation_space, env.action_space, returns, total,
                   {"synthetic": True})
    run = tmp_path / "bc"
    run_cli("train", "--env", "tests.test_ppo:target_env", "--algo", "bc", "--data", data, "--steps", "600",
            "--eval-every", "600", "--eval-episodes", "10", "--no-video", "--run-dir", run, "--threads", "1",
            "--no-progress", "--bc.hidden", "32", "32", "--bc.batch-size", "64", check=True)
    import csv

    with open(run / "eval.csv", newline="") as f:
        evals = [float(r["mean_return"]) for r in csv.DictReader(f)]
    assert evals[-1] > 7.6 and evals[-1] > evals[0] + 1.0, evals  # matched targets score ~8
    from visuomotor import load_agent

    agent, _, step = load_agent(run)
    assert step == 600
    x = np.linspace(-0.7, 0.7, 9, dtype=np.float32)[:, None]
    np.testing.assert_allclose(agent.act(x), x, atol=0.08)
    # resume refuses to lose work, continues with --resume; a missing --data is a one-line error
    run_cli("train", "--env", "tests.test_ppo:target_env", "--algo", "bc", "--data", data, "--steps", "700",
            "--eval-every", "600", "--eval-episodes", "10", "--no-video", "--run-dir", run, "--threads", "1",
            "--no-progress", "--bc.hidden", "32", "32", "--bc.batch-size", "64", "--resume", check=True)
    assert torch.load(run / "checkpoints" / "latest.pt", weights_only=True)["step"] == 700
    out = run_cli("train", "--env", "tests.test_ppo:target_env", "--algo", "bc", "--run-dir", tmp_path / "x")
    assert out.returncode != 0 and "--data DIR" in out.stderr


def test_bc_on_pixels_uses_the_conv_encoder_and_the_frame_replay():
    from visuomotor.algos.bc import BC, BCConfig

    obs_space = gym.spaces.Box(0, 255, (9, 32, 32), np.uint8)
    act_space = gym.spaces.Box(-1, 1, (2,), np.float32)
    torch.manual_seed(0)
    agent = BC(obs_space, act_space, BCConfig(hidden=(32,), feature_dim=16).resolved(), "cpu")
    assert agent.policy_net.pixels
    replay = agent.make_replay(200, 0)
    rng = np.random.default_rng(0)
    # single frames, as episodes store them; each frame one brightness, the action a function of it
    level = rng.integers(0, 255, 41)
    frames = np.broadcast_to(level[:, None, None, None], (41, 3, 32, 32)).astype(np.uint8)
    v = level[:-1].astype(np.float32) / 127.5 - 1.0
    action = 0.8 * np.stack([v, -v], 1)
    replay.add_episode({"obs": frames, "action": action, "reward": np.zeros(40, np.float32),
                        "terminated": np.zeros(40, bool), "truncated": np.eye(40, dtype=bool)[-1]})
    losses = [agent.update(replay.sample(32))["losses/bc"].item() for _ in range(150)]
    assert np.mean(losses[-10:]) < 0.3 * np.mean(losses[:10]), (losses[:10], losses[-10:])
    a = agent.act(np.zeros((9, 32, 32), np.uint8))
    assert a.shape == (2,) and np.all(np.abs(a) <= 1)


def test_minari_import_of_a_dataset_recorded_with_minaris_own_collector(tmp_path, monkeypatch):
    """A Minari dataset recorded here (Pendulum: actions in [-2, 2]) imports to our format: replaying
    the imported (rescaled) actions in our env reproduces the recorded observations and rewards."""
    minari = require("minari", "the minari extra")
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    import warnings

    collector = minari.DataCollector(gym.make("Pendulum-v1"))
    rng = np.random.default_rng(0)
    for ep in range(3):
        collector.reset(seed=ep)
        done = False
        while not done:
            *_, term, trunc, _ = collector.step(rng.uniform(-2, 2, (1,)).astype(np.float32))
            done = term or trunc
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        collector.create_dataset(dataset_id="pendulum/test-v0", algorithm_name="random")
    out = tmp_path / "data"
    res = run_cli("import-minari", "pendulum/test-v0", "-o", out, check=True)
    assert "gym/Pendulum-v1: 3 episodes, 600 transitions" in res.stdout
    src = open_dataset(out)
    assert src.env == "gym/Pendulum-v1" and src.observation_shape == (3,) and src.action_shape == (1,)
    recorded = list(minari.load_dataset("pendulum/test-v0").iterate_episodes())
    from visuomotor import make_env

    env = make_env("gym/Pendulum-v1")
    for ep, path in enumerate(src.episode_files):
        mine = load_episode(path)
        assert np.abs(mine["action"]).max() <= 1.0
        np.testing.assert_allclose(mine["action"], recorded[ep].actions / 2.0, atol=1e-6)
        obs, _ = env.reset(seed=ep)
        np.testing.assert_allclose(obs, mine["obs"][0], atol=1e-6)
        for t in range(len(mine["reward"])):
            obs, r, *_ = env.step(mine["action"][t])
            np.testing.assert_allclose(obs, mine["obs"][t + 1], atol=1e-5)
            assert r == pytest.approx(float(mine["reward"][t]), abs=1e-4)
        assert mine["truncated"][-1] and not mine["terminated"].any()
    # it feeds training like any dataset; a wrong env is refused
    bad = run_cli("import-minari", "pendulum/test-v0", "-o", tmp_path / "x", "--env", "dmc/cartpole-swingup")
    assert bad.returncode != 0 and "observations of shape (3,)" in bad.stderr
    bad = run_cli("import-minari", "pendulum/nope-v0", "-o", tmp_path / "y")
    assert bad.returncode != 0 and "cannot open Minari dataset" in bad.stderr and "pendulum/test-v0" in bad.stderr
    run_cli("train", "--env", "gym/Pendulum-v1", "--algo", "bc", "--data", out, "--steps", "20", "--eval-every", "20",
            "--eval-episodes", "1", "--no-video", "--run-dir", tmp_path / "bc", "--threads", "1", "--no-progress",
            check=True)
