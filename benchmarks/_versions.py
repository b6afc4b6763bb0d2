"""Time our code as it is in other checkouts, side by side with this one (``--versions SRC ...``).

``call_in(src, file, func, *args, **kwargs)`` runs ``func`` of this benchmark file in a child process
whose ``visuomotor`` is imported from ``src`` (a checkout's ``src/`` folder, e.g. a ``git worktree``
of an older commit), so every version is timed by the same benchmark code in a fresh process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

_CHILD = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("bench", sys.argv[1])
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)
args, kwargs = json.loads(sys.argv[3]), json.loads(sys.argv[4])
print("RESULT " + json.dumps(getattr(bench, sys.argv[2])(*args, **kwargs)))
"""


def label(src: str | Path) -> str:
    """A checkout's name in tables: its commit's short hash (the folder's name if it is not a checkout)."""
    try:
        out = subprocess.run(["git", "-C", str(src), "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return Path(src).name


def call_in(src: str | Path, file: str | Path, func: str, *args, **kwargs):
    """``func(*args, **kwargs)`` of the benchmark ``file``, run with ``visuomotor`` from ``src``; its
    arguments and result pass as JSON."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(src).resolve()), str(Path(file).resolve().parent)])}
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(Path(file).resolve()), func, json.dumps(args),
                           json.dumps(kwargs)], env=env, capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{func} with visuomotor from {src} failed:\n{proc.stderr[-2000:]}")
    return json.loads(lines[-1][len("RESULT "):])
