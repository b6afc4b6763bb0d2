import os
import subprocess
import sys

import pytest
import torch

import visuomotor  # noqa: F401  (chooses MUJOCO_GL before any test imports mujoco)

torch.set_num_threads(1)

TINY_SAC = ["--sac.hidden", "32", "32", "--sac.batch-size", "32", "--sac.learning-starts", "300"]


def run_cli(*args, timeout=600, check=False, fresh=False):
    """Run `visuomotor ARGS`; returns a CompletedProcess (returncode, stdout, stderr). By default in this
    process, through the CLI's ``main`` (its output captured, warnings ignored as PYTHONWARNINGS=ignore
    does; an exception that escapes ``main`` is exit 1 with its traceback, as Python's), which saves a
    fresh interpreter's imports per call; ``fresh=True``: `python -m visuomotor ARGS` in a new process."""
    argv = [str(a) for a in args]
    if fresh:
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        proc = subprocess.run([sys.executable, "-m", "visuomotor", *argv], capture_output=True, text=True,
                              timeout=timeout, env=env)
    else:
        proc = _in_process(argv)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def _in_process(argv: list[str]) -> subprocess.CompletedProcess:
    import contextlib
    import io
    import traceback
    import warnings

    from visuomotor.cli import main

    out, err = io.StringIO(), io.StringIO()
    threads = torch.get_num_threads()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            code = main(argv)
        except SystemExit as e:  # tyro's usage errors and --help
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except Exception:  # noqa: BLE001 - what the interpreter would print and exit 1 with
            traceback.print_exc()
            code = 1
        finally:
            torch.set_num_threads(threads)  # (a run sets its --threads for the process)
    return subprocess.CompletedProcess(["visuomotor", *argv], code, out.getvalue(), err.getvalue())


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
