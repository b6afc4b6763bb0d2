"""The off-policy driver with N envs (``--num-envs``): each env's stream reaches the replay with its real
last observation where an episode ended, every env's episodes are written, and the settings it does
not take are one-line errors before any work."""

import csv

import numpy as np
import pytest
import torch

from visuomotor.cli import main

TARGET = "tests.test_ppo:target_env"  # 8-step episodes; the observation is the episode's target throughout
COMMON = ["--env", TARGET, "--threads", "1", "--no-progress", "--no-video", "--eval-episodes", "2", "--seed", "0"]


@pytest.mark.parametrize("algo", ["sac", "td3"])
def test_n_envs_feed_one_replay_with_real_final_observations(tmp_path, drivers, algo):
    run = tmp_path / algo
    tiny = [f"--{algo}.hidden", "16", "16", f"--{algo}.batch-size", "16", f"--{algo}.learning-starts", "16"]
    assert main(["train", "--algo", algo, "--num-envs", "4", "--steps", "64", "--eval-every", "32",
                 "--log-every", "16", "--checkpoint-every", "32", "--run-dir", str(run), *tiny, *COMMON]) == 0
    replay = drivers[-1].agent.storage
    assert len(replay) == 64  # 16 steps of 4 envs
    n = len(replay)
    obs, nxt, ended = replay.obs[:n], replay.next_obs[:n], replay.ended[:n]
    assert int(ended.sum()) == 8  # each env ended an episode every 8 steps
    # the target env shows its episode's target throughout: an ended transition's next state is the
    # real last observation (the same target), never the next episode's first
    torch.testing.assert_close(nxt[ended], obs[ended])
    rows = ended.nonzero().squeeze(1)
    rows = rows[rows + 4 < n]  # the same env's next transition starts the next episode: another target
    assert (nxt[rows] != obs[rows + 4]).all()
    files = sorted((run / "episodes").glob("ep_*.npz"))
    assert len(files) == 8 and all(np.load(f)["action"].shape == (8, 1) for f in files)
    with open(run / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["step"] for r in rows] == ["16", "32", "48", "64"] and rows[-1]["charts/episodes"] == "8"
    assert rows[-1]["losses/critic"] != ""
    # updates: one round per env step past learning_starts (48 steps of 4 envs: 48 updates)
    if algo == "td3":
        assert torch.load(run / "checkpoints" / "latest.pt", weights_only=True)["agent"]["updates"] == 48


@pytest.mark.parametrize("algo", ["sac", "td3"])
def test_n_step_returns_over_n_envs_stay_within_each_env(tmp_path, drivers, algo):
    """--num-envs 4 with 3-step returns: every sampled return and next state come from one env's own
    episode (the target env shows one target per episode: a next state from another env or episode
    would show another), however the four envs interleave."""
    tiny = [f"--{algo}.hidden", "16", "16", f"--{algo}.batch-size", "16", f"--{algo}.learning-starts", "16",
            f"--{algo}.n-step", "3"]
    assert main(["train", "--algo", algo, "--num-envs", "4", "--steps", "64", "--eval-every", "64",
                 "--run-dir", str(tmp_path / "run"), *tiny, *COMMON]) == 0
    replay = drivers[-1].agent.storage
    batch = replay.sample(2000)
    torch.testing.assert_close(batch.next_obs, batch.obs)
    assert len(replay) == 64 and replay.size.tolist() == [16, 16, 16, 16]
    gamma = drivers[-1].agent.gamma()  # gamma^m, m = 1..3 steps (fewer at an episode's end)
    assert all(min(abs(d - gamma ** m) for m in (1, 2, 3)) < 1e-6 for d in batch.discount.unique().tolist())


@pytest.mark.parametrize("extra, needle", [
    (["--algo", "drqv2", "--env", "dmc/cartpole-swingup"], "--num-envs 1"),
])
def test_settings_n_envs_do_not_take_are_one_line_errors(tmp_path, capsys, extra, needle):
    assert main(["train", *COMMON, "--num-envs", "4", "--steps", "10", "--run-dir", str(tmp_path / "x"), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and needle in err
    assert not (tmp_path / "x" / "episodes").exists()


def test_n_envs_on_the_batched_mujoco_path(tmp_path, drivers):
    """--vectorization mujoco under an off-policy learner: Hopper's terminations reach the replay as
    terminations, with the real last observations."""
    run = tmp_path / "hopper"
    assert main(["train", "--env", "gym/Hopper-v5", "--algo", "sac", "--num-envs", "4", "--vectorization", "mujoco",
                 "--steps", "200", "--eval-every", "200", "--eval-episodes", "1", "--no-video", "--run-dir", str(run),
                 "--threads", "1", "--no-progress", "--sac.hidden", "16", "16", "--sac.batch-size", "16",
                 "--sac.learning-starts", "200"]) == 0
    replay = drivers[-1].agent.storage
    n = len(replay)
    assert n == 200 and replay.terminated[:n].sum() > 0  # random actions topple Hopper within 50 steps
    ended = replay.ended[:n]
    assert torch.equal(replay.terminated[:n].bool() & ended, replay.terminated[:n].bool())
    assert len(list((run / "episodes").glob("ep_*.npz"))) == int(ended.sum())
