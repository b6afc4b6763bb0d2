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


def test_one_writer_per_run_directory(tmp_path):
    """A second train or resume of a directory another process is training into fails at once with the
    holder's pid; the lock dies with its process (kill -9 leaves none behind)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    run = tmp_path / "run"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    argv = [sys.executable, "-m", "visuomotor", "train", *map(str, SAC), "--steps", "100000", "--run-dir", str(run)]
    first = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        while not (run / "checkpoints" / "latest.pt").exists():  # (polled: no moment is timed)
            assert first.poll() is None, "the first run ended before its first checkpoint"
            time.sleep(0.2)
        for extra, needle in ((["--resume"], f"in use by process {first.pid}"),
                              (["--restart"], f"in use by process {first.pid}"),  # never moves a live run's files
                              ([], "already exists")):
            second = subprocess.run([*argv, *extra], capture_output=True, text=True, env=env, timeout=120)
            assert second.returncode == 2 and len(second.stderr.strip().splitlines()) == 1, second.stderr
            assert needle in second.stderr, second.stderr
        assert not list(run.glob("restart-*"))  # --restart moved nothing
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    resumed = subprocess.run([*argv[:-4], "--steps", "16", "--run-dir", str(run), "--resume"], capture_output=True,
                             text=True, env=env, timeout=300)  # (already past step 16: nothing to do)
    assert resumed.returncode == 0, resumed.stderr
    assert not list(run.glob(".*.tmp")) and not list((run / "checkpoints").glob(".*.tmp"))


def test_temporary_files_are_unique_and_removed_when_a_write_fails(tmp_path, monkeypatch):
    from visuomotor.fileio import atomic_write_bytes

    seen = []
    real = __import__("os").replace

    def failing(src, dst):
        seen.append(src)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("visuomotor.fileio.os.replace", failing)
    from visuomotor.errors import VisuomotorError

    try:
        atomic_write_bytes(tmp_path / "latest.pt", b"x")
    except VisuomotorError as e:
        assert "No space left on device" in str(e)
    monkeypatch.setattr("visuomotor.fileio.os.replace", real)
    assert seen and str(__import__("os").getpid()) in str(seen[0]) and not list(tmp_path.iterdir())


def test_a_diverged_agent_is_never_checkpointed(tmp_path, monkeypatch, capsys):
    """Weights that go non-finite between metrics rows: the next checkpoint is refused with a one-line error
    (the last good one stays), and eval of a checkpoint holding NaN is a one-line error too."""
    from visuomotor.algos.sac import SAC as SACAgent

    real, calls = SACAgent.update, []

    def diverging(self, batch=None):
        calls.append(1)
        out = real(self, batch)
        if len(calls) == 32:  # the update of step 48, an episode end where a checkpoint is due
            with torch.no_grad():  # the critics (the actor, and so the env's inputs, stay finite)
                self.critic.layers[0].weight.fill_(float("nan"))
        return out

    monkeypatch.setattr(SACAgent, "update", diverging)
    run = tmp_path / "run"
    args = [*SAC[:-6], "--checkpoint-every", "16"]  # metrics and evaluations rarer than checkpoints
    assert train(*args, "--log-every", "1000", "--eval-every", "1000", "--steps", 200, "--run-dir", run) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "non-finite" in err and "last checkpoint (step 32) is kept" in err, err
    ckpt = torch.load(run / "checkpoints" / "latest.pt", weights_only=True)
    assert ckpt["step"] == 32 and all(torch.isfinite(v).all() for v in ckpt["agent"]["critic"].values())
    monkeypatch.setattr(SACAgent, "update", real)
    ckpt["agent"]["actor"]["net.0.weight"].fill_(float("nan"))  # as a version without the guard wrote it
    torch.save(ckpt, run / "checkpoints" / "latest.pt")
    assert main(["eval", str(run), "--episodes", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "non-finite" in err and "actor.net.0.weight" in err, err


def test_an_interrupted_evaluation_is_redone_on_resume(tmp_path, monkeypatch):
    """Ctrl-C (or SIGTERM) during an evaluation, mid-run and the final one: the checkpoint says the
    evaluation is pending and --resume runs it, once."""
    import importlib

    runner = importlib.import_module("visuomotor.train.runner")

    real = runner.evaluate
    for interrupted in (2, 3):  # the evaluation at step 32 (mid-run), at step 64 (the run's last)
        calls = []

        def flaky(*a, **k):
            calls.append(1)
            if len(calls) == interrupted:
                raise KeyboardInterrupt
            return real(*a, **k)

        run = tmp_path / f"run{interrupted}"
        monkeypatch.setattr(runner, "evaluate", flaky)
        assert train(*SAC, "--steps", 64, "--run-dir", run) == 130
        ckpt = torch.load(run / "checkpoints" / "latest.pt", weights_only=True)
        assert ckpt["eval_pending"] and ckpt["eval_round"] == interrupted - 1
        monkeypatch.setattr(runner, "evaluate", real)
        if interrupted == 2:  # the resumed run dies hard right after redoing it (no checkpoint on the way out)
            from visuomotor.train.offpolicy import OffPolicyDriver

            def crash(self):
                raise RuntimeError("killed")

            monkeypatch.setattr(OffPolicyDriver, "advance", crash)
            try:
                train(*SAC, "--steps", 64, "--run-dir", run, "--resume")
            except RuntimeError:
                pass
            monkeypatch.undo()
            monkeypatch.setattr(runner, "evaluate", real)
            assert _evals(run) == [0, 32]
        assert train(*SAC, "--steps", 64, "--run-dir", run, "--resume") == 0
        assert _evals(run) == [0, 32, 64]  # once each
        ckpt = torch.load(run / "checkpoints" / "latest.pt", weights_only=True)
        assert ckpt["step"] == 64 and ckpt["eval_round"] == 3 and not ckpt["eval_pending"]
        assert train(*SAC, "--steps", 64, "--run-dir", run, "--resume") == 0  # done: nothing repeated
        assert _evals(run) == [0, 32, 64]


def test_ctrl_c_says_whether_a_checkpoint_was_written(tmp_path, monkeypatch, capsys):
    """Ctrl-C during set-up says that no checkpoint was written; during training, the step it wrote."""
    import importlib

    runner = importlib.import_module("visuomotor.train.runner")

    def interrupted_setup(self, cfg):
        raise KeyboardInterrupt

    real_init = runner.Runner.__init__
    monkeypatch.setattr(runner.Runner, "__init__", interrupted_setup)
    assert train(*SAC, "--steps", 64, "--run-dir", tmp_path / "a") == 130
    err = capsys.readouterr().err
    assert "this run wrote no checkpoint" in err and "continue with --resume" not in err
    monkeypatch.setattr(runner.Runner, "__init__", real_init)
    from visuomotor.train.offpolicy import OffPolicyDriver

    real_advance, calls = OffPolicyDriver.advance, []

    def interrupted_training(self):
        calls.append(1)
        if len(calls) == 40:
            raise KeyboardInterrupt
        return real_advance(self)

    monkeypatch.setattr(OffPolicyDriver, "advance", interrupted_training)
    assert train(*SAC, "--steps", 64, "--run-dir", tmp_path / "b") == 130
    assert "a checkpoint was written at step 39; continue with --resume" in capsys.readouterr().err


class NaNRewardEnv:
    """The target env whose 13th step overall returns a NaN reward (the 5th step of its 2nd episode)."""

    def __new__(cls, **kwargs):
        from tests.test_ppo import TargetEnv

        class Env(TargetEnv):
            steps = 0

            def step(self, action):
                obs, r, term, trunc, info = super().step(action)
                Env.steps += 1
                return obs, (float("nan") if Env.steps == 13 else r), term, trunc, info

        return Env(**kwargs)


def nan_env(**kwargs):
    return NaNRewardEnv(**kwargs)


def test_a_non_finite_env_output_stops_at_once_and_is_never_stored(tmp_path, capsys):
    env = "tests.test_reliability:nan_env"
    run = tmp_path / "sac"
    args = [a if a != TARGET else env for a in SAC]
    assert train(*args, "--steps", 64, "--run-dir", run) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "non-finite reward at step 13" in err and env in err, err
    files = list((run / "episodes").glob("ep_*.npz"))
    assert len(files) == 1  # the first episode; nothing of the second
    ppo = ["--env", env, "--algo", "ppo", "--num-envs", "1", "--ppo.num-steps", "16", "--ppo.hidden", "8", "--threads",
           "1", "--no-progress", "--no-video", "--eval-episodes", "1", "--steps", "64"]
    assert train(*ppo, "--run-dir", tmp_path / "ppo") == 2
    assert "non-finite reward at step 13" in capsys.readouterr().err
    assert main(["collect", "--random", "--env", env, "--episodes", "3", "-o", str(tmp_path / "data")]) == 2
    assert "non-finite reward or observation in episode 1, step 5" in capsys.readouterr().err
    assert not (tmp_path / "data" / "manifest.json").exists()


def test_bad_checkpoints_devices_and_numbers_are_one_line_errors(tmp_path, capsys):
    import os

    run = tmp_path / "run"
    assert train(*SAC, "--steps", 16, "--run-dir", run) == 0
    ckpt = run / "checkpoints" / "latest.pt"
    good = ckpt.read_bytes()
    ckpt.write_bytes(os.urandom(4096))
    cases = [(["eval", str(run), "--episodes", "1"], "is not a visuomotor checkpoint"),
             (["train", *SAC, "--steps", "32", "--run-dir", str(run), "--resume"], "is not a visuomotor checkpoint")]
    if not torch.cuda.is_available():
        cases.append((["eval", str(run), "--device", "cuda"], "CUDA is not available"))
    cases += [(["train", "--algo", "drqv2", "--drqv2.stddev-schedule", "nan", "--run-dir", str(tmp_path / "x")],
               "finite"),
              (["train", *SAC, "--sac.tau", "inf", "--run-dir", str(tmp_path / "x")], "--sac.tau must be a finite"),
              (["train", *SAC, "--sac.gamma", "nan", "--run-dir", str(tmp_path / "x")], "--sac.gamma must be a finite")]
    for argv, needle in cases:
        capsys.readouterr()
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and needle in err, (argv, err)
    assert not (tmp_path / "x").exists()
    ckpt.write_bytes(good)
    td3 = tmp_path / "td3"
    assert train(*[a.replace("sac", "td3") for a in SAC], "--steps", 16, "--run-dir", td3) == 0
    ckpt.write_bytes((td3 / "checkpoints" / "latest.pt").read_bytes())
    capsys.readouterr()
    assert main(["eval", str(run), "--episodes", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "holds a td3 agent for tests.test_ppo:target_env" in err and "a sac agent" in err, err


def test_a_full_disk_and_a_damaged_episode_are_one_line_errors(tmp_path, monkeypatch, capsys):
    import errno

    run = tmp_path / "run"
    assert train(*SAC, "--steps", 32, "--run-dir", run) == 0
    before = (run / "checkpoints" / "latest.pt").read_bytes()
    real = __import__("os").replace

    def full(src, dst):
        if str(dst).endswith("latest.pt"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr("visuomotor.fileio.os.replace", full)
    capsys.readouterr()
    assert train(*SAC, "--steps", 64, "--run-dir", run, "--resume") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "No space left on device" in err and "latest.pt" in err, err
    assert "previous latest.pt is intact" in err
    assert (run / "checkpoints" / "latest.pt").read_bytes() == before
    assert not list(run.rglob("*.tmp"))
    monkeypatch.undo()
    episode = sorted((run / "episodes").glob("ep_*.npz"))[0]
    episode.write_bytes(episode.read_bytes()[:100])
    assert train(*SAC, "--steps", 64, "--run-dir", run, "--resume") == 2
    lines = [ln for ln in capsys.readouterr().err.strip().splitlines() if not ln.startswith("[visuomotor]")]
    assert len(lines) == 1 and str(episode) in lines[0] and "corrupt or unreadable" in lines[0], lines


def raising_env(**kwargs):
    """The target env whose 13th step overall raises (a user env's bug)."""
    from tests.test_ppo import TargetEnv

    class Env(TargetEnv):
        steps = 0

        def step(self, action):
            Env.steps += 1
            if Env.steps == 13:
                raise RuntimeError("joint limit exceeded\nmore detail on a second line")
            return super().step(action)

    return Env(**kwargs)


def test_an_env_that_raises_is_a_one_line_error_naming_it(tmp_path, capsys):
    env = "tests.test_reliability:raising_env"
    args = [a if a != TARGET else env for a in SAC]
    assert train(*args, "--steps", 64, "--run-dir", tmp_path / "sac") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err == (f"visuomotor: error: env {env} raised RuntimeError at step 13: joint "
                                                  f"limit exceeded; the last checkpoint is intact"), err
    ppo = ["--env", env, "--algo", "ppo", "--num-envs", "1", "--ppo.num-steps", "16", "--ppo.hidden", "8", "--threads",
           "1", "--no-progress", "--no-video", "--eval-episodes", "1", "--steps", "64"]
    assert train(*ppo, "--run-dir", tmp_path / "ppo") == 2
    assert "raised RuntimeError at step 13: joint limit exceeded" in capsys.readouterr().err


def test_a_stop_signal_never_cuts_a_step_in_two(tmp_path, monkeypatch, capsys):
    """SIGTERM arriving after a transition is recorded but before the step counter moves: the run stops
    after that step, and its checkpoint's open episode and step agree."""
    import os
    import signal

    from visuomotor.buffers.episodes import EpisodeRecorder

    real, seen = EpisodeRecorder.step, []

    def recording(self, *a, **k):
        real(self, *a, **k)
        seen.append(1)
        if len(seen) == 20:
            os.kill(os.getpid(), signal.SIGTERM)  # (delivered at once, in the middle of the step)

    monkeypatch.setattr(EpisodeRecorder, "step", recording)
    run = tmp_path / "run"
    assert train(*SAC, "--steps", 64, "--run-dir", run) == 143
    assert "a checkpoint was written at step 20" in capsys.readouterr().err
    ckpt = torch.load(run / "checkpoints" / "latest.pt", weights_only=True)
    assert ckpt["step"] == 20 and len(ckpt["partial_episode"]["action"]) == 20 % 8


def test_what_a_killed_writer_leaves_is_cleaned_up_on_resume(tmp_path, monkeypatch, capsys):
    """A process killed while writing leaves an unfinished temporary file (removed when the next process
    takes the run directory's lock) or a metrics/eval row cut off mid-line (dropped on resume, where
    its cut-off step could read as an earlier one and survive as a garbage row)."""
    import errno

    run = tmp_path / "run"
    assert train(*SAC, "--steps", 32, "--run-dir", run) == 0
    stale = [run / "checkpoints" / ".latest.pt.99999-0123abcd.tmp", run / "episodes" / ".ep_000004_000040.npz.1-ab.tmp"]
    for p in stale:
        p.write_bytes(b"PK\x03\x04 half a file")
    metrics = run / "metrics.csv"
    header, *rows = metrics.read_text().splitlines(keepends=True)
    metrics.write_text(header + "".join(rows) + "4")  # "48,...": the next row, cut after one digit
    capsys.readouterr()
    assert train(*SAC, "--steps", 64, "--run-dir", run, "--resume") == 0
    assert "removed 2 unfinished temporary file(s)" in capsys.readouterr().err
    assert not any(p.exists() for p in stale)
    with open(metrics, newline="") as f:
        assert [int(r["step"]) for r in csv.DictReader(f)] == [16, 32, 48, 64]
    # an episode write that fails names the file and leaves no temporary file
    real = __import__("os").replace

    def full(src, dst):
        if "ep_" in str(dst):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr("visuomotor.fileio.os.replace", full)
    assert train(*SAC, "--steps", 80, "--run-dir", run, "--resume") == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "cannot write" in err and "ep_000008_000000072.npz" in err and "No space left" in err, err
    assert not list(run.rglob("*.tmp"))
