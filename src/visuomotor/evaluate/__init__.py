"""Evaluation rollouts, videos and plots (``load_agent``, which builds agents, is ``visuomotor.load_agent``).

Names are imported when first used (``from visuomotor.evaluate import evaluate``)."""

import importlib

_LAZY = {"plot_run": "visuomotor.evaluate.plots", **{n: "visuomotor.evaluate.rollout" for n in (
    "EvalResult", "episode_seed", "evaluate", "write_video")}}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["EvalResult", "episode_seed", "evaluate", "plot_run", "write_video"]
