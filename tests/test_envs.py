import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from visuomotor import VisuomotorError, make_env
from visuomotor.envs.dmc import dmc_env_ids
from visuomotor.envs.gym import GymBackend
from visuomotor.envs.registry import validate_env_id


def _pendulum_factory(**kwargs):
    """A user's own env, reached as tests.test_envs:_pendulum_factory."""
    return gym.make("Pendulum-v1", **kwargs)


@pytest.mark.parametrize("env_id", ["dmc/cartpole-swingup", "dmc/walker-walk", "gym/HalfCheetah-v5",
                                    "gym/Hopper-v5", "tests.test_envs:_pendulum_factory"])
def test_check_env_passes(env_id):
    env = make_env(env_id, seed=0)
    check_env(env, skip_render_check=True)
    assert env.observation_space.dtype == np.float32 and len(env.observation_space.shape) == 1
    assert np.all(env.action_space.low == -1) and np.all(env.action_space.high == 1)
    obs, _ = env.reset(seed=0)
    assert obs.dtype == np.float32 and obs.shape == env.observation_space.shape


def test_every_dmc_id_constructs_and_steps():
    ids = dmc_env_ids()
    assert len(ids) >= 50
    for env_id in ids:
        env = make_env(env_id, seed=1)
        obs, _ = env.reset(seed=1)
        assert obs.shape == env.observation_space.shape, env_id
        obs, r, term, trunc, _ = env.step(env.action_space.sample())
        assert np.isfinite(obs).all() and np.isfinite(r), env_id
        env.close()


def test_gym_mujoco_ids_listed():
    ids = GymBackend().ids()
    assert "gym/HalfCheetah-v5" in ids and "gym/Ant-v5" in ids


def test_dmc_time_limit_is_truncation_not_termination():
    env = make_env("dmc/cartpole-swingup", seed=0)
    env.reset(seed=0)
    flags = []
    for _ in range(1000):
        _, _, term, trunc, _ = env.step(env.action_space.sample())
        flags.append((term, trunc))
    assert flags[-1] == (False, True)
    assert not any(t or u for t, u in flags[:-1])


def test_gym_time_limit_is_truncation():
    env = make_env("gym/InvertedPendulum-v5", seed=0)
    env.reset(seed=0)
    # balance with a zero action never terminates quickly; a forced termination shows the other flag
    term = trunc = False
    steps = 0
    while not (term or trunc):
        _, _, term, trunc, _ = env.step(np.ones(1, np.float32))
        steps += 1
    assert term and not trunc and steps < 1000  # pushing one way topples it: a real termination


def test_dmc_reset_seed_reproduces_and_actions_scale():
    env = make_env("dmc/walker-walk", seed=3)
    a, _ = env.reset(seed=7)
    b, _ = env.reset(seed=7)
    np.testing.assert_array_equal(a, b)
    c, _ = env.reset(seed=8)
    assert not np.array_equal(a, c)
    # actions in [-1, 1] map onto the task's bounds: +1 is the max torque
    low, high = env.unwrapped._act_low, env.unwrapped._act_high
    np.testing.assert_allclose(low + (np.ones(6) + 1) * 0.5 * (high - low), high)


def test_gym_render_rgb_array_and_action_repeat():
    env = make_env("gym/HalfCheetah-v5", seed=0, render_mode="rgb_array", action_repeat=4)
    env.reset(seed=0)
    frame = env.render()
    assert frame.ndim == 3 and frame.shape[2] == 3 and frame.dtype == np.uint8 and frame.std() > 0
    assert env.metadata["render_fps"] == 5  # 20 fps / 4


def test_action_repeat_sums_rewards_and_stops_at_episode_end():
    base, rep = make_env("dmc/cartpole-swingup", seed=0), make_env("dmc/cartpole-swingup", seed=0, action_repeat=3)
    base.reset(seed=4)
    rep.reset(seed=4)
    a = np.array([0.3], np.float32)
    total = sum(base.step(a)[1] for _ in range(3))
    _, r, _, _, _ = rep.step(a)
    assert r == pytest.approx(total)
    steps, done = 1, False
    while not done:
        _, _, term, trunc, _ = rep.step(a)
        done = term or trunc
        steps += 1
    assert steps == 334 and trunc  # ceil(1000 / 3): the last repeat is cut at the time limit


def test_dmc_render_rgb_array():
    env = make_env("dmc/cartpole-swingup", seed=0, render_mode="rgb_array", render_size=(48, 64))
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (48, 64, 3) and frame.dtype == np.uint8 and frame.std() > 0


@pytest.mark.parametrize("bad,expect", [
    ("dmc/cartpol-swingup", "dmc/cartpole-swingup"),
    ("gym/HalfCheeta-v5", "gym/HalfCheetah-v5"),
    ("walker-walk", "dmc/walker-walk"),
])
def test_unknown_env_lists_closest(bad, expect):
    with pytest.raises(VisuomotorError) as e:
        validate_env_id(bad)
    msg = str(e.value)
    assert "\n" not in msg and bad in msg and expect in msg


def test_bad_factory_is_one_line_error():
    with pytest.raises(VisuomotorError, match="no callable"):
        validate_env_id("tests.test_envs:nope")
    with pytest.raises(VisuomotorError, match="cannot import"):
        validate_env_id("no_such_module_xyz:factory")


def test_a_pixel_env_can_return_the_state_it_renders_as_a_privileged_observation():
    """make_env(pixels=True, state_info=True): info["state"] is the state observation the frame replaces,
    equal to the state env's own observation at every reset and step (action repeat included)."""
    pix = make_env("dmc/cartpole-swingup", seed=0, pixels=True, pixel_size=16, action_repeat=4, state_info=True)
    state = make_env("dmc/cartpole-swingup", seed=0, action_repeat=4)
    o_pix, info = pix.reset(seed=5)
    o_state, _ = state.reset(seed=5)
    assert o_pix.shape == (9, 16, 16) and o_pix.dtype == np.uint8
    np.testing.assert_array_equal(info["state"], o_state)
    rng = np.random.default_rng(0)
    for _ in range(5):
        a = rng.uniform(-1, 1, 1).astype(np.float32)
        _, r_pix, _, _, info = pix.step(a)
        o_state, r_state, _, _, _ = state.step(a)
        np.testing.assert_array_equal(info["state"], o_state)
        assert info["state"].dtype == np.float32 and r_pix == r_state
    plain = make_env("dmc/cartpole-swingup", seed=0, pixels=True, pixel_size=16)
    assert "state" not in plain.reset(seed=5)[1]
