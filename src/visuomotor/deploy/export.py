"""``visuomotor export``: a run's deterministic policy as one ONNX and/or TorchScript file, verified.

The exported module is the whole inference path of ``agent.policy()`` in float32 (normalizer, uint8
pixel scaling and conv encoder, actor, squashing; a residual run's base + scaled residual; a JSRL
run's learner), with a dynamic batch dimension and two named outputs: ``action`` in [-1, 1] and
``action_native``, the same action in the actuators' units (the env adapter's affine map onto the
native bounds). Beside it ``policy.json``: the env contract (``deploy.contract``), what is baked in,
the checkpoint's step and hash, the versions, and the verification.

Verification, on every export: observations recorded from evaluation episodes of the policy (at
least ``samples``) go through the training-time policy (eager torch; its actions mapped to native
units in float64 by the env adapter's formula), the TorchScript module loaded back and the ONNX
model in onnxruntime; the largest absolute difference per output and format is printed and stored.
Above the tolerance (``action``: ``tolerance``; ``action_native``: ``tolerance`` times the largest
half-range of the bounds, at least 1) the export fails with a one-line error and writes nothing.
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from visuomotor.errors import VisuomotorError

FORMATS = ("onnx", "torchscript")
FILES = {"onnx": "policy.onnx", "torchscript": "policy.pt"}
OPSET = 18
EXTRA = "pip install 'visuomotor[export]'"


class DeployedPolicy(nn.Module):
    """obs [B, ...] -> (action [B, A] in [-1, 1], action_native [B, A] in the actuators' units)."""

    def __init__(self, policy: nn.Module, low: np.ndarray, high: np.ndarray):
        super().__init__()
        self.policy = policy
        self.register_buffer("low", torch.tensor(np.array(low, np.float32)))
        self.register_buffer("half_range", torch.tensor(np.array((high - low) / 2.0, np.float32)))

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        action = self.policy(obs)
        return action, self.low + (action + 1.0) * self.half_range


def formats_of(choice: str) -> tuple[str, ...]:
    if choice == "all":
        return FORMATS
    if choice not in FORMATS:
        raise VisuomotorError(f"unknown export format {choice!r}; choose onnx, torchscript or all")
    return (choice,)


def require_onnx() -> None:
    """One line naming the extra when onnx, onnxscript or onnxruntime is missing."""
    for module in ("onnx", "onnxscript", "onnxruntime"):
        try:
            __import__(module)
        except ImportError:
            raise VisuomotorError(f"ONNX export needs {module}, which is not installed: {EXTRA} "
                                  f"(or --format torchscript)") from None


def deployable_policy(agent) -> nn.Module:
    """The policy an export holds: ``agent.policy()`` in float32; a JSRL run's learner (the guide only
    starts training episodes)."""
    from visuomotor.algos.prior import JSRLPolicy

    policy = agent.policy()
    if isinstance(policy, JSRLPolicy):
        policy = policy.learner
    return policy.float32().eval()


def record_observations(policy: nn.Module, env, samples: int, seed: int) -> np.ndarray:
    """At least ``samples`` observations (whole episodes) of the policy acting in ``env``."""
    from visuomotor.errors import env_call
    from visuomotor.evaluate.rollout import act, episode_seed

    name = env.spec.id if env.spec is not None else type(env.unwrapped).__name__
    out: list[np.ndarray] = []
    episode = 0
    while len(out) < samples:
        obs, _ = env_call(name, "reset of the verification", env.reset, seed=episode_seed(seed, 99, episode))
        policy.reset()
        done = False
        while not done:
            out.append(np.asarray(obs))
            obs, _, terminated, truncated, _ = env_call(name, f"{len(out)} of the verification", env.step,
                                                       act(policy, obs, "cpu"))
            done = terminated or truncated
        episode += 1
    return np.stack(out)


def _batches(fn, obs: np.ndarray, size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    parts = [fn(obs[i:i + size]) for i in range(0, len(obs), size)]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _torchscript_bytes(module: DeployedPolicy, example: torch.Tensor) -> bytes:
    with warnings.catch_warnings():  # (torch.jit is deprecated in favour of torch.export; still what C++ loads)
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(module, example, check_trace=False)
        buf = io.BytesIO()
        torch.jit.save(traced, buf)
    return buf.getvalue()


def _onnx_bytes(module: DeployedPolicy, example: torch.Tensor, metadata: dict) -> bytes:
    import contextlib
    import logging
    import os

    batch = torch.export.Dim("batch", min=1)
    with warnings.catch_warnings(), open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
        warnings.simplefilter("ignore")
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)
        program = torch.onnx.export(module, (example,), input_names=["obs"], output_names=["action", "action_native"],
                                    dynamic_shapes=({0: batch},), opset_version=OPSET, dynamo=True, verbose=False)
    proto = program.model_proto
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    return proto.SerializeToString()


def run_torchscript(data: bytes):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = torch.jit.load(io.BytesIO(data), map_location="cpu")

    def fn(obs):
        with torch.inference_mode():
            a, n = module(torch.as_tensor(obs))
        return a.numpy(), n.numpy()
    return fn


def run_onnx(data: bytes):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    session = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
    return lambda obs: tuple(session.run(["action", "action_native"], {"obs": obs}))


def export_run(run_dir: Path, checkpoint: str = "latest", fmt: str = "all", output: Path | None = None,
               force: bool = False, tolerance: float = 1e-5, samples: int = 1000, seed: int = 0,
               log=print) -> dict:
    """Export, verify, then write the files and ``policy.json`` (returned); see the module doc."""
    from visuomotor import __version__
    from visuomotor.deploy.contract import env_contract, native_bounds, to_native
    from visuomotor.envs import make_env
    from visuomotor.fileio import atomic_write_bytes, atomic_write_text, is_empty
    from visuomotor.train.build import load_agent

    run_dir = Path(run_dir)
    formats = formats_of(fmt)
    if not (tolerance > 0 and np.isfinite(tolerance)):
        raise VisuomotorError(f"--tolerance must be a positive number, got {tolerance}")
    if samples < 1:
        raise VisuomotorError(f"--samples must be >= 1, got {samples}")
    if "onnx" in formats:
        require_onnx()
    out = Path(output) if output is not None else run_dir / "export"
    if out.exists() and (not out.is_dir() or not is_empty(out)) and not force:
        raise VisuomotorError(f"output {out} already exists; pass --force to overwrite it, or choose another -o")
    agent, cfg, step = load_agent(run_dir, checkpoint, "cpu")
    ckpt_path = run_dir / "checkpoints" / f"{checkpoint}.pt"
    policy = deployable_policy(agent)
    env = make_env(cfg.env, seed=seed, **cfg.env_kwargs())
    contract = env_contract(env, cfg.env)
    low, high = native_bounds(env)
    obs = record_observations(policy, env, samples, seed)
    env.close()
    module = DeployedPolicy(policy, low, high).eval()

    def reference(batch):
        with torch.inference_mode():
            a = policy(torch.as_tensor(batch)).numpy()
        return a, to_native(a, low, high)

    ref_action, ref_native = _batches(reference, obs)
    native_tol = tolerance * max(1.0, float(np.max(np.abs(high - low))) / 2.0)
    policy_json = {
        "format_version": 1,
        "files": {f: FILES[f] for f in formats},
        "inputs": {"obs": {"shape": ["batch", *contract["observation"]["shape"]],
                           "dtype": contract["observation"]["dtype"]}},
        "outputs": {"action": {"shape": ["batch", contract["action"]["size"]], "dtype": "float32",
                               "range": [-1.0, 1.0]},
                    "action_native": {"shape": ["batch", contract["action"]["size"]], "dtype": "float32",
                                      "units": "the actuators' (contract.action.low/high)"}},
        "contract": contract,
        "baked_in": {**policy.contents(), "native_scaling": contract["action"]["to_native"]},
        "algorithm": cfg.algo if cfg.guide_policy is None else f"{cfg.algo} (the JSRL learner)",
        "residual": cfg.base_policy is not None,
        "checkpoint": {"run": str(run_dir.resolve()), "which": checkpoint, "step": step,
                       "sha256": hashlib.sha256(ckpt_path.read_bytes()).hexdigest()},
        "versions": _versions(formats, __version__),
    }
    example = torch.as_tensor(obs[:4])  # (a batch of 1 would specialize the batch dimension)
    blobs, verification = {}, {}
    meta = {"visuomotor_contract": json.dumps(contract)}
    for f in formats:
        data = _torchscript_bytes(module, example) if f == "torchscript" else _onnx_bytes(module, example, meta)
        runner = run_torchscript(data) if f == "torchscript" else run_onnx(data)
        action, native = _batches(runner, obs)
        diff = {"action": float(np.max(np.abs(action.astype(np.float64) - ref_action))),
                "action_native": float(np.max(np.abs(native.astype(np.float64) - ref_native)))}
        verification[f] = diff
        log(f"[visuomotor] {FILES[f]}: max |difference| to the training-time policy over {len(obs)} observations: "
            f"action {diff['action']:.2e}, action_native {diff['action_native']:.2e}")
        if not (diff["action"] <= tolerance and diff["action_native"] <= native_tol):
            raise VisuomotorError(
                f"verification failed: {FILES[f]} differs from the training-time policy by {diff['action']:.3g} "
                f"(action) and {diff['action_native']:.3g} (action_native) at most over {len(obs)} observations; "
                f"tolerance {tolerance:g} ({native_tol:g} native); nothing was written")
        blobs[f] = data
    policy_json["verification"] = {"observations": int(len(obs)), "seed": seed, "tolerance": tolerance,
                                   "tolerance_native": native_tol, "reference": "the training-time policy (eager "
                                   "torch, float32), native units by the env adapter's formula in float64",
                                   "max_abs_difference": verification, "passed": True}
    out.mkdir(parents=True, exist_ok=True)
    for f, data in blobs.items():
        atomic_write_bytes(out / FILES[f], data)
    atomic_write_text(out / "policy.json", json.dumps(policy_json, indent=1) + "\n")
    log(f"[visuomotor] exported {cfg.algo} ({checkpoint} checkpoint, step {step}) to {out}: "
        f"{', '.join(FILES[f] for f in formats)}, policy.json")
    return policy_json


def _versions(formats, ours: str) -> dict:
    v = {"visuomotor": ours, "torch": str(torch.__version__), "python": sys.version.split()[0]}
    if "onnx" in formats:
        import onnx
        import onnxruntime

        v.update({"onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__, "onnx_opset": OPSET})
    return v
