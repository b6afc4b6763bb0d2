"""End to end through the CLI: artifacts, kill -9 and resume, bad input."""

import csv
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml

from tests.conftest import TINY_SAC, run_cli

ENV = "dmc/cartpole-swingup"


STOP_ENV = "tests.stop_envs:cartpole"  # dmc/cartpole-swingup that can stop its process at a given step
SIGKILL_AT_2500 = "SIGKILL@5500"


def _train_args(run_dir, steps, *extra, env=ENV):
    return ["train", "--env", env, "--algo", "sac", "--steps", steps, "--seed", "0", "--run-dir", run_dir,
            "--eval-every", "1000", "--eval-episodes", "1", "--checkpoint-every", "1000", "--log-every", "500",
            "--threads", "1", "--no-progress", *TINY_SAC, *extra]


def _stopped_at(when, *args):
    """Run `python -m visuomotor ARGS` with a stop env that signals its own process (tests/stop_envs.py)."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "VISUOMOTOR_TEST_STOP": when}
    return subprocess.run([sys.executable, "-m", "visuomotor", *map(str, args)], capture_output=True, text=True,
                          env=env)


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_short_run_writes_every_artifact(tmp_path):
    run = tmp_path / "run"
    run_cli(*_train_args(run, 2000), check=True)
    for name in ("config.yaml", "metrics.csv", "eval.csv", "curves.png", "checkpoints/latest.pt",
                 "checkpoints/best.pt"):
        assert (run / name).is_file() and (run / name).stat().st_size > 0, name
    assert list((run / "tb").glob("events.out.tfevents.*"))
    videos = sorted((run / "videos").glob("*.mp4"))
    assert [v.name for v in videos] == ["step_000000000.mp4", "step_000001000.mp4", "step_000002000.mp4"]
    assert all(v.stat().st_size > 1000 for v in videos)
    episodes = sorted((run / "episodes").glob("ep_*.npz"))
    assert [e.name for e in episodes] == ["ep_000000_000001000.npz", "ep_000001_000002000.npz"]
    ep = np.load(episodes[0])
    assert ep["obs"].shape == (1001, 5) and ep["action"].shape == (1000, 1)
    assert not ep["terminated"].any() and ep["truncated"][-1] and not ep["truncated"][:-1].any()

    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert cfg["env"] == ENV and cfg["sac"]["hidden"] == [32, 32] and cfg["sac"]["gamma"] == 0.99
    assert cfg["resolved"]["target_entropy"] == -1.0 and "torch" in cfg["resolved"]["versions"]
    assert cfg["sac"]["compile"] is None and cfg["resolved"]["compile"] is False  # too short to repay compiling
    evals = _rows(run / "eval.csv")
    assert [int(r["step"]) for r in evals] == [0, 1000, 2000]
    metrics = _rows(run / "metrics.csv")
    assert [int(r["step"]) for r in metrics] == [500, 1000, 1500, 2000]
    assert metrics[-1]["losses/critic"] != "" and float(metrics[-1]["perf/sps"]) > 0
    ckpt = torch.load(run / "checkpoints" / "latest.pt", weights_only=True)
    assert ckpt["step"] == 2000

    out = run_cli("eval", run, "--episodes", "2", "--video", check=True)
    assert "mean" in out.stdout and "std" in out.stdout and "min" in out.stdout and "max" in out.stdout
    assert len(list((run / "videos").glob("eval_latest_*.mp4"))) == 1
    out = run_cli("eval", run, "--episodes", "1", "--checkpoint", "best", check=True)
    assert "best checkpoint" in out.stdout


def _final_actor(run):
    return torch.load(run / "checkpoints" / "latest.pt", weights_only=True)["agent"]["actor"]


@pytest.mark.slow
def test_sigkill_then_resume_continues_exactly(tmp_path):
    steps = 4000
    straight = tmp_path / "straight"
    run_cli(*_train_args(straight, steps, "--no-video", env=STOP_ENV), check=True)

    killed = tmp_path / "killed"
    # killed at training step 2500 (after evaluations of 1000 steps at 0, 1000 and 2000): mid-episode,
    # past the checkpoint at 2000
    proc = _stopped_at(SIGKILL_AT_2500, *_train_args(killed, steps, "--no-video", env=STOP_ENV))
    assert proc.returncode == -signal.SIGKILL
    ckpt = killed / "checkpoints" / "latest.pt"
    stopped_at = torch.load(ckpt, weights_only=True)["step"]
    assert stopped_at == 2000

    # the same command with --resume; refusing without it
    again = run_cli(*_train_args(killed, steps, "--no-video", env=STOP_ENV))
    assert again.returncode != 0 and "--resume" in again.stderr
    run_cli(*_train_args(killed, steps, "--resume", "--no-video", env=STOP_ENV), check=True)
    final = torch.load(ckpt, weights_only=True)
    assert final["step"] == steps
    eps = sorted(p.name for p in (killed / "episodes").glob("ep_*.npz"))
    assert eps == [f"ep_{i:06d}_{(i + 1) * 1000:09d}.npz" for i in range(4)]
    steps_logged = [int(r["step"]) for r in _rows(killed / "metrics.csv")]
    assert steps_logged == sorted(set(steps_logged)) and steps_logged[-1] == steps
    # same RNG, optimizer, replay contents and episode seeds: the resumed run equals the straight one
    a, b = _final_actor(straight), _final_actor(killed)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
    assert _rows(straight / "eval.csv")[-1]["mean_return"] == _rows(killed / "eval.csv")[-1]["mean_return"]


def test_list_prints_envs_and_algos():
    out = run_cli("list", check=True).stdout
    assert "sac" in out and "dmc/cartpole-swingup" in out and "dmc/walker-walk" in out and "gym/HalfCheetah-v5" in out


@pytest.mark.parametrize("args,needle", [
    (["--env", "dmc/cartpol-swingup"], "dmc/cartpole-swingup"),
    (["--algo", "sacc"], "sacc"),
    (["--steps", "-5"], "--steps"),
    (["--sac.gamma", "2"], "gamma"),
    (["--device", "cuda:7"] if not torch.cuda.is_available() else ["--device", "tpu"], "device"),
])
def test_bad_input_is_one_line_error(tmp_path, args, needle):
    run = tmp_path / "never"
    proc = run_cli("train", "--run-dir", run, *args)
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("visuomotor: error:") and needle in lines[0], proc.stderr
    assert not run.exists()


def test_existing_run_dir_is_never_overwritten(tmp_path):
    run = tmp_path / "mine"
    run.mkdir()
    (run / "notes.txt").write_text("keep me")
    proc = run_cli("train", "--run-dir", run, "--steps", "10")
    assert proc.returncode != 0 and "already exists" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert (run / "notes.txt").read_text() == "keep me" and sorted(p.name for p in run.iterdir()) == ["notes.txt"]


def test_sigterm_checkpoints_the_open_episode_and_resume_keeps_it(tmp_path):
    run = tmp_path / "termed"
    # SIGTERM from inside training step 1300 (after the evaluations at 0 and 1000, 1000 steps each): the
    # step ends, then the run checkpoints with the open episode's 300 steps
    proc = _stopped_at("SIGTERM@3300", *_train_args(run, 4000, "--no-video", env=STOP_ENV))
    assert proc.returncode == 143 and "terminated (SIGTERM)" in proc.stderr, proc.stderr
    state = torch.load(run / "checkpoints" / "latest.pt", weights_only=True)
    stopped_at = state["step"]
    assert stopped_at == 1300
    done = stopped_at // 1000  # episodes finished before the signal (1000 steps each)
    assert done == 1 and len(state["partial_episode"]["action"]) == stopped_at % 1000 == 300
    run_cli(*_train_args(run, stopped_at + 500, "--resume", "--no-video", env=STOP_ENV), check=True)
    # the open episode became an episode file of its own (a later resume rebuilds it too)
    eps = sorted(p.name for p in (run / "episodes").glob("ep_*.npz"))
    assert eps == [f"ep_{i:06d}_{(i + 1) * 1000:09d}.npz" for i in range(done)] + [
        f"ep_{done:06d}_{stopped_at:09d}.npz"]
    assert torch.load(run / "checkpoints" / "latest.pt", weights_only=True)["step"] == stopped_at + 500


def test_resume_errors(tmp_path):
    proc = run_cli("train", "--run-dir", tmp_path / "nothing", "--resume")
    assert proc.returncode != 0 and "config.yaml" in proc.stderr


def test_corrupt_checkpoint_is_one_line_error(tmp_path):
    run = tmp_path / "run"
    run_cli(*_train_args(run, 300), check=True)
    ckpt = run / "checkpoints" / "latest.pt"
    ckpt.write_bytes(ckpt.read_bytes()[:200])
    before = ckpt.read_bytes()
    for args in (_train_args(run, 600, "--resume"), ["eval", run, "--episodes", "1"]):
        proc = run_cli(*args)
        assert proc.returncode != 0
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "corrupt" in lines[0] and str(ckpt) in lines[0], proc.stderr
    assert ckpt.read_bytes() == before


def test_resume_with_changed_settings_refused(tmp_path):
    run = tmp_path / "run"
    run_cli(*_train_args(run, 300), check=True)
    proc = run_cli(*_train_args(run, 600, "--resume", "--sac.gamma", "0.9"))
    assert proc.returncode != 0 and "sac.gamma" in proc.stderr


def test_resume_without_a_checkpoint_refuses_and_restart_keeps_the_old_files(tmp_path):
    """Killed before any checkpoint: --resume refuses in one line naming what is there (nothing moved or
    truncated); --restart starts the run over with the earlier files kept in restart-<time>/."""
    run = tmp_path / "run"
    args = _train_args(run, 300, "--action-repeat", "4")  # 250-step episodes: one ends
    run_cli(*args, check=True)
    (run / "checkpoints" / "latest.pt").unlink()  # as if killed before the first checkpoint
    before = sorted(p.relative_to(run) for p in run.rglob("*"))
    evals = (run / "eval.csv").read_text()
    out = run_cli(*args, "--resume")
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert "holds no checkpoint" in out.stderr and "1 episode file(s)" in out.stderr and "--restart" in out.stderr
    assert sorted(p.relative_to(run) for p in run.rglob("*")) == before and (run / "eval.csv").read_text() == evals
    run_cli(*args, "--restart", check=True)
    assert [int(r["step"]) for r in _rows(run / "eval.csv")] == [0, 300]
    assert [int(r["step"]) for r in _rows(run / "metrics.csv")] == [300]
    kept = list(run.glob("restart-*"))
    assert len(kept) == 1 and (kept[0] / "eval.csv").read_text() == evals
    assert [p.name for p in (kept[0] / "episodes").glob("ep_*.npz")] == ["ep_000000_000000250.npz"]
    assert [p.name for p in (run / "episodes").glob("ep_*.npz")] == ["ep_000000_000000250.npz"]


@pytest.mark.slow
def test_gym_env_run_with_terminations(tmp_path):
    """A gymnasium MuJoCo env: variable-length episodes ending in real terminations, gym rendering."""
    run = tmp_path / "run"
    run_cli("train", "--env", "gym/InvertedPendulum-v5", "--steps", 600, "--run-dir", run, "--eval-every", 600,
            "--eval-episodes", 2, "--threads", 1, "--no-progress", *TINY_SAC, check=True)
    episodes = sorted((run / "episodes").glob("ep_*.npz"))
    assert len(episodes) > 3
    ep = np.load(episodes[0])
    assert ep["terminated"][-1] and not ep["truncated"].any()  # the pole fell: a true terminal state
    assert [v.name for v in sorted((run / "videos").glob("*.mp4"))] == ["step_000000000.mp4", "step_000000600.mp4"]
    out = run_cli("eval", run, "--episodes", 2, check=True)
    assert "gym/InvertedPendulum-v5" in out.stdout


@pytest.mark.parametrize("argv,heavy_allowed", [(["--help"], ()), (["list"], ()), (["train", "--help"], ("torch",))])
def test_the_cli_starts_without_heavy_imports(argv, heavy_allowed):
    """`visuomotor --help` and `list` import no torch; nothing imports JAX or Playground before an env of
    theirs is built (the benchmark of the times is benchmarks/cli_startup.py)."""
    code = (f"import sys\nfrom visuomotor.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
            "print('HEAVY', sorted(m for m in ('jax', 'mujoco_playground', 'torch') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    heavy = eval(proc.stdout.split("HEAVY")[-1])
    assert set(heavy) <= set(heavy_allowed), heavy


def test_root_help_lists_every_command():
    from visuomotor.cli import COMMANDS, TRAIN_SUMMARY, root_help
    from visuomotor.train.config import TrainConfig

    assert TRAIN_SUMMARY == TrainConfig.__doc__  # the root help names train without importing its config
    text = root_help()
    assert all(f"  {name} " in text for name in COMMANDS)
    proc = run_cli("trian")
    assert proc.returncode == 2 and "did you mean train?" in proc.stderr and len(proc.stderr.splitlines()) == 1
