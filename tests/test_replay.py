import numpy as np
import pytest
import torch

from visuomotor.buffers import EpisodeRecorder, ReplayBuffer, list_episodes, load_episode, transitions, write_episode


def _fill(rb, start, n):
    for i in range(start, start + n):
        rb.add(np.full(3, i, np.float32), np.full(2, i, np.float32), float(i), np.full(3, i + 1, np.float32),
               terminated=(i % 5 == 4))


def test_capacity_wraparound_keeps_newest():
    rb = ReplayBuffer(capacity=7, obs_dim=3, act_dim=2)
    _fill(rb, 0, 10)
    assert len(rb) == 7 and rb.pos == 3
    assert sorted(rb.reward.tolist()) == list(range(3, 10))
    # slots 0..2 were overwritten by transitions 7..9, in order
    assert rb.reward[:3].tolist() == [7.0, 8.0, 9.0]
    torch.testing.assert_close(rb.next_obs[:, 0], rb.obs[:, 0] + 1)


def test_add_many_equals_add_in_order_and_wraps():
    a, b = ReplayBuffer(6, 3, 2), ReplayBuffer(6, 3, 2)
    _fill(a, 0, 9)
    obs = np.arange(9, dtype=np.float32)[:, None].repeat(3, 1)
    b.add_many(obs, obs[:, :2], np.arange(9.0), obs + 1, np.arange(9) % 5 == 4)
    for name in ("obs", "action", "reward", "next_obs", "terminated"):
        torch.testing.assert_close(getattr(a, name), getattr(b, name))
    assert (a.pos, a.size) == (b.pos, b.size)
    c = ReplayBuffer(4, 3, 2)
    c.add_many(obs, obs[:, :2], np.arange(9.0), obs + 1, np.zeros(9))  # longer than capacity
    assert sorted(c.reward.tolist()) == [5.0, 6.0, 7.0, 8.0]


def test_sampling_only_filled_slots_consistently_and_seeded():
    rb = ReplayBuffer(100, 3, 2, seed=3)
    _fill(rb, 0, 10)
    batch = rb.sample(512)
    assert batch.obs.shape == (512, 3) and batch.action.shape == (512, 2) and batch.reward.shape == (512,)
    assert set(batch.reward.tolist()) <= set(range(10)) and len(set(batch.reward.tolist())) == 10
    torch.testing.assert_close(batch.obs[:, 0], batch.reward)  # every field from the same slot
    torch.testing.assert_close(batch.terminated, (batch.reward % 5 == 4).float())
    state = rb.rng_state()
    x = rb.sample(8).reward
    rb.set_rng_state(state)
    torch.testing.assert_close(rb.sample(8).reward, x)


def test_termination_and_truncation_flags_roundtrip(tmp_path):
    rec = EpisodeRecorder()
    rec.start(np.zeros(3, np.float32))
    for t in range(4):
        rec.step(np.zeros(2, np.float32), 1.0, np.full(3, t + 1, np.float32), terminated=False, truncated=(t == 3))
    path = write_episode(tmp_path, 0, 4, rec.arrays())
    assert list_episodes(tmp_path) == [(0, 4, path)]
    ep = load_episode(path)
    assert ep["obs"].shape == (5, 3) and ep["truncated"].tolist() == [False, False, False, True]
    obs, act, rew, nxt, term = transitions(ep)
    assert term.tolist() == [False] * 4  # a truncated episode never marks a terminal state
    np.testing.assert_array_equal(nxt[:-1], obs[1:])
    rb = ReplayBuffer(10, 3, 2)
    rb.add_many(obs, act, rew, nxt, term)
    assert rb.terminated[:4].sum().item() == 0


def test_no_partial_files_visible(tmp_path):
    (tmp_path / ".ep_000001_000000010.npz.tmp").write_bytes(b"half")
    assert list_episodes(tmp_path) == []


def test_bad_capacity():
    with pytest.raises(ValueError, match="capacity"):
        ReplayBuffer(0, 3, 2)
