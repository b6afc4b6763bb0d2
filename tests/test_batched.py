"""The batched MuJoCo path (--vectorization mujoco) against gymnasium's own envs."""

import gymnasium as gym
import numpy as np
import pytest

from tests.conftest import run_cli
from visuomotor.envs.batched import BatchedMujocoEnv
from visuomotor.envs.vector import make_vec_env
from visuomotor.errors import VisuomotorError


@pytest.mark.parametrize("name", ["HalfCheetah-v5", "Hopper-v5", "Walker2d-v5"])
def test_same_observations_rewards_and_terminations_as_gymnasium(name):
    n = 3
    b = BatchedMujocoEnv(f"gym/{name}", n, seed=0, threads=2)
    b.reset(seed=0)
    refs = [gym.make(name) for _ in range(n)]
    rng = np.random.default_rng(0)
    # large start noise so Hopper and Walker2d fall within the horizon and terminations get compared
    qpos = np.stack([r.unwrapped.init_qpos + rng.uniform(-0.1, 0.1, b.nq) for r in refs])
    qvel = np.stack([r.unwrapped.init_qvel + rng.uniform(-0.1, 0.1, b.nv) for r in refs])
    for i, r in enumerate(refs):
        r.reset(seed=i)
        r.unwrapped.set_state(qpos[i], qvel[i])
    b.set_states(qpos, qvel)
    alive, ended = [True] * n, 0
    for t in range(30):
        a = rng.uniform(-1, 1, (n, b.nu)).astype(np.float32)
        obs, rew, term, trunc, info = b.step(a)
        for i, r in enumerate(refs):
            if not alive[i]:
                continue
            ro, rr, rterm, rtrunc, _ = r.step(a[i])
            assert term[i] == rterm and not trunc[i], (t, i)
            got = info["final_obs"][i] if rterm else obs[i]
            # float32 observations; the rollout's zero solver warm start differs at solver tolerance
            np.testing.assert_allclose(got, ro.astype(np.float32), atol=1e-5, rtol=1e-5)
            assert abs(rew[i] - rr) < 1e-6
            if rterm:
                alive[i], ended = False, ended + 1
                assert obs[i][0] != got[0]  # already the next episode's first observation
    if name != "HalfCheetah-v5":
        assert ended >= 1  # the health checks were exercised


def test_time_limit_truncates_and_autoresets():
    b = BatchedMujocoEnv("gym/HalfCheetah-v5", 2, seed=0)
    b.reset(seed=1)
    zero = np.zeros((2, 6), np.float32)
    for t in range(1, 1001):
        obs, _, term, trunc, info = b.step(zero)
        assert not term.any()
        if t < 1000:
            assert not trunc.any() and not info
    assert trunc.all() and info["_final_obs"].all()
    assert np.abs(obs).max() < 1.0  # fresh episodes near the initial pose
    assert (b.t == 0).all()


def test_unsupported_env_and_settings_fail_clearly():
    with pytest.raises(VisuomotorError, match="supports gym/HalfCheetah-v5"):
        make_vec_env("gym/Ant-v5", 2, vectorization="mujoco")
    with pytest.raises(VisuomotorError, match="action_repeat"):
        make_vec_env("gym/Hopper-v5", 2, vectorization="mujoco", action_repeat=2)


def test_ppo_trains_on_the_batched_path(tmp_path):
    run = tmp_path / "r"
    run_cli("train", "--env", "gym/Hopper-v5", "--algo", "ppo", "--vectorization", "mujoco", "--num-envs", "16",
            "--steps", "1536", "--eval-episodes", "1", "--no-video", "--run-dir", run, "--threads", "1",
            "--no-progress", "--ppo.hidden", "16", check=True)
    assert (run / "checkpoints" / "latest.pt").is_file()
    import yaml

    assert yaml.safe_load((run / "config.yaml").read_text())["vectorization"] == "mujoco"
