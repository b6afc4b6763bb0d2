"""Load a trained agent back from its run directory (``visuomotor.load_agent``)."""

from visuomotor.train.build import load_agent

__all__ = ["load_agent"]
