"""Domain randomization: ranges, restore, seeding, pushes, logging through the loops."""

import csv

import numpy as np
import pytest

from tests.conftest import TINY_SAC, run_cli
from visuomotor.envs import make_env
from visuomotor.envs.randomization import DomainRandomization, RandomizationConfig, mujoco_handles

CFG = RandomizationConfig(enabled=True, mass=(0.5, 0.7), friction=(1.5, 2.0), damping=(0.1, 0.2),
                          actuator_gain=(1.3, 1.4))


def _model(env):
    return mujoco_handles(env)[0]


@pytest.mark.parametrize("env_id", ["dmc/walker-walk", "gym/HalfCheetah-v5"])
def test_parameters_change_within_range_and_restore(env_id):
    env = make_env(env_id, seed=0, randomization=CFG)
    dr = next(w for w in _wrappers(env) if isinstance(w, DomainRandomization))
    m = _model(env)
    nominal = {k: v.copy() for k, v in dr.nominal.items()}
    fresh = _model(make_env(env_id, seed=0))
    consts = {k: getattr(fresh, k).copy() for k in ("body_subtreemass", "dof_invweight0")}

    _, info = env.reset(seed=3)
    ratio = m.body_mass[1:] / nominal["body_mass"][1:]
    assert np.all((ratio >= 0.5 - 1e-12) & (ratio <= 0.7 + 1e-12)) and ratio.std() > 0  # independent per body
    np.testing.assert_allclose(m.body_inertia[1:], nominal["body_inertia"][1:] * ratio[:, None])
    f = m.geom_friction[:, 0] / nominal["geom_friction"][:, 0]
    assert np.all((f >= 1.5 - 1e-12) & (f <= 2.0 + 1e-12))
    np.testing.assert_array_equal(m.geom_friction[:, 1:], nominal["geom_friction"][:, 1:])  # only sliding
    damped = nominal["dof_damping"] > 0
    assert damped.any()
    d = m.dof_damping[damped] / nominal["dof_damping"][damped]
    assert np.all((d >= 0.1 - 1e-12) & (d <= 0.2 + 1e-12))
    g = m.actuator_gainprm[:, 0] / nominal["actuator_gainprm"][:, 0]
    assert np.all((g >= 1.3 - 1e-12) & (g <= 1.4 + 1e-12))
    assert m.body_subtreemass[0] < consts["body_subtreemass"][0]  # derived constants follow the masses
    assert 0.5 <= info["dr/mass"] <= 0.7 and 1.5 <= info["dr/friction"] <= 2.0

    first = m.body_mass.copy()
    env.reset()
    assert not np.array_equal(first, m.body_mass)  # a new draw every episode
    env.step(env.action_space.sample())

    dr.restore()
    for k, v in nominal.items():
        np.testing.assert_array_equal(getattr(m, k), v)
    for k, v in consts.items():
        np.testing.assert_allclose(getattr(m, k), v, rtol=1e-12)
    env.close()


def _wrappers(env):
    while True:
        yield env
        if not hasattr(env, "env"):
            return
        env = env.env


def test_seeds_reproduce_the_draws():
    def draws(seed):
        env = make_env("dmc/cheetah-run", seed=0, randomization=CFG)
        m = _model(env)
        out = []
        env.reset(seed=seed)
        out.append(m.body_mass.copy())
        env.reset()
        out.append(m.geom_friction.copy())
        return out

    a, b, c = draws(11), draws(11), draws(12)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])


def test_randomized_dynamics_change_the_rollout():
    def rollout(randomization):
        env = make_env("dmc/cheetah-run", seed=0, randomization=randomization)
        obs, _ = env.reset(seed=5)
        rng = np.random.default_rng(0)
        for _ in range(50):
            obs, *_ = env.step(rng.uniform(-1, 1, 6).astype(np.float32))
        return obs

    nominal = rollout(None)
    np.testing.assert_array_equal(nominal, rollout(RandomizationConfig(enabled=False)))
    assert np.abs(rollout(CFG) - nominal).max() > 1e-2


def test_pushes_kick_the_root_velocity():
    cfg = RandomizationConfig(enabled=True, mass=(1, 1), friction=(1, 1), damping=(1, 1), actuator_gain=(1, 1),
                              push_interval=5, push_velocity=2.0)
    env = make_env("gym/HalfCheetah-v5", seed=0, randomization=cfg)
    plain = make_env("gym/HalfCheetah-v5", seed=0)
    env.reset(seed=1)
    plain.reset(seed=1)
    data, pdata = mujoco_handles(env)[1], mujoco_handles(plain)[1]
    pushes = []
    zero = np.zeros(6, np.float32)
    for t in range(1, 11):
        _, _, _, _, info = env.step(zero)
        plain.step(zero)
        if "dr/push" in info:
            pushes.append(t)
            assert 0 < info["dr/push"] <= 2.0
            assert abs(data.qvel[0] - pdata.qvel[0]) > 0  # rootx velocity kicked
            pdata.qvel[:] = data.qvel  # resync, so the next comparison isolates the next push
        else:
            np.testing.assert_allclose(data.qvel, pdata.qvel, atol=1e-9)
    assert pushes == [5, 10]


def test_bad_ranges_and_non_mujoco_envs_fail_clearly(tmp_path):
    out = run_cli("train", "--dr.enabled", "--dr.mass", "1.2", "0.8", "--steps", "10", "--run-dir", tmp_path / "a")
    assert out.returncode != 0 and "dr.mass" in out.stderr and "(1.2, 0.8)" in out.stderr
    with pytest.raises(Exception, match="MuJoCo"):
        make_env("tests.test_envs:_pendulum_factory", randomization=CFG)


def test_training_logs_the_draws_and_evaluates_nominal_or_randomized(tmp_path):
    run = tmp_path / "sac"
    run_cli("train", "--env", "dmc/cartpole-swingup", "--algo", "sac", "--steps", "2000", "--run-dir", run,
            "--dr.enabled", "--dr.mass", "0.5", "0.6", "--log-every", "1000", "--eval-episodes", "1", "--no-video",
            "--threads", "1", "--no-progress", *TINY_SAC, check=True)
    with open(run / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    masses = [float(r["dr/mass"]) for r in rows if r.get("dr/mass")]
    assert masses and all(0.5 <= m <= 0.6 for m in masses)
    out = run_cli("eval", run, "--episodes", "2", "--dr", check=True)
    assert "mean" in out.stdout

    ppo = tmp_path / "ppo"
    run_cli("train", "--env", "dmc/cartpole-swingup", "--algo", "ppo", "--num-envs", "2", "--steps", "2016",
            "--run-dir", ppo, "--dr.enabled", "--dr.eval", "--dr.friction", "0.9", "1.0", "--log-every", "1000",
            "--eval-episodes", "1", "--no-video", "--threads", "1", "--no-progress", "--ppo.hidden", "16", check=True)
    with open(ppo / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    fr = [float(r["dr/friction"]) for r in rows if r.get("dr/friction")]
    assert fr and all(0.9 <= x <= 1.0 for x in fr)
