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


@pytest.fixture
def cli():
    return run_cli
