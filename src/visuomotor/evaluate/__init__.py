"""Evaluation rollouts, videos and plots (``load_agent``, which builds agents, is ``visuomotor.load_agent``)."""

from visuomotor.evaluate.plots import plot_run
from visuomotor.evaluate.rollout import EvalResult, episode_seed, evaluate, write_video

__all__ = ["EvalResult", "episode_seed", "evaluate", "plot_run", "write_video"]
