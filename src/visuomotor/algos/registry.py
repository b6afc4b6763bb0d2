"""The algorithm registry: CLI name -> (Agent class, Config class).

Registering an algorithm is one line, ``ALGORITHMS["name"] = (Agent, Config)``: it gets its
``--name.*`` flags, its section of config.yaml and its checks (``train/config.py`` builds the run
configuration from this table). The built-in algorithms are listed by module path and imported when
first looked up, so that naming them (``visuomotor list``, ``--help``) imports no torch.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
from collections.abc import Iterator, MutableMapping

BUILTIN: dict[str, tuple[str, str, str]] = {  # name -> (module, Agent class, Config class)
    "sac": ("visuomotor.algos.sac", "SAC", "SACConfig"),
    "drqv2": ("visuomotor.algos.drqv2", "DrQv2", "DrQv2Config"),
    "drm": ("visuomotor.algos.drm", "DrM", "DrMConfig"),
    "ppo": ("visuomotor.algos.ppo", "PPO", "PPOConfig"),
    "bc": ("visuomotor.algos.bc", "BC", "BCConfig"),
    "td3": ("visuomotor.algos.td3", "TD3", "TD3Config"),
    "td3bc": ("visuomotor.algos.td3bc", "TD3BC", "TD3BCConfig"),
    "fasttd3": ("visuomotor.algos.fasttd3", "FastTD3", "FastTD3Config"),
    "fastsac": ("visuomotor.algos.fastsac", "FastSAC", "FastSACConfig"),
    "distill": ("visuomotor.algos.distill", "Distill", "DistillConfig"),
}


class Registry(MutableMapping):
    """A mapping name -> (Agent class, Config class) whose entries may be given as a module path and
    imported on first lookup. Iteration (the names, in registration order) imports nothing."""

    def __init__(self, lazy: dict[str, tuple[str, str, str]]):
        self._lazy = dict(lazy)
        self._loaded: dict[str, tuple[type, type]] = {}
        self._order = list(lazy)

    def __getitem__(self, name: str) -> tuple[type, type]:
        if name not in self._loaded:
            if name not in self._lazy:
                raise KeyError(name)
            module, agent, config = self._lazy[name]
            mod = importlib.import_module(module)
            self._loaded[name] = (getattr(mod, agent), getattr(mod, config))
        return self._loaded[name]

    def __setitem__(self, name: str, value: tuple[type, type]) -> None:
        agent, config = value
        self._lazy.pop(name, None)
        self._loaded[name] = (agent, config)
        if name not in self._order:
            self._order.append(name)

    def __delitem__(self, name: str) -> None:
        if name not in self._order:
            raise KeyError(name)
        self._lazy.pop(name, None)
        self._loaded.pop(name, None)
        self._order.remove(name)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._order))

    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, name: object) -> bool:
        return name in self._order

    def summary(self, name: str) -> str:
        """The first line of the algorithm module's docstring (read from its source when the module is
        not imported yet: listing the algorithms imports none of them)."""
        if name in self._loaded:
            module = importlib.import_module(self._loaded[name][0].__module__)
            doc = module.__doc__ or ""
        else:
            spec = importlib.util.find_spec(self._lazy[name][0])
            with open(spec.origin, encoding="utf-8") as f:
                doc = ast.get_docstring(ast.parse(f.read())) or ""
        return (doc.strip().splitlines() or [""])[0]


ALGORITHMS = Registry(BUILTIN)
"""CLI name -> (Agent class, Config class); a new algorithm is one line here or in the user's code."""
