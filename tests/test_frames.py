"""Pixel replay and pixel envs: frames stored once, stacks and n-step returns rebuilt exactly."""

import numpy as np
import pytest
import torch

from visuomotor.buffers.frames import FrameReplay

C, H, W = 3, 4, 4


def _frame(value):
    return np.full((C, H, W), value, dtype=np.uint8)


def _episodes(lengths, terminated_last):
    """Episodes as (frames [T+1], action [T, 1], reward [T], terminated [T], truncated [T]); frame
    values are unique so stacks can be checked by value."""
    out, v = [], 1
    for T, term in zip(lengths, terminated_last):
        frames = np.stack([_frame(v + i) for i in range(T + 1)])
        v += T + 1
        action = np.arange(T, dtype=np.float32)[:, None] + 0.5
        reward = np.arange(1, T + 1, dtype=np.float32)
        terminated = np.zeros(T, bool)
        truncated = np.zeros(T, bool)
        (terminated if term else truncated)[-1] = True
        out.append((frames, action, reward, terminated, truncated))
    return out


def _naive(frames, t, k):
    """FrameStack's view at step t of an episode: frames t-k+1..t with the reset frame repeated."""
    return np.concatenate([frames[max(0, t - j)] for j in range(k - 1, -1, -1)], 0)


def _fill_by_steps(rb, episodes, k):
    """Through add() as the loop does, with stacked observations like the env wrapper's."""
    for frames, action, reward, terminated, truncated in episodes:
        for t in range(len(reward)):
            rb.add(_naive(frames, t, k), action[t], reward[t], _naive(frames, t + 1, k), terminated[t], truncated[t])


def _all_samples(rb, n=4000):
    torch.manual_seed(0)
    return rb.sample(n)


@pytest.mark.parametrize("k,n_step", [(3, 3), (1, 1), (2, 5)])
def test_stacks_and_nstep_match_naive_computation(k, n_step):
    gamma = 0.9
    eps = _episodes([5, 2, 4], terminated_last=[True, False, True])
    rb = FrameReplay(100, (C, H, W), 1, frame_stack=k, n_step=n_step, gamma=gamma, seed=0)
    _fill_by_steps(rb, eps, k)
    assert rb.total == sum(len(e[2]) + 1 for e in eps)  # each frame once: T + 1 per episode
    assert len(rb) == sum(len(e[2]) for e in eps)
    # the expected transition for every (episode, t), keyed by the obs stack's bytes
    expected = {}
    for frames, action, reward, terminated, _ in eps:
        T = len(reward)
        for t in range(T):
            m = min(n_step, T - t)
            R = sum(gamma**i * reward[t + i] for i in range(m))
            disc = 0.0 if terminated[t + m - 1] else gamma**m
            expected[_naive(frames, t, k).tobytes()] = (action[t], R, disc, _naive(frames, t + m, k))
    b = _all_samples(rb)
    seen = set()
    for i in range(len(b.reward)):
        key = b.obs[i].numpy().tobytes()
        act, R, disc, nxt = expected[key]
        seen.add(key)
        np.testing.assert_allclose(b.action[i].numpy(), act)
        assert b.reward[i].item() == pytest.approx(R, rel=1e-6)
        assert b.discount[i].item() == pytest.approx(disc, rel=1e-6)
        np.testing.assert_array_equal(b.next_obs[i].numpy(), nxt)
    assert seen == set(expected)  # every transition is reachable, none invented
    assert b.obs.dtype == torch.uint8 and b.obs.shape[1:] == (k * C, H, W)


def test_hand_computed_nstep_with_termination_and_truncation():
    # episode A: rewards 1, 2, 4, terminated at its last step; episode B: rewards 8, 16, truncated
    rb = FrameReplay(50, (C, H, W), 1, frame_stack=1, n_step=3, gamma=0.5, seed=0)
    for frames, action, reward, term, trunc in _episodes([3, 2], [True, False]):
        reward = np.array([1.0, 2.0, 4.0] if len(reward) == 3 else [8.0, 16.0], dtype=np.float32)
        rb.add_episode({"obs": frames, "action": action, "reward": reward, "terminated": term, "truncated": trunc})
    b = _all_samples(rb)
    got = {int(b.obs[i, 0, 0, 0]): (b.reward[i].item(), b.discount[i].item(), int(b.next_obs[i, 0, 0, 0]))
           for i in range(len(b.reward))}
    # frames of A: 1, 2, 3, 4; of B: 5, 6, 7
    assert got[1] == pytest.approx((1 + 0.5 * 2 + 0.25 * 4, 0.0, 4))  # 3 steps, ends in termination
    assert got[2] == pytest.approx((2 + 0.5 * 4, 0.0, 4))
    assert got[3] == pytest.approx((4.0, 0.0, 4))
    assert got[5] == pytest.approx((8 + 0.5 * 16, 0.25, 7))  # truncated: bootstraps from its last frame
    assert got[6] == pytest.approx((16.0, 0.5, 7))
    assert set(got) == {1, 2, 3, 5, 6}  # last frames start no transition


def test_wraparound_keeps_only_complete_stacks():
    k = 3
    eps = _episodes([6, 6, 6], [False, False, False])
    rb = FrameReplay(10, (C, H, W), 1, frame_stack=k, n_step=2, gamma=0.9, seed=0)
    _fill_by_steps(rb, eps, k)  # 21 frames through a ring of 10: frames 12..21 (values) remain
    b = _all_samples(rb)
    frames_kept = set(range(12, 22))
    for i in range(len(b.reward)):
        for stack in (b.obs[i], b.next_obs[i]):
            vals = {int(stack[c * C, 0, 0]) for c in range(k)}
            assert vals <= frames_kept  # never a frame that was overwritten
    # the stacks of the last episode (values 15..21) are all intact, and sampled
    starts = {int(b.obs[i, -C, 0, 0]) for i in range(len(b.reward))}
    assert {15, 16, 17, 18, 19, 20} <= starts


def test_memory_per_transition_within_budget():
    rb = FrameReplay(1000, (3, 84, 84), 6, frame_stack=3)
    assert rb.nbytes_per_frame() <= 1.1 * 84 * 84 * 3
    stored = rb.frames.element_size() * rb.frames.numel() + rb.action.numel() * 4 + rb.reward.numel() * 4 \
        + rb.terminal.numel() + rb.episode.numel() * 8
    assert stored / 1000 <= 1.1 * 84 * 84 * 3


def test_sampling_is_seeded():
    eps = _episodes([8, 8], [False, True])
    a, b = (FrameReplay(100, (C, H, W), 1, seed=3) for _ in range(2))
    for rb in (a, b):
        _fill_by_steps(rb, eps, 3)
    x, y = a.sample(16), b.sample(16)
    assert torch.equal(x.obs, y.obs) and torch.equal(x.reward, y.reward)
    b.set_rng_state(a.rng_state())
    assert torch.equal(a.sample(8).obs, b.sample(8).obs)
    with pytest.raises(RuntimeError, match="no complete transition"):
        FrameReplay(10, (C, H, W), 1).sample(2)


def test_pixel_env_obs_and_stack():
    from visuomotor import make_env

    env = make_env("dmc/cartpole-swingup", seed=0, pixels=True, action_repeat=2, frame_stack=3)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (9, 84, 84) and obs.dtype == np.uint8
    np.testing.assert_array_equal(obs[0:3], obs[6:9])  # reset repeats the first frame
    nxt, *_ = env.step(np.ones(1, np.float32))
    np.testing.assert_array_equal(nxt[0:6], obs[3:9])  # the stack shifts by one frame
    assert not np.array_equal(nxt[6:9], obs[6:9])  # the cart moved
    assert 10 < nxt.mean() < 245


def test_malloc_tuning_is_opt_out_and_idempotent():
    import os
    import subprocess
    import sys

    code = "from visuomotor._malloc import tune_malloc; print(tune_malloc(), tune_malloc())"
    on = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                        env={**os.environ, "VISUOMOTOR_MALLOC": ""}).stdout.split()
    off = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "VISUOMOTOR_MALLOC": "default"}).stdout.split()
    assert off == ["False", "False"]
    if not sys.platform.startswith("linux"):
        pytest.skip("glibc malloc tuning applies on Linux")
    assert on == ["True", "True"]


def test_gym_pixel_env_takes_the_fast_render_path():
    import mujoco

    from visuomotor import make_env

    env = make_env("gym/HalfCheetah-v5", seed=0, pixels=True, frame_stack=2)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (6, 84, 84) and obs.dtype == np.uint8 and 10 < obs.mean() < 245
    u = env.unwrapped
    assert u.model.vis.quality.offsamples == 0
    viewer = u.mujoco_renderer._get_viewer("rgb_array")
    assert viewer.scn.flags[mujoco.mjtRndFlag.mjRND_SHADOW] == 0
    slow = make_env("gym/HalfCheetah-v5", seed=0, pixels=True, fast_render=False)
    slow.reset(seed=0)
    assert slow.unwrapped.model.vis.quality.offsamples > 0
