"""How fast the command line starts: wall time of `visuomotor --help`, `visuomotor list`,
`visuomotor train --help` and `import visuomotor`, each a fresh process, median of --repeats runs.
With --compare REV, the same commands at another commit (a temporary git worktree on PYTHONPATH, the
same Python and packages), measured interleaved with this tree's, so both see the same machine load.

    python benchmarks/cli_startup.py --repeats 7 --compare 5d1dd95

Targets (on an idle 2-core machine): --help under 1.0 s, list under 2.0 s.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {
    "--help": ["-m", "visuomotor", "--help"],
    "list": ["-m", "visuomotor", "list"],
    "train --help": ["-m", "visuomotor", "train", "--help"],
    "import visuomotor": ["-c", "import visuomotor"],
    "import torch": ["-c", "import torch"],
}


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def timed(args: list[str], src: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(src), "PYTHONWARNINGS": "ignore"}
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True)
    elapsed = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed under {src}:\n{proc.stderr}")
    return elapsed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--compare", default=None, help="another commit to time side by side")
    args = p.parse_args()
    trees = {"this tree": ROOT / "src"}
    tmp = None
    if args.compare:
        tmp = tempfile.mkdtemp(prefix="cli_startup_")
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", tmp, args.compare], check=True,
                       capture_output=True)
        trees[args.compare] = Path(tmp) / "src"
    try:
        for name, src in trees.items():  # warm the file cache and compile the bytecode once
            for cmd in COMMANDS.values():
                timed(cmd, src)
        times = {(t, c): [] for t in trees for c in COMMANDS}
        for _ in range(args.repeats):
            for c, cmd in COMMANDS.items():
                for t, src in trees.items():
                    times[(t, c)].append(timed(cmd, src))
    finally:
        if tmp:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", tmp], capture_output=True)
    print(f"{cpu_name()}, {os.cpu_count()} cores, Python {platform.python_version()}; median of {args.repeats} "
          f"(min-max), seconds")
    print("| command | " + " | ".join(trees) + " |")
    print("|---|" + "---|" * len(trees))
    for c in COMMANDS:
        cells = [f"{statistics.median(times[(t, c)]):.2f} ({min(times[(t, c)]):.2f}-{max(times[(t, c)]):.2f})"
                 for t in trees]
        print(f"| `{c}` | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
