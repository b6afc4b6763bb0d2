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


def _nstep_buffer(capacity: int, n: int, gamma: float = 0.5):
    """Episodes written step by step: A = 3 steps ending in a time-limit truncation, B = 2 steps
    ending in a termination, C = 2 steps still running. obs = the global step index, reward = 2^t."""
    rb = ReplayBuffer(capacity, obs_dim=1, act_dim=1, n_step=n, gamma=gamma)
    t = 0
    for length, how in ((3, "truncated"), (2, "terminated"), (2, None)):
        for j in range(length):
            last = j == length - 1
            rb.add([t], [0.0], 2.0 ** t, [t + 1], terminated=last and how == "terminated",
                   truncated=last and how == "truncated")
            t += 1
    return rb


def _nstep_at(rb, starts):
    return rb._n_step_batch(torch.as_tensor(starts))


def test_n_step_returns_against_hand_computed_episodes():
    g = 0.5
    b = _nstep_at(_nstep_buffer(16, 3, g), [0, 1, 2, 3, 4, 5, 6])
    # A (t 0-2, truncated at 2): from 0 all 3 steps; from 1 two (cut by the truncation); from 2 one
    # B (t 3-4, terminated at 4): from 3 two steps then no bootstrap; from 4 one, terminal
    # C (t 5-6, running, newest at 6): from 5 two steps (the newest stored one), from 6 one
    want_reward = [1 + g * 2 + g * g * 4, 2 + g * 4, 4, 8 + g * 16, 16, 32 + g * 64, 64]
    want_next = [3, 3, 3, 5, 5, 7, 7]
    want_discount = [g ** 3, g ** 2, g, 0.0, 0.0, g ** 2, g]
    assert torch.allclose(b.reward, torch.tensor(want_reward))
    assert b.next_obs[:, 0].tolist() == want_next
    assert torch.allclose(b.discount, torch.tensor(want_discount))
    assert b.obs[:, 0].tolist() == [0, 1, 2, 3, 4, 5, 6]
    assert b.terminated.tolist() == [0, 0, 0, 1, 1, 0, 0]


def test_n_step_stops_at_the_write_head_after_wraparound():
    g = 0.5
    rb = _nstep_buffer(5, 3, g)  # 7 transitions into 5 slots: t 2..6 kept; slot of t = t % 5
    b = _nstep_at(rb, [2 % 5, 5 % 5, 6 % 5])  # t = 2 (A's last), 5, 6 (newest: never reads past it)
    assert b.obs[:, 0].tolist() == [2, 5, 6]
    assert torch.allclose(b.reward, torch.tensor([4, 32 + g * 64, 64.0]))
    assert b.next_obs[:, 0].tolist() == [3, 7, 7]
    assert torch.allclose(b.discount, torch.tensor([g, g ** 2, g]))


def test_n_step_one_is_the_plain_batch_and_episodes_end_where_stored():
    rb1, rb3 = _nstep_buffer(16, 1), _nstep_buffer(16, 3)
    assert rb1.sample(4).discount is None and rb3.sample(4).discount is not None
    # an episode added from disk ends at its last transition even when it was cut short (a run's
    # unfinished episode): the next episode's steps are never part of its returns
    rb = ReplayBuffer(16, 1, 1, n_step=3, gamma=0.5)
    cut = {"obs": np.array([[0.0], [1.0], [2.0]]), "action": np.zeros((2, 1)), "reward": np.array([1.0, 1.0]),
           "terminated": np.array([False, False]), "truncated": np.array([False, False])}
    rb.add_episode(cut)
    rb.add([10.0], [0.0], 100.0, [11.0], terminated=False)
    b = rb._n_step_batch(torch.tensor([0]))
    assert b.reward.item() == 1.5 and b.next_obs.item() == 2.0 and b.discount.item() == 0.25
    with pytest.raises(ValueError, match="n_step"):
        ReplayBuffer(4, 1, 1, n_step=0)


def _stream_reference(streams, n, gamma):
    """Per (env, t): the n-step (reward, next obs id, discount) of each env's own stream, by a plain loop."""
    out = {}
    for e, steps in streams.items():
        for t in range(len(steps)):
            total, disc, last = 0.0, 1.0, t
            for k in range(n):
                if t + k >= len(steps):
                    break
                r, term, end = steps[t + k]
                total += disc * r
                disc *= gamma
                last = t + k
                if end:
                    break
            term_last = steps[last][1]
            out[(e, t)] = (total, last, 0.0 if term_last else disc)
    return out


def test_n_step_returns_follow_each_env_stream_across_interleaved_envs():
    """Two envs step together; env 0 terminates at its step 2, env 1 is truncated at its step 3 (a time
    limit: it bootstraps from its real last observation); n = 3, gamma 0.5."""
    from visuomotor.buffers.replay import StreamReplay

    n, gamma, steps = 3, 0.5, 7
    rb = StreamReplay(capacity=40, num_envs=2, obs_dim=2, act_dim=1, n_step=n, gamma=gamma, seed=0)
    term = {0: {2}, 1: set()}
    trunc = {0: set(), 1: {3}}
    streams = {0: [], 1: []}
    for t in range(steps):
        obs = np.array([[0, t], [1, t]], np.float32)  # (env, step) identifies a transition
        reward = np.array([1.0 + t, 10.0 * (t + 1)], np.float32)
        te = np.array([t in term[0], t in term[1]])
        tr = np.array([t in trunc[0], t in trunc[1]])
        rb.add_batch(obs, np.zeros((2, 1), np.float32), reward, obs + np.array([0, 0.5], np.float32), te, tr)
        for e in (0, 1):
            streams[e].append((float(reward[e]), bool(te[e]), bool(te[e] or tr[e])))
    assert len(rb) == 14
    expected = _stream_reference(streams, n, gamma)
    # by hand: env 0 from step 0: 1 + 0.5 * 2 + 0.25 * 3, terminal at its step 2 -> no bootstrap
    assert expected[(0, 0)] == (1 + 0.5 * 2 + 0.25 * 3, 2, 0.0)
    # env 1 from step 2: 30 + 0.5 * 40, cut by the time limit at step 3 -> bootstrap gamma^2 from obs (1, 3.5)
    assert expected[(1, 2)] == (30 + 0.5 * 40, 3, 0.25)
    # env 1 from step 5: the stream's newest transitions (5, 6) -> gamma^2
    assert expected[(1, 5)] == (60 + 0.5 * 70, 6, 0.25)
    batch = rb.sample(4000)
    seen = set()
    for o, r, nx, d in zip(batch.obs.tolist(), batch.reward.tolist(), batch.next_obs.tolist(), batch.discount.tolist()):
        e, t = int(o[0]), int(o[1])
        total, last, disc = expected[(e, t)]
        assert r == pytest.approx(total) and d == pytest.approx(disc), (e, t)
        assert nx == [e, last + 0.5], (e, t)
        seen.add((e, t))
    assert seen == set(expected)  # every transition of both streams is drawn


def test_stream_replay_rings_wrap_and_take_stored_episodes_into_the_emptiest():
    from visuomotor.buffers.replay import StreamReplay

    rb = StreamReplay(capacity=8, num_envs=2, obs_dim=1, act_dim=1, n_step=2, gamma=0.9)  # 4 slots per env
    for t in range(6):
        rb.add_batch(np.array([[t], [100 + t]], np.float32), np.zeros((2, 1)), np.ones(2), np.zeros((2, 1)),
                     np.zeros(2, bool), np.zeros(2, bool))
    assert rb.size.tolist() == [4, 4] and rb.pos.tolist() == [2, 2]
    assert sorted(rb.obs[:4, 0].tolist()) == [2, 3, 4, 5]  # env 0's ring holds its newest four
    # the newest transition of each ring has no successor stored: a 1-step return (gamma^1) from it
    batch = rb.sample(2000)
    newest = batch.obs[:, 0] % 100 == 5
    torch.testing.assert_close(batch.discount[newest], torch.full((int(newest.sum()),), 0.9))
    torch.testing.assert_close(batch.discount[~newest], torch.full((int((~newest).sum()),), 0.81))
    fresh = StreamReplay(capacity=20, num_envs=2, obs_dim=1, act_dim=1, n_step=2)
    ep = {"obs": np.arange(4, dtype=np.float32)[:, None], "action": np.zeros((3, 1), np.float32),
          "reward": np.ones(3, np.float32), "terminated": np.zeros(3, bool), "truncated": np.array([0, 0, 1], bool)}
    fresh.add_episode(ep)
    fresh.add_episode(ep)
    fresh.add_episode({k: v[:2] if k != "obs" else v[:3] for k, v in ep.items()})
    assert fresh.size.tolist() == [5, 3] and fresh.ended[:5].tolist() == [False, False, True, False, True]
