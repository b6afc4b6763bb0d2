"""Evaluation rollouts, videos and plots."""

from visuomotor.evaluate.plots import plot_run
from visuomotor.evaluate.rollout import EvalResult, episode_seed, evaluate, write_video

__all__ = ["EvalResult", "episode_seed", "evaluate", "plot_run", "write_video"]


def __getattr__(name):  # load_agent imports the training config; import it lazily
    if name == "load_agent":
        from visuomotor.evaluate.load import load_agent

        return load_agent
    raise AttributeError(name)
