import os
import subprocess
import sys

import pytest
import torch

import visuomotor  # noqa: F401  (chooses MUJOCO_GL before any test imports mujoco)

torch.set_num_threads(1)

TINY_SAC = ["--sac.hidden", "32", "32", "--sac.batch-size", "32", "--sac.learning-starts", "300"]


def run_cli(*args, timeout=600, check=False):
    """Run `python -m visuomotor ARGS`; returns the CompletedProcess."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([sys.executable, "-m", "visuomotor", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def random_data_and_bc(tmp_path, env: str, episodes: int, eval_episodes: int):
    """`visuomotor collect --random` into tmp_path/data, then a tiny BC run on it (tmp_path/bc); returns
    the BC run directory (a base or guide policy for residual RL / JSRL tests)."""
    data, bc = tmp_path / "data", tmp_path / "bc"
    run_cli("collect", "--random", "--env", env, "--episodes", str(episodes), "-o", data, check=True)
    run_cli("train", "--env", env, "--algo", "bc", "--data", data, "--steps", "50", "--eval-every", "50",
            "--eval-episodes", str(eval_episodes), "--no-video", "--run-dir", bc, "--threads", "1", "--no-progress",
            "--bc.hidden", "16", "16", check=True)
    return bc


@pytest.fixture
def cli():
    return run_cli


def require(module: str, reason: str):
    """Import an optional extra's module for a test. Where it is missing the test skips, except under
    CI=true: `make test` installs every extra there, so a missing one is a failure, never a skip."""
    if os.environ.get("CI", "").lower() == "true":
        import importlib

        try:
            return importlib.import_module(module)
        except ImportError as e:
            pytest.fail(f"{module} is not importable under CI=true ({e}); `make test` installs it: {reason}")
    return pytest.importorskip(module, reason=reason)


@pytest.fixture
def drivers(monkeypatch):
    """Every off-policy step driver built while the test runs, in order (their agents, replays and envs
    can then be inspected after a run through the CLI's entry point in this process)."""
    from visuomotor.train.offpolicy import OffPolicyDriver

    built = []
    init = OffPolicyDriver.__init__

    def recording(self, *a, **k):
        init(self, *a, **k)
        built.append(self)

    monkeypatch.setattr(OffPolicyDriver, "__init__", recording)
    return built
