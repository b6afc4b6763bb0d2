"""Schedules written as strings, as in DrQ-v2: ``0.2``, ``linear(1.0,0.1,500000)``,
``step_linear(1.0,0.5,100000,0.1,400000)`` (init -> final1 over dur1 steps, then -> final2 over dur2)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable

_NUM = r"\s*(-?[\d.]+(?:[eE][-+]?\d+)?)\s*"


def _finite(value: float, spec) -> float:
    if not math.isfinite(value):
        raise ValueError(f"schedule {spec!r}: must be a finite number")
    return value


def parse_schedule(spec: str | float) -> Callable[[int], float]:
    """A function of the step; raises ValueError naming the spec when it is not understood."""
    if isinstance(spec, (int, float)):
        value = _finite(float(spec), spec)
        return lambda step: value
    text = str(spec).strip()
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        value = _finite(value, spec)
        return lambda step: value
    m = re.fullmatch(rf"linear\({_NUM},{_NUM},{_NUM}\)", text)
    if m:
        init, final, duration = float(m.group(1)), float(m.group(2)), float(m.group(3))
        if duration <= 0:
            raise ValueError(f"schedule {spec!r}: duration must be > 0")

        def linear(step: int) -> float:
            mix = min(max(step / duration, 0.0), 1.0)
            return (1.0 - mix) * init + mix * final

        return linear
    m = re.fullmatch(rf"step_linear\({_NUM},{_NUM},{_NUM},{_NUM},{_NUM}\)", text)
    if m:
        init, final1, dur1, final2, dur2 = (float(g) for g in m.groups())
        if dur1 <= 0 or dur2 <= 0:
            raise ValueError(f"schedule {spec!r}: durations must be > 0")

        def step_linear(step: int) -> float:
            if step <= dur1:
                mix = min(max(step / dur1, 0.0), 1.0)
                return (1.0 - mix) * init + mix * final1
            mix = min(max((step - dur1) / dur2, 0.0), 1.0)
            return (1.0 - mix) * final1 + mix * final2

        return step_linear
    raise ValueError(f"schedule {spec!r} not understood; use a number, linear(init,final,steps) "
                     f"or step_linear(init,final1,steps1,final2,steps2)")
