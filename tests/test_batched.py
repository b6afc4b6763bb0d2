"""The batched MuJoCo path (--vectorization mujoco) against gymnasium's own envs."""

import csv

import gymnasium as gym
import mujoco
import numpy as np
import pytest
from mujoco import rollout

from tests.conftest import run_cli
from visuomotor.envs.batched import BatchedMujocoEnv
from visuomotor.envs.randomization import RandomizationConfig
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


def test_ppo_trains_on_the_batched_path_with_randomization(tmp_path):
    run = tmp_path / "r"
    run_cli("train", "--env", "gym/Hopper-v5", "--algo", "ppo", "--vectorization", "mujoco", "--num-envs", "16",
            "--steps", "1536", "--eval-episodes", "1", "--no-video", "--run-dir", run, "--threads", "1",
            "--no-progress", "--ppo.hidden", "16", "--log-every", "500", "--dr.enabled", "--dr.mass", "1.3", "1.4",
            "--dr.push-interval", "20", check=True)
    assert (run / "checkpoints" / "latest.pt").is_file()
    import yaml

    assert yaml.safe_load((run / "config.yaml").read_text())["vectorization"] == "mujoco"
    with open(run / "metrics.csv", newline="") as f:
        masses = [float(r["dr/mass"]) for r in csv.DictReader(f) if r.get("dr/mass")]
    assert masses and all(1.3 <= m <= 1.4 for m in masses)


def _dr_env(name, n, seed=0, **kw):
    return BatchedMujocoEnv(name, n, seed=seed, randomization=RandomizationConfig(enabled=True, **kw))


def test_randomization_gives_each_copy_its_own_model_and_redraws_on_reset():
    b = _dr_env("gym/Walker2d-v5", 3)
    _, info = b.reset(seed=5)
    nominal = gym.make("Walker2d-v5").unwrapped.model
    np.testing.assert_array_equal(b.model.body_mass, nominal.body_mass)  # the shared model stays nominal
    for i, m in enumerate(b.models):
        f = b.factors[i]
        np.testing.assert_allclose(m.body_mass[1:], nominal.body_mass[1:] * f["mass"])
        np.testing.assert_allclose(m.geom_friction[:, 0], nominal.geom_friction[:, 0] * f["friction"])
        np.testing.assert_allclose(m.dof_damping, nominal.dof_damping * f["damping"])
        np.testing.assert_allclose(m.actuator_gainprm[:, 0], nominal.actuator_gainprm[:, 0] * f["actuator_gain"])
        assert ((0.8 <= f["mass"]) & (f["mass"] <= 1.2)).all() and ((0.5 <= f["friction"]) & (f["friction"] <= 1.25)).all()
        assert info["dr/mass"][i] == pytest.approx(f["mass"].mean()) and info["_dr/mass"][i]
    assert not np.allclose(b.factors[0]["mass"], b.factors[1]["mass"])
    # the same seed draws the same dynamics; another seed others
    again = _dr_env("gym/Walker2d-v5", 3)
    again.reset(seed=5)
    other = _dr_env("gym/Walker2d-v5", 3)
    other.reset(seed=6)
    for i in range(3):
        np.testing.assert_array_equal(again.factors[i]["mass"], b.factors[i]["mass"])
        assert not np.allclose(other.factors[i]["mass"], b.factors[i]["mass"])

    # each copy steps with its own model: the same as a rollout of that model alone, unlike the nominal one
    start = b.states.copy()
    a = np.random.default_rng(0).uniform(-1, 1, (3, b.nu))
    b.step(a)
    for i, m in enumerate(b.models):
        own, _ = rollout.rollout(m, mujoco.MjData(m), start[i:i + 1], a[i:i + 1, None, :], nstep=4)
        np.testing.assert_array_equal(b.states[i], own[0, -1])
        nom, _ = rollout.rollout(nominal, mujoco.MjData(nominal), start[i:i + 1], a[i:i + 1, None, :], nstep=4)
        assert not np.allclose(b.states[i], nom[0, -1])

    # a copy that ends its episode (torso on the ground) gets new dynamics; the others keep theirs
    before = [dict(f) for f in b.factors]
    qpos = np.tile(nominal.qpos0, (3, 1))
    qpos[0, 1] = 0.3  # below Walker2d's healthy height
    b.set_states(qpos, np.zeros((3, b.nv)))
    _, _, term, _, info = b.step(np.zeros((3, b.nu)))
    assert term[0] and not term[1:].any()
    assert info["_dr/mass"].tolist() == [True, False, False]
    assert not np.allclose(b.factors[0]["mass"], before[0]["mass"])
    np.testing.assert_array_equal(b.factors[1]["mass"], before[1]["mass"])


def test_batched_pushes_kick_the_root_velocity_at_the_interval():
    fixed = dict(mass=(1.0, 1.0), friction=(1.0, 1.0), damping=(1.0, 1.0), actuator_gain=(1.0, 1.0))
    pushed = _dr_env("gym/HalfCheetah-v5", 2, push_interval=3, push_velocity=0.5, **fixed)
    plain = BatchedMujocoEnv("gym/HalfCheetah-v5", 2, seed=0)
    pushed.reset(seed=1)
    plain.reset(seed=1)
    np.testing.assert_array_equal(pushed.states, plain.states)
    qvel = pushed._qvel
    for t in range(1, 5):
        a = np.full((2, 6), 0.3)
        _, _, _, _, info = pushed.step(a)
        plain.step(a)
        if t < 3:  # unit factors: the same physics until the first push
            np.testing.assert_array_equal(pushed.states, plain.states)
            assert "dr/push" not in info
        if t == 3:
            kick = pushed.states[:, qvel] - plain.states[:, qvel]
            assert info["_dr/push"].all()
            np.testing.assert_allclose(np.abs(kick[:, :2]).max(1), info["dr/push"])  # rootx, rootz slides
            assert (np.abs(kick[:, :2]) <= 0.5).all() and (np.abs(kick[:, :2]) > 0).all()
            np.testing.assert_array_equal(kick[:, 2:], 0.0)  # no other dof is pushed
            plain.states[:] = pushed.states  # follow on from the same state
