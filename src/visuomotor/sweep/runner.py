"""Run a sweep's trials: as local processes, or as Ray tasks (a local Ray or an existing cluster).

Sweep directory::

    sweep.yaml            the sweep's spec (as expanded: algos, envs, seeds, base, grid)
    trials/<name>/        one ordinary run directory per trial (config.yaml, eval.csv, checkpoints...)
    status/<name>.json    state (running | done | failed), error, exit code, seconds, attempts
    logs/<name>.log       the trial process's output
    summary.csv           one row per trial: state, last and best eval return, error

Every trial runs in its own process (`python -m visuomotor.sweep.worker`), so a crash, a NaN loss
or a killed process fails that trial only: it is recorded with its error and the sweep goes on.
`--resume` runs every trial that is not done; one that was interrupted continues from its own
checkpoint. With Ray the trial processes are started by Ray tasks, on whichever node has the free
CPUs; for a cluster the sweep directory must be on a filesystem every node sees.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from visuomotor.errors import VisuomotorError
from visuomotor.fileio import atomic_write_text
from visuomotor.sweep.spec import SweepSpec, Trial
from visuomotor.train.config import save_config

DONE, FAILED, RUNNING = "done", "failed", "running"


def read_status(sweep_dir: Path, name: str) -> dict:
    path = Path(sweep_dir) / "status" / f"{name}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _write_status(sweep_dir: Path, name: str, status: dict) -> None:
    atomic_write_text(Path(sweep_dir) / "status" / f"{name}.json", json.dumps(status, indent=1))


def execute_trial(trial_config: str, log_path: str, threads: int) -> dict:
    """Run one trial in a child process; returns its outcome (never raises for a failed trial).

    Runs in the sweep's own process (local backend) or in a Ray worker (ray backend).
    """
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    cmd = [sys.executable, "-m", "visuomotor.sweep.worker", trial_config, "--threads", str(threads)]
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    with open(log_path, "ab") as log:
        log.write(f"\n==> {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(cmd)}\n".encode())
        log.flush()
        code = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    # runner_pid: the process that ran this function (the sweep itself locally, a Ray worker on Ray)
    out = {"returncode": code, "seconds": round(time.time() - t0, 1), "host": os.uname().nodename,
           "runner_pid": os.getpid()}
    if code == 0:
        return {**out, "state": DONE, "error": None}
    if code < 0:
        error = f"killed by {signal.Signals(-code).name}"
    else:
        error = _last_error(Path(log_path)) or f"exit code {code}"
    return {**out, "state": FAILED, "error": error}


_EXC_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b")


def _last_error(log_path: Path) -> str | None:
    """The error at the end of a trial's log: our one-line error, else a traceback's last line."""
    try:
        lines = [ln.strip() for ln in log_path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return None
    tail = lines[-60:]
    for ln in reversed(tail):
        if ln.startswith("visuomotor: error:"):
            return ln[len("visuomotor: error:"):].strip()
    for ln in reversed(tail):
        if _EXC_LINE.match(ln):
            return ln
    return tail[-1] if tail else None


class Sweep:
    """A sweep directory and its trials."""

    def __init__(self, spec: SweepSpec, sweep_dir: Path):
        self.spec = spec
        self.dir = Path(sweep_dir)
        self.trials: list[Trial] = spec.trials(self.dir)

    # ---- directory ------------------------------------------------------------------------------
    def prepare(self, resume: bool) -> None:
        stored_path = self.dir / "sweep.yaml"
        if resume:
            if not stored_path.is_file():
                raise VisuomotorError(f"cannot resume: {stored_path} does not exist")
            stored = yaml.safe_load(stored_path.read_text()) or {}
            if stored.get("spec") != self.spec.to_dict():
                raise VisuomotorError(f"cannot resume {self.dir}: the sweep differs from the stored sweep.yaml; "
                                      f"resume with the same sweep or choose another --sweep-dir")
            return
        if self.dir.exists() and any(self.dir.iterdir()):
            raise VisuomotorError(f"sweep dir {self.dir} already exists; pass --resume to continue it "
                                  f"or choose another --sweep-dir")
        self.dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(stored_path, yaml.safe_dump(
            {"spec": self.spec.to_dict(), "trials": [t.name for t in self.trials]}, sort_keys=False))

    def pending(self) -> list[Trial]:
        return [t for t in self.trials if read_status(self.dir, t.name).get("state") != DONE]

    def _trial_config_path(self, trial: Trial) -> Path:
        """The trial's config for its worker process: the run's own config.yaml once it exists."""
        path = self.dir / "status" / f"{trial.name}.config.yaml"
        save_config(path, trial.config, {})
        return path

    # ---- running --------------------------------------------------------------------------------
    def run(self, backend: str = "local", workers: int = 0, address: str | None = None) -> dict[str, dict]:
        """Run every pending trial; returns {name: status}. Trials that fail are recorded, not raised."""
        cores = os.cpu_count() or 1
        workers = workers or cores
        threads = max(1, cores // workers)
        todo = self.pending()
        done = len(self.trials) - len(todo)
        print(f"[visuomotor] sweep {self.dir}: {len(self.trials)} trials, {done} done, {len(todo)} to run "
              f"({backend}, {workers} at a time, {threads} thread(s) each)", flush=True)
        if todo:
            if backend == "local":
                self._run_local(todo, workers, threads)
            elif backend == "ray":
                self._run_ray(todo, workers, threads, address)
            else:
                raise VisuomotorError(f"unknown backend {backend!r}; choose local or ray")
        statuses = {t.name: read_status(self.dir, t.name) for t in self.trials}
        self.write_summary(statuses)
        failed = [n for n, s in statuses.items() if s.get("state") != DONE]
        print(f"[visuomotor] sweep {self.dir}: {len(self.trials) - len(failed)} of {len(self.trials)} trials done"
              + (f"; not done: {', '.join(failed)}" if failed else ""), flush=True)
        return statuses

    def _start(self, trial: Trial) -> tuple[str, str]:
        prev = read_status(self.dir, trial.name)
        _write_status(self.dir, trial.name, {"state": RUNNING, "error": None, "started": time.time(),
                                             "attempts": prev.get("attempts", 0) + 1})
        return str(self._trial_config_path(trial)), str(self.dir / "logs" / f"{trial.name}.log")

    def _finish(self, trial: Trial, outcome: dict) -> None:
        status = {**read_status(self.dir, trial.name), **outcome, "finished": time.time()}
        _write_status(self.dir, trial.name, status)
        note = "" if outcome["state"] == DONE else f": {outcome['error']}"
        print(f"[visuomotor]   {trial.name}: {outcome['state']} in {outcome['seconds']:.0f}s{note}", flush=True)

    def _run_local(self, todo: list[Trial], workers: int, threads: int) -> None:
        def one(trial: Trial) -> None:
            cfg_path, log_path = self._start(trial)
            self._finish(trial, execute_trial(cfg_path, log_path, threads))

        with ThreadPoolExecutor(workers) as pool:
            for fut in [pool.submit(one, t) for t in todo]:
                fut.result()

    def _run_ray(self, todo: list[Trial], workers: int, threads: int, address: str | None) -> None:
        try:
            import ray
        except ImportError:
            raise VisuomotorError("--backend ray needs Ray: pip install 'visuomotor[ray]'") from None
        started_here = not ray.is_initialized()
        if started_here:
            kw = {"address": address} if address else {"num_cpus": workers * threads}
            try:
                ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False, **kw)
            except Exception as e:  # noqa: BLE001 - Ray raises many kinds; report them in one line
                raise VisuomotorError(f"cannot start Ray ({type(e).__name__}: {str(e).splitlines()[0]})") from None
        try:
            task = ray.remote(num_cpus=threads, max_retries=0)(execute_trial)
            refs = {}
            for t in todo:
                cfg_path, log_path = self._start(t)
                refs[task.remote(cfg_path, log_path, threads)] = t
            while refs:
                ready, _ = ray.wait(list(refs), num_returns=1)
                trial = refs.pop(ready[0])
                try:
                    outcome = ray.get(ready[0])
                except Exception as e:  # noqa: BLE001 - a lost node or worker: this trial failed
                    outcome = {"state": FAILED, "error": f"ray: {type(e).__name__}: {str(e).splitlines()[0]}",
                               "returncode": None, "seconds": 0.0}
                self._finish(trial, outcome)
        finally:
            if started_here:
                ray.shutdown()

    # ---- summary --------------------------------------------------------------------------------
    def write_summary(self, statuses: dict[str, dict]) -> Path:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["trial", "env", "algo", "label", "seed", "state", "last_step", "last_eval", "best_eval",
                    "seconds", "error"])
        for t in self.trials:
            s = statuses.get(t.name, {})
            last_step = last = best = ""
            evals = _read_eval(Path(t.config.run_dir))
            if evals:
                last_step, last = evals[-1]
                best = max(v for _, v in evals)
            w.writerow([t.name, t.config.env, t.config.algo, t.config.label, t.config.seed, s.get("state", "pending"),
                        last_step, last, best, s.get("seconds", ""), s.get("error") or ""])
        path = self.dir / "summary.csv"
        atomic_write_text(path, buf.getvalue())
        return path


def _read_eval(run_dir: Path) -> list[tuple[int, float]]:
    try:
        with open(run_dir / "eval.csv", newline="") as f:
            return [(int(r["step"]), float(r["mean_return"])) for r in csv.DictReader(f)]
    except (OSError, KeyError, ValueError):
        return []
