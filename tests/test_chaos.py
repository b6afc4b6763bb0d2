"""Chaos: a short SAC run and a short pixel DrQ-v2 run, each SIGKILLed at 5 random moments and resumed
(``--resume``, or ``--restart`` before the first checkpoint), end bit for bit like uninterrupted runs:
latest.pt and best.pt, the episode files, eval.csv and metrics.csv (clocks aside). The harness is
``benchmarks/chaos_resume.py``, whose default is the 20-kill version."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "chaos_resume", Path(__file__).resolve().parents[1] / "benchmarks" / "chaos_resume.py")
chaos_resume = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(chaos_resume)


@pytest.mark.slow
@pytest.mark.parametrize("case", ["sac", "drqv2"])
def test_five_kill_9_at_random_moments_then_resume_end_bit_identical(tmp_path, case):
    result = chaos_resume.chaos(chaos_resume.CASES[case], chaos_resume.STEPS[case], kills=5, workdir=tmp_path,
                                seed=1, log=lambda m: None)
    assert result["kills"] == 5, result["record"]
    assert result["differences"] == [], result["differences"]
