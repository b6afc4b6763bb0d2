"""Envs for tests that stop a run at a chosen moment without timing it: dm_control's cartpole-swingup
(the same episodes as ``dmc/cartpole-swingup``) whose process acts on itself at a given env step.

``VISUOMOTOR_TEST_STOP="SIGNAL@N"`` (e.g. ``SIGTERM@3300``): on the N-th ``step`` of all such envs in
the process (training and evaluation envs together, so N counts a deterministic order of calls), the
process sends itself SIGNAL. ``PAUSE@N:DIR``: at the N-th step it writes DIR/paused and waits until
DIR/go exists (a run held alive at a known point while a test looks at it). Steps are counted per
process, so a resumed run counts from 0 again."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import gymnasium as gym

from visuomotor.envs import make_env

_count = 0


class StopAt(gym.Wrapper):
    def step(self, action):
        global _count
        out = self.env.step(action)
        _count += 1
        what, _, rest = os.environ.get("VISUOMOTOR_TEST_STOP", "").partition("@")
        at, _, where = rest.partition(":")
        if what and _count == int(at):
            if what == "PAUSE":
                (Path(where) / "paused").write_text(str(_count))
                while not (Path(where) / "go").exists():  # a file the test writes (no moment is timed)
                    time.sleep(0.05)
            else:
                os.kill(os.getpid(), getattr(signal, what))
        return out


def cartpole(**kwargs):
    return StopAt(make_env("dmc/cartpole-swingup", seed=0, **kwargs))
