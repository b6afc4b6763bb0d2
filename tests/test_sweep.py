"""Sweeps: seed parsing, spec checks, local and Ray backends, failures, interruption and resume."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import gymnasium as gym
import numpy as np
import pytest
import yaml

from tests.conftest import require
from visuomotor.errors import VisuomotorError
from visuomotor.sweep import Sweep, SweepSpec, parse_seeds

TINY = {"steps": 400, "eval_every": 200, "eval_episodes": 1, "video": False, "action_repeat": 8, "log_every": 100,
        "checkpoint_every": 200, "sac": {"hidden": [32, 32], "batch_size": 32, "learning_starts": 200}}


class _NaNReward(gym.Wrapper):
    def step(self, action):
        obs, _, terminated, truncated, info = self.env.step(action)
        return obs, float("nan"), terminated, truncated, info


def nan_env(**kwargs):
    """A user env whose rewards are NaN: training on it must fail loudly (reached as tests.test_sweep:nan_env)."""
    return _NaNReward(gym.make("Pendulum-v1", **kwargs))


class _Killed(gym.Wrapper):
    def step(self, action):
        os.kill(os.getpid(), signal.SIGKILL)  # like the OOM killer or a lost machine


def killed_env(**kwargs):
    """A user env whose process is killed at its first step (reached as tests.test_sweep:killed_env)."""
    return _Killed(gym.make("Pendulum-v1", **kwargs))


def test_parse_seeds():
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert parse_seeds("0,2,7") == [0, 2, 7]
    assert parse_seeds("0-2,9") == [0, 1, 2, 9]
    assert parse_seeds([3, 1]) == [3, 1] and parse_seeds(5) == [5]
    for bad in ["4-0", "a", "1,1", "-1", "", [], ["x"], True]:
        with pytest.raises(VisuomotorError, match="seeds"):
            parse_seeds(bad)


def test_spec_checks_before_any_work(tmp_path):
    ok = {"algos": ["sac"], "envs": ["dmc/cartpole-swingup"], "seeds": "0-1"}
    with pytest.raises(VisuomotorError, match=r"unknown setting 'sac.batchsize'.*sac.batch_size"):
        SweepSpec.from_dict({**ok, "grid": {"sac.batchsize": [1, 2]}})
    with pytest.raises(VisuomotorError, match="must be a non-empty list"):
        SweepSpec.from_dict({**ok, "grid": {"sac.batch_size": 5}})
    with pytest.raises(VisuomotorError, match="set by the sweep itself"):
        SweepSpec.from_dict({**ok, "base": {"seed": 3}})
    with pytest.raises(VisuomotorError, match="unknown key"):
        SweepSpec.from_dict({**ok, "algoz": ["sac"]})
    with pytest.raises(VisuomotorError, match="missing 'seeds'"):
        SweepSpec.from_dict({"algos": ["sac"], "envs": ["dmc/cartpole-swingup"]})
    with pytest.raises(VisuomotorError, match="dmc/cartpole-swingp"):  # the env check names the closest ids
        SweepSpec.from_dict({**ok, "envs": ["dmc/cartpole-swingp"]}).trials(tmp_path)
    with pytest.raises(VisuomotorError, match="unknown algo"):
        SweepSpec.from_dict({**ok, "algos": ["sacc"]}).trials(tmp_path)
    with pytest.raises(VisuomotorError, match="not a valid int"):
        SweepSpec.from_dict({**ok, "base": {"steps": "many"}}).trials(tmp_path)
    # YAML reads 3e-4 as a string; it becomes the float field's value; grids multiply out
    spec = SweepSpec.from_dict(yaml.safe_load(
        "algos: [sac]\nenvs: [dmc/cartpole-swingup, dmc/walker-walk]\nseeds: 0-2\n"
        "base: {sac: {critic_lr: 1e-4}, steps: 1e3}\ngrid: {sac.batch_size: [64, 128]}\n"))
    trials = spec.trials(tmp_path)
    assert len(trials) == 2 * 2 * 3 and len({t.name for t in trials}) == 12
    t = trials[0]
    assert t.config.sac.critic_lr == 1e-4 and t.config.steps == 1000 and t.config.sac.batch_size == 64
    assert t.config.label == "sac[sac.batch_size=64]" and t.config.run_dir.parent == tmp_path / "trials"


def _write_sweep(path, envs, seeds, **extra):
    path.write_text(yaml.safe_dump({"algos": ["sac"], "envs": envs, "seeds": seeds, "base": TINY, **extra}))
    return path


def test_local_sweep_records_a_failed_trial_and_goes_on(tmp_path, cli):
    sweep_file = _write_sweep(tmp_path / "sw.yaml", ["dmc/cartpole-swingup", "tests.test_sweep:nan_env",
                                                     "tests.test_sweep:killed_env"], "0")
    out = tmp_path / "sweep"
    proc = cli("sweep", sweep_file, "--sweep-dir", out, "--workers", "2", timeout=600)
    assert proc.returncode == 2 and "2 of 3 trials did not finish" in proc.stderr
    killed = {r["env"]: r for r in csv.DictReader(open(out / "summary.csv"))}["tests.test_sweep:killed_env"]
    assert killed["state"] == "failed" and killed["error"] == "killed by SIGKILL"
    rows = {r["env"]: r for r in csv.DictReader(open(out / "summary.csv"))}
    assert rows["dmc/cartpole-swingup"]["state"] == "done" and rows["dmc/cartpole-swingup"]["last_step"] == "400"
    bad = rows["tests.test_sweep:nan_env"]
    assert bad["state"] == "failed" and "non-finite reward at step 1" in bad["error"]
    status = json.loads((out / "status" / f"{bad['trial']}.json").read_text())
    assert status["returncode"] == 2 and status["attempts"] == 1
    # the good trial is an ordinary run directory; the report lists the failed seed as missing
    assert (out / "trials" / rows["dmc/cartpole-swingup"]["trial"] / "checkpoints" / "latest.pt").is_file()
    rep = cli("report", out, "-o", tmp_path / "rep", "--reps", "200", timeout=300)
    assert rep.returncode == 0, rep.stderr
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "seed 0: failed: env tests.test_sweep:nan_env returned a non-finite reward" in md
    # a finished sweep directory is never overwritten
    again = cli("sweep", sweep_file, "--sweep-dir", out)
    assert again.returncode == 2 and "already exists" in again.stderr


def _launches(log):
    return log.read_text().count("\n==> ")


def test_interrupted_sweep_resumes_without_rerunning_finished_trials(tmp_path, cli):
    sweep_file = _write_sweep(tmp_path / "sw.yaml", ["dmc/cartpole-swingup"], "0-1")
    out = tmp_path / "sweep"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.Popen([sys.executable, "-m", "visuomotor", "sweep", str(sweep_file), "--sweep-dir", str(out),
                             "--workers", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                            start_new_session=True)
    first = out / "status" / "dmc-cartpole-swingup__sac__s0.json"
    while not (first.is_file() and json.loads(first.read_text()).get("state") == "done"):  # (polled)
        if proc.poll() is not None:
            pytest.fail("the sweep ended before it was stopped")
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its running trial, like a lost machine
    proc.wait()
    log0, log1 = out / "logs" / "dmc-cartpole-swingup__sac__s0.log", out / "logs" / "dmc-cartpole-swingup__sac__s1.log"
    assert _launches(log0) == 1
    resumed = cli("sweep", sweep_file, "--sweep-dir", out, "--workers", "1", "--resume", timeout=600)
    assert resumed.returncode == 0, resumed.stderr + resumed.stdout
    assert "1 done, 1 to run" in resumed.stdout
    assert _launches(log0) == 1  # the finished trial was not run again
    assert _launches(log1) >= 1
    rows = list(csv.DictReader(open(out / "summary.csv")))
    assert [r["state"] for r in rows] == ["done", "done"] and all(r["last_step"] == "400" for r in rows)
    # a changed sweep cannot resume into this directory
    changed = _write_sweep(tmp_path / "sw.yaml", ["dmc/cartpole-swingup"], "0-2")
    bad = cli("sweep", changed, "--sweep-dir", out, "--resume")
    assert bad.returncode == 2 and "differs from the stored sweep.yaml" in bad.stderr


def test_ray_sweep_of_two_tiny_trials(tmp_path):
    ray = require("ray", "the ray extra (pip install 'visuomotor[ray]')")
    from visuomotor.sweep import load_sweep

    spec = load_sweep(_write_sweep(tmp_path / "sw.yaml", ["dmc/cartpole-swingup"], "0-1"))
    sweep = Sweep(spec, tmp_path / "sweep")
    sweep.prepare(resume=False)
    try:
        statuses = sweep.run("ray", workers=2)
    except VisuomotorError as e:
        if "cannot start Ray" in str(e) and os.environ.get("CI", "").lower() != "true":
            pytest.skip(f"Ray cannot start here: {e}")
        raise
    assert not ray.is_initialized()  # the sweep shut down the Ray it started
    assert [s["state"] for s in statuses.values()] == ["done", "done"], statuses
    # each trial ran in a Ray worker process, not in this (the driver's) process
    pids = [s["runner_pid"] for s in statuses.values()]
    assert os.getpid() not in pids, (os.getpid(), pids)
    for t in sweep.trials:
        evals = list(csv.DictReader(open(t.config.run_dir / "eval.csv")))
        assert evals[-1]["step"] == "400" and np.isfinite(float(evals[-1]["mean_return"]))


def test_train_seeds_runs_one_run_per_seed(tmp_path, cli):
    out = tmp_path / "seeds"
    args = ["train", "--env", "dmc/cartpole-swingup", "--algo", "sac", "--seeds", "0-1", "--workers", "2",
            "--run-dir", out, "--steps", "400", "--eval-every", "200", "--eval-episodes", "1", "--no-video",
            "--action-repeat", "8", "--sac.hidden", "32", "32", "--sac.batch-size", "32",
            "--sac.learning-starts", "200"]
    proc = cli(*args, timeout=600)
    assert proc.returncode == 0, proc.stderr
    runs = sorted((out / "trials").iterdir())
    assert [r.name for r in runs] == ["dmc-cartpole-swingup__sac__s0", "dmc-cartpole-swingup__sac__s1"]
    cfgs = [yaml.safe_load((r / "config.yaml").read_text()) for r in runs]
    assert [c["seed"] for c in cfgs] == [0, 1] and all(c["sac"]["batch_size"] == 32 for c in cfgs)
    assert all(c["resolved"]["threads"] == max(1, (os.cpu_count() or 1) // 2) for c in cfgs)  # cores / workers
    # the two seeds trained differently
    r0, r1 = (list(csv.DictReader(open(r / "eval.csv")))[-1]["returns"] for r in runs)
    assert r0 != r1
