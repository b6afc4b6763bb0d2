"""Run an exported visuomotor policy without visuomotor: numpy, onnxruntime and the simulator only.

    python examples/deploy/run_onnx.py EXPORT_DIR [--episodes 1] [--seed 12345] [--record FILE.npz]

EXPORT_DIR holds policy.onnx and policy.json (`visuomotor export RUN -o EXPORT_DIR`). Everything the
policy expects is read from policy.json's contract, the way a robot's code would:

- the observation: for dm_control tasks (env ``dmc/<domain>-<task>``) the task's named observations in
  the contract's order, each flattened, concatenated as float32; for gymnasium envs (``gym/<id>``)
  the env's own vector; for pixels, RGB frames of the contract's camera and size (channels first,
  uint8), the last ``frame_stack`` of them stacked oldest first, an episode's first frame filling
  the stack;
- the action: the ONNX output ``action`` in [-1, 1], mapped to the actuators' native units with the
  contract's formula (low + (a + 1) / 2 * (high - low), in float64 as the training env applied it),
  repeated ``action_repeat`` control steps with the rewards summed (stopping when the episode ends).

Episode i starts from seed SeedSequence([seed, 10001, i]).generate_state(1)[0], the seed
``visuomotor eval --seed SEED`` gives its episode i, so the returns can be compared with it.
dm_control needs ``dm_control`` (``suite.load``; the seed reseeds the task's RandomState before
reset); gymnasium envs need ``gymnasium[mujoco]`` (``reset(seed=...)``).
"""

from __future__ import annotations

import argparse
import json
import os
from collections import deque
from pathlib import Path

import numpy as np
import onnxruntime as ort

os.environ.setdefault("MUJOCO_GL", "egl")  # headless rendering for pixel policies


def episode_seed(seed: int, episode: int) -> int:
    return int(np.random.SeedSequence([seed, 10_001, episode]).generate_state(1)[0])


class DMControl:
    """A dm_control task stepped the contract's way."""

    def __init__(self, contract: dict):
        from dm_control import suite

        domain, _, task = contract["env"][len("dmc/"):].partition("-")
        self.env = suite.load(domain, task)
        self.obs_spec = contract["observation"]
        self.low = np.asarray(contract["action"]["low"], np.float64)
        self.high = np.asarray(contract["action"]["high"], np.float64)
        self.repeat = contract["timing"]["action_repeat"]
        if self.obs_spec["kind"] == "pixels":
            render = self.obs_spec["render"]
            self.env.physics.model.vis.quality.offsamples = render["offsamples"]
            self.flags = {"shadow": render["shadow"], "reflection": render["reflection"]}
            self.frames: deque = deque(maxlen=self.obs_spec["frame_stack"])
        keys = [k["name"] for k in self.obs_spec.get("keys", [])]
        if self.obs_spec["kind"] == "state" and keys != list(self.env.observation_spec()):
            raise SystemExit(f"the task's observations {list(self.env.observation_spec())} are not the contract's {keys}")

    def _frame(self) -> np.ndarray:
        size = self.obs_spec["size"]
        img = self.env.physics.render(height=size, width=size, camera_id=self.obs_spec["camera_id"],
                                      render_flag_overrides=self.flags)
        return np.ascontiguousarray(img.transpose(2, 0, 1))

    def _obs(self, ts, first: bool) -> np.ndarray:
        if self.obs_spec["kind"] == "pixels":
            frame = self._frame()
            for _ in range(self.frames.maxlen if first else 1):
                self.frames.append(frame)
            return np.concatenate(list(self.frames), axis=0)
        return np.concatenate([np.asarray(ts.observation[k["name"]], np.float32).ravel()
                               for k in self.obs_spec["keys"]])

    def reset(self, seed: int) -> np.ndarray:
        self.env.task.random.seed(seed)
        return self._obs(self.env.reset(), first=True)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool]:
        a = np.clip(np.asarray(action, np.float64), -1.0, 1.0)
        native = self.low + (a + 1.0) * 0.5 * (self.high - self.low)
        total = 0.0
        for _ in range(self.repeat):
            ts = self.env.step(native)
            total += float(ts.reward or 0.0)
            if ts.last():
                break
        return self._obs(ts, first=False), total, ts.last()


class Gymnasium:
    """A gymnasium env stepped the contract's way (state observations)."""

    def __init__(self, contract: dict):
        import gymnasium

        if contract["observation"]["kind"] != "state":
            raise SystemExit("this script runs gymnasium envs from state observations only")
        self.env = gymnasium.make(contract["env"][len("gym/"):])
        self.low = np.asarray(contract["action"]["low"], np.float64)
        self.high = np.asarray(contract["action"]["high"], np.float64)
        self.repeat = contract["timing"]["action_repeat"]

    def reset(self, seed: int) -> np.ndarray:
        return np.asarray(self.env.reset(seed=seed)[0], np.float32)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool]:
        a = np.clip(np.asarray(action, np.float64), -1.0, 1.0)
        native = (self.low + (a + 1.0) * 0.5 * (self.high - self.low)).astype(np.float32)
        total = 0.0
        for _ in range(self.repeat):
            obs, reward, terminated, truncated, _ = self.env.step(native)
            total += float(reward)
            if terminated or truncated:
                break
        return np.asarray(obs, np.float32), total, terminated or truncated


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("export_dir", type=Path)
    ap.add_argument("--episodes", type=int, default=1)
    ap.add_argument("--seed", type=int, default=12345, help="as `visuomotor eval --seed`")
    ap.add_argument("--record", type=Path, default=None, help="save every observation and action to this .npz")
    args = ap.parse_args()
    meta = json.loads((args.export_dir / "policy.json").read_text())
    contract = meta["contract"]
    session = ort.InferenceSession(str(args.export_dir / meta["files"]["onnx"]), providers=["CPUExecutionProvider"])
    env_id = contract["env"]
    if env_id.startswith("dmc/"):
        env = DMControl(contract)
    elif env_id.startswith("gym/"):
        env = Gymnasium(contract)
    else:
        raise SystemExit(f"this script knows dmc/ and gym/ envs, not {env_id}")
    dtype = np.uint8 if contract["observation"]["dtype"] == "uint8" else np.float32
    observations, actions, returns = [], [], []
    for ep in range(args.episodes):
        obs, done, total, length = env.reset(episode_seed(args.seed, ep)), False, 0.0, 0
        while not done:
            action = session.run(["action"], {"obs": obs[None].astype(dtype)})[0][0]
            if args.record:
                observations.append(obs)
                actions.append(action)
            obs, reward, done = env.step(action)
            total += reward
            length += 1
        returns.append(total)
        print(f"episode {ep}: return {total:.4f}  length {length}")
    print(f"return mean {np.mean(returns):.4f} over {args.episodes} episode(s)")
    if args.record:
        np.savez_compressed(args.record, obs=np.stack(observations), action=np.stack(actions),
                            returns=np.asarray(returns))


if __name__ == "__main__":
    main()
