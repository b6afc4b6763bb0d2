"""visuomotor export / play / eval --env, and the standalone ONNX runner in examples/deploy/."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import require
from visuomotor.cli import main

ROOT = Path(__file__).resolve().parents[1]
TARGET = "tests.test_ppo:target_env"  # 8-step episodes, 1-d target
COMMON = ["--seed", "0", "--threads", "1", "--no-progress", "--no-video", "--eval-episodes", "1"]
CARTPOLE = ["--env", "dmc/cartpole-swingup", "--action-repeat", "8"]  # 125-step episodes


def train(*args) -> None:
    assert main(["train", *map(str, args)]) == 0


def export(*args) -> int:
    return main(["export", *map(str, args)])


@pytest.fixture(scope="module", autouse=True)
def _onnx():
    for module in ("onnx", "onnxscript", "onnxruntime"):
        require(module, "the export extra (pip install 'visuomotor[export]')")


def _runs(root: Path) -> dict[str, Path]:
    """Tiny trained runs of every exported kind."""
    runs = {k: root / k for k in ("sac", "td3", "ppo", "drqv2", "bc", "residual", "fasttd3", "simbav2", "fastsac")}
    train(*CARTPOLE, "--algo", "sac", "--sac.hidden", "16", "16", "--sac.batch-size", "16",
          "--sac.learning-starts", "100", "--steps", 250, "--eval-every", 250, "--run-dir", runs["sac"], *COMMON)
    train("--env", "gym/InvertedPendulum-v5", "--algo", "td3", "--td3.hidden", "16", "16", "--td3.batch-size", "16",
          "--td3.learning-starts", "100", "--steps", 250, "--eval-every", 250, "--run-dir", runs["td3"],
          *COMMON)  # native bounds [-3, 3]: action_native is not the action
    train("--env", "gym/Hopper-v5", "--algo", "ppo", "--num-envs", "2", "--ppo.num-steps", "32", "--ppo.hidden", "16",
          "16", "--steps", 256, "--eval-every", 256, "--run-dir", runs["ppo"], *COMMON)
    train(*CARTPOLE, "--algo", "drqv2", "--pixel-size", "48", "--drqv2.learning-starts", "40", "--drqv2.batch-size", "8",
          "--drqv2.hidden-dim", "16", "--drqv2.feature-dim", "8", "--steps", 125, "--eval-every", 125,
          "--run-dir", runs["drqv2"], *COMMON)
    data = root / "data"
    assert main(["collect", "--random", "--env", TARGET, "--episodes", "20", "-o", str(data)]) == 0
    train("--env", TARGET, "--algo", "bc", "--data", data, "--steps", 50, "--eval-every", 50, "--bc.hidden", "16", "16",
          "--run-dir", runs["bc"], *COMMON)
    train("--env", TARGET, "--algo", "sac", "--base-policy", runs["bc"], "--sac.hidden", "16", "16",
          "--sac.batch-size", "16", "--sac.learning-starts", "16", "--steps", 64, "--eval-every", 64,
          "--run-dir", runs["residual"], *COMMON)
    train(*CARTPOLE, "--algo", "fasttd3", "--num-envs", "2", "--fasttd3.critic-hidden", "16", "16",
          "--fasttd3.actor-hidden", "16", "--fasttd3.batch-size", "16", "--fasttd3.num-atoms", "11",
          "--fasttd3.learning-starts", "100", "--steps", 250, "--eval-every", 250, "--run-dir", runs["fasttd3"], *COMMON)
    train(*CARTPOLE, "--algo", "sac", "--sac.net", "simbav2", "--sac.widths", "8", "16", "--sac.blocks", "1", "1",
          "--sac.num-atoms", "11", "--sac.batch-size", "16", "--sac.learning-starts", "100", "--steps", 250,
          "--eval-every", 250, "--run-dir", runs["simbav2"], *COMMON)
    train(*CARTPOLE, "--algo", "fastsac", "--num-envs", "2", "--fastsac.critic-hidden", "16", "16",
          "--fastsac.actor-hidden", "16", "16", "--fastsac.batch-size", "16", "--fastsac.num-atoms", "11",
          "--fastsac.learning-starts", "100", "--steps", 250, "--eval-every", 250, "--run-dir", runs["fastsac"], *COMMON)
    return runs


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return _runs(tmp_path_factory.mktemp("runs"))


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sac", "td3", "ppo", "drqv2", "bc", "residual", "fasttd3", "simbav2", "fastsac"])
def test_exports_compute_what_the_training_time_policy_computes(runs, tmp_path, kind):
    from visuomotor.deploy.export import run_onnx, run_torchscript
    from visuomotor.train.build import load_agent

    out = tmp_path / "export"
    assert export(runs[kind], "-o", out, "--samples", 200) == 0
    meta = json.loads((out / "policy.json").read_text())
    assert meta["verification"]["passed"] and meta["verification"]["observations"] >= 200
    for fmt in ("onnx", "torchscript"):
        assert meta["verification"]["max_abs_difference"][fmt]["action"] <= 1e-5
    # independently of the export's own check: fresh observations through both files and the policy
    agent, cfg, step = load_agent(runs[kind])
    assert meta["checkpoint"]["step"] == step
    shape = meta["contract"]["observation"]["shape"]
    gen = torch.Generator().manual_seed(1)
    if meta["contract"]["observation"]["dtype"] == "uint8":
        obs = torch.randint(0, 256, (37, *shape), dtype=torch.uint8, generator=gen).numpy()
    else:
        obs = (torch.randn(37, *shape, generator=gen) * 2).numpy()
    with torch.inference_mode():
        expected = agent.policy().float32()(torch.as_tensor(obs)).numpy()
    low, high = (np.asarray(meta["contract"]["action"][k]) for k in ("low", "high"))
    for run in (run_onnx((out / "policy.onnx").read_bytes()), run_torchscript((out / "policy.pt").read_bytes())):
        action, native = run(obs)
        assert action.shape == (37, meta["contract"]["action"]["size"]) and action.dtype == np.float32
        np.testing.assert_allclose(action, expected, rtol=0, atol=1e-5)
        np.testing.assert_allclose(native, low + (expected + 1) / 2 * (high - low), rtol=0, atol=1e-5)
    baked = meta["baked_in"]
    if kind == "td3":
        assert meta["contract"]["action"]["low"] == [-3.0] and meta["contract"]["action"]["high"] == [3.0]
    if kind in ("ppo", "fasttd3", "simbav2", "fastsac"):
        assert "mean" in baked["normalizer"]
    if kind == "drqv2":
        assert baked["pixel_scaling"] and baked["encoder"] and meta["contract"]["observation"]["frame_stack"] == 3
    if kind == "residual":
        assert meta["residual"] and "base(s)" in baked["residual"]


@pytest.mark.slow
def test_policy_json_holds_the_envs_contract(runs, tmp_path):
    out = tmp_path / "sac"
    assert export(runs["sac"], "-o", out, "--samples", 125, "--format", "onnx") == 0
    c = json.loads((out / "policy.json").read_text())["contract"]
    assert c["env"] == "dmc/cartpole-swingup"
    assert c["observation"]["keys"] == [{"name": "position", "shape": [3], "size": 3},
                                        {"name": "velocity", "shape": [2], "size": 2}]
    assert c["action"]["names"] == ["slide"] and c["action"]["low"] == [-1.0] and c["action"]["high"] == [1.0]
    assert c["timing"]["control_timestep"] == 0.01 and c["timing"]["action_repeat"] == 8
    assert c["timing"]["policy_period"] == pytest.approx(0.08) and c["timing"]["time_limit_control_steps"] == 1000
    assert not (out / "policy.pt").exists()  # --format onnx only
    out = tmp_path / "ppo"
    assert export(runs["ppo"], "-o", out, "--samples", 50, "--format", "torchscript") == 0
    c = json.loads((out / "policy.json").read_text())["contract"]
    assert c["action"]["names"] == ["thigh_joint", "leg_joint", "foot_joint"]
    assert c["action"]["low"] == [-1.0] * 3 and c["observation"]["size"] == 11
    assert c["timing"]["physics_timestep"] == 0.002 and c["timing"]["control_timestep"] == pytest.approx(0.008)


@pytest.mark.slow
def test_a_corrupted_export_fails_verification_and_writes_nothing(runs, tmp_path, monkeypatch, capsys):
    import onnx

    from visuomotor.deploy import export as ex

    real = ex._onnx_bytes

    def corrupted(module, example, metadata):  # one weight of the graph changed by 1e-3
        model = onnx.load_from_string(real(module, example, metadata))
        init = next(i for i in model.graph.initializer if len(onnx.numpy_helper.to_array(i).shape) == 2)
        w = onnx.numpy_helper.to_array(init).copy()
        w.flat[0] += 1e-3
        init.CopyFrom(onnx.numpy_helper.from_array(w, init.name))
        return model.SerializeToString()

    monkeypatch.setattr(ex, "_onnx_bytes", corrupted)
    out = tmp_path / "bad"
    capsys.readouterr()
    assert export(runs["sac"], "-o", out, "--samples", 125) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "verification failed: policy.onnx differs" in err[0] and "nothing was written" in err[0]
    assert not out.exists()


def test_bad_export_input_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    train("--env", TARGET, "--algo", "sac", "--sac.hidden", "8", "8", "--sac.learning-starts", "8", "--steps", 16,
          "--eval-every", 16, "--run-dir", run, *COMMON)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "config.yaml").write_text((run / "config.yaml").read_text())
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "x").write_text("")
    cases = [([run, "--format", "tflite"], "unknown export format 'tflite'"),
             ([empty], "no checkpoint at"),
             ([run, "-o", taken], "already exists; pass --force"),
             ([run, "--tolerance", "nan"], "--tolerance must be a positive number")]
    for args, needle in cases:
        capsys.readouterr()
        assert export(*args) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and needle in err[0], (args, err)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # not installed
    assert export(run, "-o", tmp_path / "x") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install 'visuomotor[export]'" in err[0] and "onnxruntime" in err[0], err
    assert export(run, "-o", tmp_path / "ts", "--format", "torchscript", "--samples", 8) == 0  # needs no ONNX


@pytest.mark.slow
def test_play_writes_a_video_and_eval_env_refuses_another_contract(runs, tmp_path, capsys):
    video = tmp_path / "play.mp4"
    assert main(["play", str(runs["sac"]), "--episodes", "2", "--video", str(video)]) == 0
    out = capsys.readouterr().out
    assert "episode 0: return" in out and "episode 1: return" in out and "length 125" in out
    assert video.is_file() and video.stat().st_size > 1000
    import imageio.v2 as imageio

    with imageio.get_reader(video) as reader:
        assert reader.count_frames() == 2 * 126  # every step of both episodes, and each first frame
    assert main(["eval", str(runs["sac"]), "--env", "dmc/walker-walk"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "contract differs" in err[0] and "observation shape: [5] vs [24]" in err[0], err
    assert main(["eval", str(runs["sac"]), "--env", "dmc/cartpole-balance", "--episodes", "1"]) == 0  # same robot
    assert "dmc/cartpole-balance (trained on dmc/cartpole-swingup)" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sac", "drqv2"])
def test_the_standalone_runner_acts_and_scores_as_the_library_does(runs, tmp_path, kind):
    """examples/deploy/run_onnx.py, where importing visuomotor fails: its actions on the states it
    visits equal the library's policy on the same states, and its returns equal `visuomotor eval`'s
    (same seed) up to the float32 rounding differences of onnxruntime vs torch."""
    from visuomotor.envs import make_env
    from visuomotor.evaluate import evaluate
    from visuomotor.train.build import load_agent

    out = tmp_path / "export"
    assert export(runs[kind], "-o", out, "--samples", 125, "--format", "onnx") == 0
    shim = tmp_path / "shim" / "visuomotor"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text("raise ImportError('visuomotor is not importable here')\n")
    env = {**os.environ, "PYTHONPATH": str(shim.parent), "PYTHONWARNINGS": "ignore"}
    check = subprocess.run([sys.executable, "-c", "import visuomotor"], env=env, capture_output=True, text=True)
    assert check.returncode != 0 and "not importable" in check.stderr
    rec = tmp_path / "rec.npz"
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "deploy" / "run_onnx.py"), str(out), "--episodes",
                           "2", "--seed", "7", "--record", str(rec)], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "episode 1: return" in proc.stdout
    data = np.load(rec)
    agent, cfg, _ = load_agent(runs[kind])
    with torch.inference_mode():
        ours = agent.policy()(torch.as_tensor(data["obs"])).numpy()
    np.testing.assert_allclose(data["action"], ours, rtol=0, atol=1e-5)
    res = evaluate(agent, make_env(cfg.env, seed=7, **cfg.env_kwargs()), 2, seed=7, round_index=10_000)
    np.testing.assert_allclose(data["returns"], res.returns, rtol=1e-3, atol=1e-3)
