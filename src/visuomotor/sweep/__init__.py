"""Sweeps: many runs (algorithms x envs x overrides x seeds) as local processes or on Ray."""

from visuomotor.sweep.runner import Sweep, execute_trial, read_status
from visuomotor.sweep.spec import SweepSpec, Trial, load_sweep, parse_seeds

__all__ = ["Sweep", "SweepSpec", "Trial", "execute_trial", "load_sweep", "parse_seeds", "read_status"]
