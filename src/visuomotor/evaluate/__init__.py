"""Evaluation rollouts, videos and plots (``load_agent``, which builds agents, is ``visuomotor.load_agent``).

Names are imported when first used (``from visuomotor.evaluate import evaluate``)."""

from visuomotor._lazy import lazy_getattr

_LAZY = {"plot_run": "visuomotor.evaluate.plots", **{n: "visuomotor.evaluate.rollout" for n in (
    "EvalResult", "episode_seed", "evaluate", "write_video")}}


__getattr__ = lazy_getattr(globals(), _LAZY)


__all__ = ["EvalResult", "episode_seed", "evaluate", "plot_run", "write_video"]
