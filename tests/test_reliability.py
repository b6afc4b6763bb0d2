"""Nothing lost, nobody confused: what a resume keeps, a run directory's single writer, checkpoints that
never hold a diverged agent, an evaluation an interruption cut short."""

from __future__ import annotations

import csv

import torch
import yaml

from visuomotor.cli import main

TARGET = "tests.test_ppo:target_env"  # 8-step episodes
SAC = ["--env", TARGET, "--algo", "sac", "--sac.hidden", "16", "16", "--sac.batch-size", "16",
       "--sac.learning-starts", "16", "--seed", "0", "--threads", "1", "--no-progress", "--no-video",
       "--eval-episodes", "1", "--eval-every", "32", "--checkpoint-every", "16", "--log-every", "16"]


def train(*args) -> int:
    return main(["train", *map(str, args)])


def _evals(run):
    with open(run / "eval.csv", newline="") as f:
        return [int(r["step"]) for r in csv.DictReader(f)]


def _step(run) -> int:
    return torch.load(run / "checkpoints" / "latest.pt", weights_only=True)["step"]


def test_resume_without_steps_keeps_the_runs_length(tmp_path, capsys):
    """--resume without --steps continues to the run's own length, never to the algorithm's default."""
    run = tmp_path / "run"
    assert train(*SAC, "--steps", 64, "--run-dir", run) == 0
    assert train(*SAC, "--run-dir", run, "--resume") == 0  # finished: nothing to do
    assert _step(run) == 64 and _evals(run) == [0, 32, 64]
    assert "already at step 64 >= 64" in capsys.readouterr().out
    assert train(*SAC, "--steps", 96, "--run-dir", run, "--resume") == 0  # a longer run, asked for
    assert _step(run) == 96 and yaml.safe_load((run / "config.yaml").read_text())["steps"] == 96
    assert train(*SAC, "--run-dir", run, "--resume") == 0  # its new length is kept
    assert _step(run) == 96 and _evals(run) == [0, 32, 64, 96]
