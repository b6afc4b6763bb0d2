"""Checkpoints: torch state written atomically, read back with a clear error when damaged."""

from __future__ import annotations

import io
from pathlib import Path

import torch

from visuomotor.errors import VisuomotorError
from visuomotor.fileio import atomic_write_bytes


def save_checkpoint(path: Path, state: dict) -> None:
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(path, buf.getvalue())


def load_checkpoint(path: Path, map_location="cpu") -> dict:
    path = Path(path)
    if not path.is_file():
        raise VisuomotorError(f"no checkpoint at {path}")
    with open(path, "rb") as f:
        head = f.read(4)
    if head[:2] != b"PK" and head[:1] != b"\x80":  # neither torch.save's zip format nor its legacy pickle
        raise VisuomotorError(f"{path} is not a visuomotor checkpoint (not a file torch.save wrote)")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling failure means a damaged file
        reason = str(e).strip().splitlines()[0][:120] if str(e).strip() else type(e).__name__
        raise VisuomotorError(f"checkpoint {path} is corrupt or unreadable ({reason})") from None
    if not isinstance(state, dict) or "agent" not in state:
        raise VisuomotorError(f"checkpoint {path} is corrupt or unreadable (no agent state)")
    bad = nonfinite(state["agent"])
    if bad:
        raise VisuomotorError(f"checkpoint {path} holds non-finite values ({', '.join(bad[:3])}): the agent had "
                              f"diverged when it was written")
    return state


def load_agent_state(agent, state: dict, path: Path, what: str) -> None:
    """``agent.load_state_dict(state["agent"])``, or a one-line error saying the checkpoint at ``path``
    does not fit ``what`` (another algorithm, or other shapes): what it holds and which part did not."""
    config = state.get("config") if isinstance(state.get("config"), dict) else {}
    holds = f"holds a {config['algo']} agent for {config.get('env')}; " if "algo" in config else ""
    try:
        agent.load_state_dict(state["agent"])
    except KeyError as e:
        raise VisuomotorError(f"checkpoint {path} does not fit {what}: it {holds or ''}has no {e} state") from None
    except RuntimeError as e:  # torch's "Error(s) in loading state_dict for X:" then the details
        lines = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
        detail = lines[1] if len(lines) > 1 else (lines[0] if lines else type(e).__name__)
        raise VisuomotorError(f"checkpoint {path} does not fit {what} ({holds}{detail[:200]})") from None


def nonfinite(state, where: str = "") -> list[str]:
    """The dotted keys of the floating-point tensors in nested ``state`` that hold a NaN or an infinity."""
    if isinstance(state, dict):
        return [k for key, v in state.items() for k in nonfinite(v, f"{where}.{key}" if where else str(key))]
    if isinstance(state, (list, tuple)):
        return [k for i, v in enumerate(state) for k in nonfinite(v, f"{where}[{i}]")]
    if isinstance(state, torch.Tensor) and state.is_floating_point() and not bool(torch.isfinite(state).all()):
        return [where]
    return []
