"""Exact resume for every algorithm: a run stopped at a checkpoint and resumed ends bit for bit like one
that was never stopped (every parameter, optimizer state, RNG, the stored episodes and the replay).

Each case trains in this process through the CLI's own entry point: once straight to N steps, once to
K < N and then ``--resume`` to N. K falls on an episode end, where the off-policy loop takes its
checkpoints (a kill -9 resumes from such a checkpoint too; a stop mid-episode keeps the open episode
as an episode of its own, and the resumed run starts a fresh one, see test_cli). The replay compared is the live one at the end of each run: the
straight run's was filled step by step, the resumed run's was rebuilt from the run directory (episodes,
the checkpoint's open episode, prior data) and then filled on.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from visuomotor.cli import main

TARGET = "tests.test_ppo:target_env"  # 8-step episodes, 1-d target
COMMON = ["--seed", "3", "--threads", "1", "--no-progress", "--no-video", "--eval-episodes", "1"]
TINY_SAC = ["--sac.hidden", "16", "16", "--sac.batch-size", "16", "--sac.buffer-size", "4000"]
TINY_TD3 = ["--td3.hidden", "16", "16", "--td3.batch-size", "16", "--td3.buffer-size", "4000"]
CARTPOLE = ["--env", "dmc/cartpole-swingup", "--action-repeat", "8"]  # 125-step episodes (time limit)


def train(*args) -> None:
    assert main(["train", *map(str, args)]) == 0


def assert_same(a, b, where="state"):
    """Exact equality of nested checkpoint data (tensors bit for bit, dtype included)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), f"{where}: keys {sorted(a)} vs {sorted(b)}"
        for k in a:
            assert_same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), f"{where}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor), where
        torch.testing.assert_close(a, b, rtol=0, atol=0, equal_nan=True, msg=lambda m: f"{where}: {m}")
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b, err_msg=where)
    else:
        assert a == b or (a != a and b != b), f"{where}: {a!r} != {b!r}"


# what differs between two runs by design: clocks, and the command that started each
_CLOCKS = {"wall_time", "eval_time", "config"}


def assert_same_checkpoint(run_a, run_b):
    a = torch.load(run_a / "checkpoints" / "latest.pt", weights_only=True)
    b = torch.load(run_b / "checkpoints" / "latest.pt", weights_only=True)
    assert_same({k: v for k, v in a.items() if k not in _CLOCKS}, {k: v for k, v in b.items() if k not in _CLOCKS},
                "latest.pt")
    return a


def assert_same_episodes(run_a, run_b):
    ea = sorted(p.name for p in (run_a / "episodes").glob("ep_*.npz"))
    eb = sorted(p.name for p in (run_b / "episodes").glob("ep_*.npz"))
    assert ea == eb
    for name in ea:
        with np.load(run_a / "episodes" / name) as x, np.load(run_b / "episodes" / name) as y:
            assert_same(dict(x), dict(y), f"episodes/{name}")
    return ea


def replay_state(replay) -> dict:
    """Everything a replay holds: its tensors (the slots written so far), counters and sampling RNG."""
    out = {}
    filled = min(replay.capacity, getattr(replay, "total", None) or len(replay))  # (a frame replay counts frames)
    for k, v in vars(replay).items():
        if isinstance(v, torch.Tensor):
            out[k] = v[:filled] if v.dim() and v.shape[0] == replay.capacity else v
        elif isinstance(v, (int, float, bool, tuple)):
            out[k] = v
        elif isinstance(v, torch.Generator):
            out[k] = v.get_state()
    return out


def assert_same_replays(straight, resumed):
    assert_same(replay_state(straight.agent.storage), replay_state(resumed.agent.storage), "replay")
    assert (straight.prior is None) == (resumed.prior is None)
    if straight.prior is not None:
        assert_same(replay_state(straight.prior), replay_state(resumed.prior), "prior")


def eval_rows(run):
    import csv

    with open(run / "eval.csv", newline="") as f:
        return [(r["step"], r["returns"]) for r in csv.DictReader(f)]


def straight_and_split(tmp_path, drivers, args, k, n, first_args=(), final_args=()):
    """Train straight to n, and to k then --resume to n; compare everything; returns the final checkpoint."""
    straight, split = tmp_path / "straight", tmp_path / "split"
    train(*args, *final_args, "--steps", n, "--run-dir", straight)
    live_straight = drivers[-1] if drivers else None
    train(*args, *first_args, "--steps", k, "--run-dir", split)
    train(*args, *final_args, "--steps", n, "--run-dir", split, "--resume")
    ckpt = assert_same_checkpoint(straight, split)
    assert_same_episodes(straight, split)
    assert eval_rows(straight) == eval_rows(split)
    if live_straight is not None:
        assert_same_replays(live_straight, drivers[-1])
    return ckpt


CASES = {
    # n-step returns across a resume (the replay's n-step window spans the stop)
    "sac-nstep": [*CARTPOLE, "--algo", "sac", *TINY_SAC, "--sac.learning-starts", "60", "--sac.n-step", "3"],
    "td3": [*CARTPOLE, "--algo", "td3", *TINY_TD3, "--td3.learning-starts", "60", "--td3.n-step", "2"],
    # SimbaV2 networks: observation and reward statistics, the learning-rate decay, the hypersphere
    "sac-simbav2": [*CARTPOLE, "--algo", "sac", "--sac.net", "simbav2", "--sac.widths", "8", "16", "--sac.blocks", "1",
                    "1", "--sac.num-atoms", "11", "--sac.batch-size", "16", "--sac.learning-starts", "60",
                    "--sac.lr-decay-updates", "200"],
    "td3-simba": [*CARTPOLE, "--algo", "td3", *TINY_TD3, "--td3.net", "simba", "--td3.widths", "8", "16",
                  "--td3.blocks", "1", "1", "--td3.learning-starts", "60"],
}


@pytest.mark.parametrize("case", list(CASES))
def test_state_algorithms_resume_exactly(tmp_path, drivers, case):
    args = [*CASES[case], *COMMON, "--eval-every", "125", "--checkpoint-every", "100", "--log-every", "50"]
    ckpt = straight_and_split(tmp_path, drivers, args, k=250, n=375)
    assert ckpt["step"] == 375 and ckpt["episode_index"] == 3


TINY_PIXELS = ["--env", "dmc/cartpole-swingup", "--action-repeat", "8", "--pixel-size", "48",
               "--eval-every", "125", "--checkpoint-every", "100", "--log-every", "50"]


@pytest.mark.parametrize("algo", ["drqv2", "drm"])
def test_pixel_algorithms_resume_exactly_with_the_frame_replay_rebuilt(tmp_path, drivers, algo):
    tiny = [f"--{algo}.{k}" for k in ("learning-starts", "batch-size", "hidden-dim", "feature-dim", "buffer-size")]
    values = ["40", "8", "16", "8", "1000"]
    args = [*TINY_PIXELS, "--algo", algo, *[x for kv in zip(tiny, values) for x in kv], *COMMON]
    if algo == "drm":  # a perturbation inside the run, after the stop
        args += ["--drm.perturb-every", "150"]
    ckpt = straight_and_split(tmp_path, drivers, args, k=125, n=250)
    assert ckpt["step"] == 250
    assert drivers[-1].agent.storage.frames.shape[1:] == (3, 48, 48)
    if algo == "drm":
        assert 150 <= ckpt["agent"]["last_perturb"] < 250  # perturbed after the stop at 125


@pytest.fixture(scope="module")
def target_data(tmp_path_factory):
    """Random episodes of the target env, and a tiny BC policy trained on them (a residual's base)."""
    root = tmp_path_factory.mktemp("target")
    data, bc = root / "data", root / "bc"
    assert main(["collect", "--random", "--env", TARGET, "--episodes", "20", "-o", str(data)]) == 0
    train("--env", TARGET, "--algo", "bc", "--data", data, "--steps", "40", "--eval-every", "40", "--run-dir", bc,
          "--bc.hidden", "16", "16", *COMMON)
    return data, bc


def test_sac_with_prior_data_resumes_exactly(tmp_path, drivers, target_data):
    data, _ = target_data
    args = ["--env", TARGET, "--algo", "sac", *TINY_SAC, "--sac.learning-starts", "20", "--prior-data", data,
            *COMMON, "--eval-every", "64", "--checkpoint-every", "16", "--log-every", "16"]
    ckpt = straight_and_split(tmp_path, drivers, args, k=64, n=128)
    assert "prior_rng" in ckpt and drivers[-1].prior is not None


@pytest.mark.parametrize("algo", ["sac", "td3"])
def test_residual_learners_resume_exactly(tmp_path, drivers, target_data, algo):
    _, bc = target_data
    tiny = TINY_SAC if algo == "sac" else TINY_TD3
    args = ["--env", TARGET, "--algo", algo, *tiny, f"--{algo}.learning-starts", "20", "--base-policy", bc,
            *COMMON, "--eval-every", "64", "--checkpoint-every", "16", "--log-every", "16"]
    ckpt = straight_and_split(tmp_path, drivers, args, k=64, n=128)
    assert set(ckpt["agent"]) == {"learner", "scale"}


def test_td3bc_offline_then_online_resumes_exactly_across_both_phases(tmp_path, drivers, target_data):
    """Stopped in the offline phase, and again in the online phase (at an episode end), then finished:
    equal to a straight run."""
    data, _ = target_data
    args = ["--env", TARGET, "--algo", "td3bc", "--data", data, "--td3bc.hidden", "16", "16",
            "--td3bc.batch-size", "16", "--prdc", "--mcep", *COMMON, "--eval-every", "48",
            "--checkpoint-every", "48", "--log-every", "24"]
    straight, split = tmp_path / "straight", tmp_path / "split"
    train(*args, "--steps", 96, "--online-steps", 96, "--run-dir", straight)
    live = drivers[-1]
    train(*args, "--steps", 48, "--run-dir", split)  # offline, stopped halfway
    train(*args, "--steps", 96, "--online-steps", 48, "--run-dir", split, "--resume")  # stopped online
    train(*args, "--steps", 96, "--online-steps", 96, "--run-dir", split, "--resume")
    ckpt = assert_same_checkpoint(straight, split)
    assert ckpt["step"] == 192 and "eval_actor" in ckpt["agent"]
    assert len(assert_same_episodes(straight, split)) == 12
    assert eval_rows(straight) == eval_rows(split)
    assert_same_replays(live, drivers[-1])


def test_ppo_restores_exactly_the_state_it_saved(tmp_path):
    """PPO's checkpoint round trip: networks, normalizers, reward scaler, optimizer, learning rate and the
    shuffling RNG come back exactly; a resumed run then continues from them."""
    from visuomotor import load_agent

    run = tmp_path / "ppo"
    args = ["--env", TARGET, "--algo", "ppo", "--num-envs", "2", "--ppo.num-steps", "16", "--ppo.hidden", "8",
            "--ppo.normalize-rewards", "True", "--ppo.lr-schedule", "adaptive", *COMMON, "--eval-every", "64",
            "--checkpoint-every", "64", "--log-every", "32", "--run-dir", run]
    train(*args, "--steps", 64)
    saved = torch.load(run / "checkpoints" / "latest.pt", weights_only=True)
    agent, _, step = load_agent(run)
    assert step == 64 and saved["iteration"] == 2
    assert_same(agent.state_dict(), saved["agent"], "agent")
    assert set(saved["agent"]) >= {"model", "optimizer", "lr", "generator", "reward_scaler"}
    assert agent.optimizer.param_groups[0]["lr"] is agent.lr  # the adaptive rate is the tensor restored
    train(*args, "--steps", 128, "--resume")
    assert torch.load(run / "checkpoints" / "latest.pt", weights_only=True)["iteration"] == 4


def test_a_checkpoint_of_another_agent_is_a_one_line_error(tmp_path, capsys):
    """eval and --resume of a run whose latest.pt holds another algorithm's (or other shapes') state:
    one line naming the file and the part that does not fit, no traceback."""
    sac, td3 = tmp_path / "sac", tmp_path / "td3"
    common = ["--env", TARGET, *COMMON, "--eval-every", "16", "--checkpoint-every", "16"]
    train(*common, "--algo", "sac", *TINY_SAC, "--sac.learning-starts", "8", "--steps", 16, "--run-dir", sac)
    train(*common, "--algo", "td3", *TINY_TD3, "--td3.learning-starts", "8", "--steps", 16, "--run-dir", td3)
    (sac / "checkpoints" / "latest.pt").write_bytes((td3 / "checkpoints" / "latest.pt").read_bytes())
    capsys.readouterr()
    for argv in (["eval", str(sac), "--episodes", "1"],
                 ["train", *map(str, common), "--algo", "sac", *TINY_SAC, "--sac.learning-starts", "8",
                  "--steps", "32", "--run-dir", str(sac), "--resume"]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "latest.pt does not fit" in err and "sac" in err, err
