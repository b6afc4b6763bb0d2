"""One sweep trial in its own process: ``python -m visuomotor.sweep.worker CONFIG.yaml --threads N``.

Trains the run described by CONFIG (a config.yaml as `visuomotor train` writes it); when its run
directory already holds a run, continues it from its checkpoint. Exit 0 when training finished,
2 with a one-line ``visuomotor: error:`` for bad input or a diverged run, 1 with a traceback for
anything else.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m visuomotor.sweep.worker")
    p.add_argument("config", type=Path)
    p.add_argument("--threads", type=int, default=0)
    args = p.parse_args(argv)

    from visuomotor.errors import VisuomotorError
    from visuomotor.train.config import load_config
    from visuomotor.train.runner import train_run

    try:
        cfg, _ = load_config(args.config)
        run_dir = Path(cfg.run_dir)
        resume = (run_dir / "checkpoints" / "latest.pt").is_file()
        restart = not resume and (run_dir / "config.yaml").is_file()  # stopped before its first checkpoint
        if resume:
            print(f"[visuomotor] continuing {run_dir} from its checkpoint", flush=True)
        train_run(dataclasses.replace(cfg, run_dir=run_dir, resume=resume, restart=restart, threads=args.threads,
                                      progress=False, seeds=None, workers=0))
    except VisuomotorError as e:
        print(f"visuomotor: error: {e}", file=sys.stderr, flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
