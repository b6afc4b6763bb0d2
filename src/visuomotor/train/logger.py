"""Scalars to ``metrics.csv`` / ``eval.csv`` and TensorBoard; rows past a resume point are dropped."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from visuomotor.fileio import atomic_write_text


class CSVLog:
    """A CSV whose header grows when new keys appear (the file is then rewritten once)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.fields: list[str] = []
        if self.path.is_file():
            with open(self.path, newline="") as f:
                reader = csv.reader(f)
                self.fields = next(reader, [])

    def read(self) -> list[dict[str, str]]:
        if not self.path.is_file():
            return []
        with open(self.path, newline="") as f:
            return list(csv.DictReader(f))

    def _rewrite(self, rows: list[dict]) -> None:
        out = io.StringIO()
        w = csv.DictWriter(out, fieldnames=self.fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
        atomic_write_text(self.path, out.getvalue())

    def write(self, row: dict) -> None:
        row = {k: _fmt(v) for k, v in row.items()}
        new = [k for k in row if k not in self.fields]
        if new or not self.path.is_file():
            old = self.read()
            self.fields += new
            self._rewrite(old + [row])
            return
        with open(self.path, "a", newline="") as f:
            csv.DictWriter(f, fieldnames=self.fields, extrasaction="ignore").writerow(row)
            f.flush()

    def truncate_after(self, step: int) -> None:
        """Drop rows logged after ``step`` (they belong to work a resume redoes), and a last row cut off
        mid-line (a process stopped while appending it: its step may read as a smaller number)."""
        if not self.path.is_file():
            return
        text = self.path.read_text()
        cut = bool(text) and not text.endswith("\n")
        if cut:
            text = text[:text.rfind("\n") + 1]
            if not text:  # (the header itself was cut off: start the file again)
                self.path.unlink()
                self.fields = []
                return
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        kept = [r for r in rows if r.get("step", "") == "" or int(float(r["step"])) <= step]
        if cut or len(kept) != len(rows):
            self._rewrite(kept)


def _fmt(v):
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.6g}"
    return v


class Logger:
    def __init__(self, run_dir: Path, resume_step: int | None = None, tensorboard: bool = True):
        self.metrics = CSVLog(run_dir / "metrics.csv")
        self.evals = CSVLog(run_dir / "eval.csv")
        # resume_step: rows up to and including it belong to the checkpoint and stay; later ones
        # are redone by the resumed run. -1 means start over (no checkpoint was ever written).
        if resume_step is not None:
            self.metrics.truncate_after(resume_step)
            self.evals.truncate_after(resume_step)
        self.tb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            purge = None if resume_step is None else resume_step + 1
            self.tb = SummaryWriter(str(run_dir / "tb"), purge_step=purge)

    def log(self, step: int, scalars: dict[str, float]) -> None:
        self.metrics.write({"step": step, **scalars})
        if self.tb is not None:
            for k, v in scalars.items():
                if isinstance(v, (int, float)) and not math.isnan(v):
                    self.tb.add_scalar(k, v, step)

    def log_eval(self, step: int, row: dict) -> None:
        self.evals.write({"step": step, **row})
        if self.tb is not None:
            for k in ("mean_return", "std_return", "min_return", "max_return", "success_rate"):
                v = row.get(k)
                if isinstance(v, (int, float)) and not math.isnan(v):
                    self.tb.add_scalar(f"eval/{k}", v, step)

    def flush(self) -> None:
        if self.tb is not None:
            self.tb.flush()

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()
