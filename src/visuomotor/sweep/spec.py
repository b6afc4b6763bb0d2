"""Sweep specifications: which runs a sweep is made of.

A sweep is a grid of algorithms x environments x overrides x seeds; every cell (a *trial*) is one
ordinary training run with its own run directory. Written as YAML::

    algos: [sac]                          # or `algo: sac`
    envs: [dmc/cartpole-swingup, dmc/walker-walk]
    seeds: 0-4                            # "0-4", "0,2,7", "0-2,9" or a list [0, 1, 2]
    base:                                 # settings shared by every trial (nested or dotted keys)
      steps: 100000
      sac.learning_starts: 1000
    grid:                                 # optional: every combination of these values
      sac.batch_size: [128, 256]

Keys are the fields of `visuomotor train --help` (`sac.batch_size` is `--sac.batch-size`).
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path

import yaml

from visuomotor.errors import VisuomotorError
from visuomotor.train.config import TrainConfig, config_type, flatten, from_dict, to_dict

# fields a sweep owns itself: a trial's seed, run directory and label come from the grid
_SWEEP_OWNED = {"seed", "seeds", "run_dir", "resume", "restart", "workers", "label"}


def parse_seeds(text: str | int | list) -> list[int]:
    """'0-4' -> [0, 1, 2, 3, 4]; '0,2,7' and '0-2,9' and [0, 1] and 3 work too."""
    if isinstance(text, bool):
        raise VisuomotorError(f"seeds {text!r}: expected e.g. 0-4, 0,2,7 or a list of integers")
    if isinstance(text, int):
        return [text]
    if isinstance(text, list):
        if not text or not all(isinstance(s, int) and not isinstance(s, bool) for s in text):
            raise VisuomotorError(f"seeds {text!r}: expected a non-empty list of integers")
        seeds = list(text)
    else:
        seeds = []
        for part in str(text).replace(" ", "").split(","):
            m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
            if not m or (m.group(2) is not None and int(m.group(2)) < int(m.group(1))):
                raise VisuomotorError(f"seeds {text!r}: expected e.g. 0-4, 0,2,7 or 0-2,9 (non-negative, low-high)")
            lo = int(m.group(1))
            hi = int(m.group(2)) if m.group(2) is not None else lo
            seeds += range(lo, hi + 1)
    if len(set(seeds)) != len(seeds):
        raise VisuomotorError(f"seeds {text!r}: a seed is listed twice")
    if any(s < 0 for s in seeds):
        raise VisuomotorError(f"seeds {text!r}: seeds must be >= 0")
    return seeds


def _field_paths(cls=TrainConfig, prefix: str = "") -> dict[str, typing.Any]:
    """Every settable dotted key of the config and its type."""
    hints = typing.get_type_hints(cls)
    out = {}
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            out.update(_field_paths(tp, f"{prefix}{f.name}."))
        else:
            out[prefix + f.name] = tp
    return out


def _check_keys(keys, where: str) -> None:
    paths = _field_paths(config_type())
    for k in keys:
        if k in _SWEEP_OWNED:
            raise VisuomotorError(f"{where}: {k!r} is set by the sweep itself (use seeds/algos/envs)")
        if k not in paths:
            close = difflib.get_close_matches(k, list(paths), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else "; see `visuomotor train --help`"
            raise VisuomotorError(f"{where}: unknown setting {k!r}{hint}")


def _convert(key: str, tp, value):
    """A YAML value as the field's type (YAML reads 1e-4 as a string; lists become tuples)."""
    base = tp
    if typing.get_origin(tp) in (typing.Union, types.UnionType):  # X | None
        if value is None and type(None) in typing.get_args(tp):
            return None
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        base = args[0] if len(args) == 1 else tp
    try:
        if base is bool:
            if isinstance(value, bool):
                return value
        elif base is int:
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            if isinstance(value, float) and value.is_integer():
                return int(value)
            if isinstance(value, str):
                return int(float(value)) if float(value).is_integer() else None  # "1e5"
        elif base is float:
            if isinstance(value, (int, float, str)) and not isinstance(value, bool):
                return float(value)
        elif base is str:
            if isinstance(value, str):
                return value
        elif base is Path:
            return Path(value)
        elif typing.get_origin(base) is tuple:
            if isinstance(value, (list, tuple)):
                return tuple(value)
        else:
            return value
    except (TypeError, ValueError):
        pass
    raise VisuomotorError(f"setting {key!r}: {value!r} is not a valid {getattr(base, '__name__', base)}")


def _set_dotted(data: dict, key: str, value) -> None:
    parts = key.split(".")
    for p in parts[:-1]:
        data = data.setdefault(p, {})
    data[parts[-1]] = value


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=+-]+", "-", text).strip("-")


@dataclass
class Trial:
    """One run of a sweep."""

    name: str
    """Directory name of the run (unique within the sweep)."""
    config: TrainConfig
    """Its complete training config (run_dir inside the sweep directory)."""


@dataclass
class SweepSpec:
    algos: list[str]
    envs: list[str]
    seeds: list[int]
    base: dict
    grid: dict[str, list]

    def to_dict(self) -> dict:
        return {"algos": self.algos, "envs": self.envs, "seeds": self.seeds, "base": self.base, "grid": self.grid}

    @classmethod
    def from_dict(cls, data, where: str = "sweep") -> SweepSpec:
        if not isinstance(data, dict):
            raise VisuomotorError(f"{where}: expected a mapping with algos, envs, seeds (see `visuomotor sweep --help`)")
        allowed = {"algo", "algos", "env", "envs", "seeds", "base", "grid"}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise VisuomotorError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")

        def listed(one: str, many: str) -> list[str]:
            value = data.get(many, data.get(one))
            if value is None:
                raise VisuomotorError(f"{where}: missing {many!r} (a list) or {one!r}")
            value = [value] if isinstance(value, str) else value
            if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
                raise VisuomotorError(f"{where}: {many!r} must be a non-empty list of names, got {value!r}")
            return value

        base = flatten(data.get("base") or {})
        grid = flatten(data.get("grid") or {})
        _check_keys(base, f"{where} base")
        _check_keys(grid, f"{where} grid")
        for k, v in grid.items():
            if not isinstance(v, list) or not v:
                raise VisuomotorError(f"{where} grid: {k!r} must be a non-empty list of values, got {v!r}")
        if "seeds" not in data:
            raise VisuomotorError(f"{where}: missing 'seeds' (e.g. seeds: 0-4)")
        return cls(algos=listed("algo", "algos"), envs=listed("env", "envs"), seeds=parse_seeds(data["seeds"]),
                   base=base, grid=grid)

    def trials(self, sweep_dir: Path) -> list[Trial]:
        """Every (env, algo, grid point, seed), each a validated TrainConfig with its run directory."""
        from visuomotor.train.config import validate

        keys = list(self.grid)
        paths = _field_paths(config_type())
        out = []
        for env, algo, values in itertools.product(self.envs, self.algos, itertools.product(*self.grid.values())):
            point = dict(zip(keys, values))
            label = algo + ("[" + ", ".join(f"{k}={v}" for k, v in point.items()) + "]" if point else "")
            tag = "__".join(_slug(f"{k}={v}") for k, v in point.items())
            for seed in self.seeds:
                name = "__".join(filter(None, [_slug(env.replace("/", "-")), algo, tag, f"s{seed}"]))
                data = to_dict(config_type()(algo=algo)) if algo in _algos() else {"algo": algo}
                for k, v in {**self.base, **point}.items():
                    _set_dotted(data, k, _convert(k, paths[k], v))
                data.update(env=env, algo=algo, seed=seed, label=label, progress=False,
                            run_dir=str(Path(sweep_dir) / "trials" / name))
                try:
                    cfg = from_dict(config_type(), data)
                    validate(cfg)
                except (TypeError, ValueError) as e:
                    raise VisuomotorError(f"trial {name}: {e}") from None
                out.append(Trial(name, cfg))
        return out


def _algos():
    from visuomotor.algos import ALGORITHMS

    return ALGORITHMS


def load_sweep(path: Path) -> SweepSpec:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as e:
        raise VisuomotorError(f"cannot read sweep file {path} ({e.strerror or type(e).__name__})") from None
    except yaml.YAMLError as e:
        raise VisuomotorError(f"sweep file {path} is not valid YAML ({str(e).splitlines()[0]})") from None
    return SweepSpec.from_dict(data, where=str(path))
