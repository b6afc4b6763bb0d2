"""The agent contract: everything the runner, evaluation and the tools ask of an algorithm, declared here.

The runner owns time (steps, evaluation and checkpoint cadence, logging, signals, resume); an agent
owns its networks, optimizers, storage and algorithm logic, and answers:

    kind, observes          class attributes: how it learns (off-policy, on-policy, offline) and what it
                            sees (states, pixels, either); the runner picks the step driver by kind
    from_spec(spec, cfg, device)   build from the env's spec (spaces, number of envs, privileged obs)
    build_storage(spec, seed)      its own storage (a replay, a frame replay, a rollout), kept as .storage
    act(obs, explore)       action(s) in [-1, 1] for observation(s) of one or N envs
    observe(transitions)    one env step of N envs into its storage (with its own bootstrapping)
    update(batch=None)      one update from its own storage; returns detached scalar tensors (no sync)
    policy()                a self-contained inference module: observation in, action out
                            (evaluation, residual bases, JSRL guides and export use it)
    state_dict / load_state_dict   everything exact resume needs; policy_state_dict what acting needs

and a few optional hooks with defaults (warmup_action, begin_episode, set_step, see_state,
after_evaluation, fit_dataset, add_prior_data, describe). An agent that declares ``sees_state`` (a
student taught by a teacher that acts from the simulator's state) is shown the env's privileged state
beside each observation: ``see_state(state)`` before each act. Nothing here is probed with getattr/hasattr: a new algorithm
subclasses ``Agent`` (or an agent of its kind), sets its class attributes and registers itself in
``algos.ALGORITHMS``; a new kind of learning adds a ``Kind`` and a small driver (distillation did not
need one: a student is an off-policy agent that sees the state and learns from a teacher).
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import gymnasium as gym
import numpy as np
import torch
from torch import nn


class Kind(str, enum.Enum):
    """How an agent learns; the runner's step driver for it."""

    OFF_POLICY = "off-policy"  # env steps into a replay, updates from it
    ON_POLICY = "on-policy"  # rollouts of N envs, an update on each
    OFFLINE = "offline"  # updates from a fixed dataset (optionally followed by online fine-tuning)


class Observes(str, enum.Enum):
    """What an agent learns from."""

    STATES = "states"
    PIXELS = "pixels"  # always: a run with this algorithm renders frames
    EITHER = "either"  # states, or pixels with --pixels


@dataclass(frozen=True)
class EnvSpec:
    """What an agent is built from: one env's spaces, how many envs it acts in, the size of the
    privileged observation an env offers an asymmetric critic (``info["critic_obs"]``), if any, and the
    space of the state an env shows an agent that ``sees_state`` (``info["state"]``)."""

    observation_space: gym.spaces.Box
    action_space: gym.spaces.Box
    num_envs: int = 1
    critic_obs_dim: int | None = None
    state_space: gym.spaces.Box | None = None


@dataclass
class Transitions:
    """One env step of N envs (N = 1 for a single env), as the driver hands it to ``Agent.observe``.

    ``next_obs`` is what the envs show now (where an episode ended: the next episode's first
    observation, same-step autoreset); ``final_obs`` holds the ended episodes' real last observations
    (equal to ``next_obs`` elsewhere), the one to bootstrap a time limit from. ``terminated`` marks true
    terminal states (no bootstrap), ``truncated`` time limits. Arrays or tensors, [N, ...]."""

    obs: object
    action: object
    reward: object
    next_obs: object
    final_obs: object
    terminated: object
    truncated: object
    critic_obs: object = None  # privileged observations (asymmetric critics): after the step
    final_critic_obs: object = None  # ... and the ended episodes' last ones

    @property
    def batched(self) -> bool:
        """Whether this is a step of a vector of envs ([N] rewards) rather than of a single env."""
        r = self.reward
        return (isinstance(r, torch.Tensor) and r.dim() > 0) or (isinstance(r, np.ndarray) and r.ndim > 0)


class Policy(nn.Module):
    """A self-contained inference module: a batch of observations [B, ...] (float states, or uint8
    frame stacks) in, actions [B, A] in [-1, 1] out, deterministic. It holds (references to) what
    acting needs, normalizers and encoders included. ``reset`` is called as each episode starts (a
    policy that counts steps, like JSRL's, restarts its count)."""

    def reset(self) -> None:
        """A new episode starts."""

    def contents(self) -> dict:
        """What the module computes besides its networks, for an exported policy's contract
        (``policy.json``): its normalizer, pixel scaling, encoder, squashing; none here."""
        return {}

    def float32(self) -> Policy:
        """The same policy computing in float32 throughout (what an export holds); itself here. A policy
        that acts with bf16 autocast returns a copy without it."""
        return self


@dataclass
class AlgoConfig:
    """The base of every algorithm's config (a typed dataclass, one documented field per
    hyperparameter, the paper's defaults). Fields left None are filled by ``resolved``: first from
    ``TASK_PRESETS``, per-task settings as data (rows of an env-id pattern, the values, and the
    config fields they apply under; later matching rows win), then by ``fill_defaults``, the
    algorithm's own presets."""

    TASK_PRESETS: ClassVar[tuple[tuple[str, dict, dict], ...]] = ()

    def resolved(self, env_id: str = ""):
        """This config with every None filled: the task's presets for ``env_id`` (none without one), then
        the algorithm's."""
        import dataclasses
        import fnmatch

        values: dict = {}
        for pattern, row, when in self.TASK_PRESETS:
            if env_id and fnmatch.fnmatchcase(env_id, pattern) and all(getattr(self, k) == v for k, v in when.items()):
                values.update(row)
        fill = {k: v for k, v in values.items() if getattr(self, k) is None}
        return (dataclasses.replace(self, **fill) if fill else self).fill_defaults()

    def fill_defaults(self):
        """The algorithm's own presets for the fields still None (none here)."""
        return self

    def for_run(self, updates: int, device: torch.device):
        """Settings decided per run rather than stored in config.yaml (e.g. SAC's compile for a long CPU
        run), for a run of about ``updates`` updates on ``device``; none here."""
        return self

    def for_envs(self, num_envs: int):
        """Settings that scale with the number of envs a run steps (e.g. FastTD3's replay per env), filled
        for ``num_envs`` where left None; none here."""
        return self

    def default_steps(self, action_repeat: int) -> int:
        """Steps a run trains for when --steps is not given."""
        return 100_000

    def default_action_repeat(self) -> int:
        """Simulator steps per policy step when --action-repeat is not given."""
        return 1

    def default_num_envs(self) -> int:
        """Envs a run steps when --num-envs is not given."""
        return 1

    def validate_names(self) -> None:
        """Raise ValueError for a name that resolving reads (a preset, a network family) and that names
        nothing: checked before ``resolved``; none here."""

    def validate(self) -> None:
        """Raise ValueError naming a bad field of this resolved config and what is allowed."""

    def check(self, env_id: str = "") -> None:
        """Validate a config as a user wrote it: the names resolving reads, then the config resolved for
        ``env_id`` (what a run of it would use)."""
        self.validate_names()
        r = self.resolved(env_id)
        r.for_envs(r.default_num_envs()).validate()

    def unresolved(self) -> list[str]:
        """The fields ``resolved`` would still fill (none: this config is resolved)."""
        import dataclasses

        filled = self.fill_defaults()
        return [f.name for f in dataclasses.fields(self) if getattr(self, f.name) != getattr(filled, f.name)]


@dataclass
class OffPolicyConfig(AlgoConfig):
    """Fields every replay-based algorithm shares; the off-policy driver reads these."""

    buffer_size: int = 1_000_000
    """Replay capacity in transitions."""
    batch_size: int = 256
    """Transitions per gradient update."""
    learning_starts: int = 5_000
    """Env steps of uniform random actions before the first update."""
    updates_per_step: int = 1
    """Gradient updates per update round (the update-to-data ratio is updates_per_step / update_every)."""
    update_every: int = 1
    """Env steps between update rounds."""
    prior_fraction: float = 0.5
    """With --prior-data: share of every batch drawn from the prior data (RLPD's symmetric sampling: 0.5)."""

    def validate(self) -> None:
        for name in ("buffer_size", "batch_size", "updates_per_step", "update_every"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if not 0.0 <= self.prior_fraction <= 1.0:
            raise ValueError(f"prior_fraction must be in [0, 1], got {self.prior_fraction}")
        if self.learning_starts < 0:
            raise ValueError(f"learning_starts must be >= 0, got {self.learning_starts}")


@dataclass
class TDConfig:
    """The fields of learning critics by temporal differences against target networks, shared by the
    algorithms that do (an algorithm whose paper differs redeclares the default)."""

    gamma: float = 0.99
    """Discount factor."""
    n_step: int = 1
    """Returns over n steps in the critic's target (1 = the one-step target; ResFiT's residual learner uses
    3): y = sum_{k<m} gamma^k r_k + gamma^m V(s_m), m <= n cut at the episode's end (see buffers.replay)."""
    tau: float = 0.005
    """Polyak step of the target networks per update."""

    def validate_td(self) -> None:
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {self.gamma}")
        if not 0.0 < self.tau <= 1.0:
            raise ValueError(f"tau must be in (0, 1], got {self.tau}")
        if self.n_step < 1:
            raise ValueError(f"n_step must be >= 1, got {self.n_step}")


class Agent(ABC):
    """What the runner sees of an algorithm (see the module docstring)."""

    kind: ClassVar[Kind] = Kind.OFF_POLICY
    observes: ClassVar[Observes] = Observes.STATES
    sees_state: ClassVar[bool] = False
    """Shown the env's privileged state (its state observation) beside the observation it learns from:
    the off-policy driver builds its env with ``state_info``, calls ``see_state`` with ``info["state"]``
    before each act or warmup action, and stores the states in the episode files (``state``)."""
    learns_from_teacher: ClassVar[bool] = False
    """Learns from a trained run's policy (--teacher); such an agent implements ``set_teacher``."""
    learns_on_policies: ClassVar[bool] = False
    """Can learn on top of a stored policy: a residual on a frozen base (--base-policy) or after a
    guide (--guide-policy); such an agent implements ``zero_policy_output``."""
    online_finetuning: ClassVar[bool] = False
    """An offline agent that continues online in the same run (--online-steps)."""

    def __init__(self, observation_space: gym.spaces.Box, action_space: gym.spaces.Box, cfg, device: torch.device):
        """``cfg``: the algorithm's config, resolved (``cfg.resolved(env_id)``; a run's comes from
        ``train.config.resolve``, the one place configs are resolved); it is validated here."""
        missing = cfg.unresolved()
        if missing:
            raise ValueError(f"{type(cfg).__name__} is not resolved ({', '.join(missing)} left to fill): build the "
                             f"agent from cfg.resolved(env_id)")
        cfg.validate()
        self.observation_space = observation_space
        self.action_space = action_space
        self.cfg = cfg
        self.device = torch.device(device)
        self.storage = None  # built by build_storage
        self.sampler = None  # what update() draws batches from: the storage, or it mixed with prior data

    @classmethod
    def from_spec(cls, spec: EnvSpec, cfg, device) -> Agent:
        """The agent for an env spec (an agent that uses more of the spec, e.g. PPO's asymmetric critic,
        overrides this)."""
        return cls(spec.observation_space, spec.action_space, cfg, device)

    # ---- acting -------------------------------------------------------------------------------
    @abstractmethod
    def act(self, obs, explore: bool) -> np.ndarray:
        """Action(s) in [-1, 1] for one observation or a batch [N, ...]."""

    @abstractmethod
    def policy(self) -> Policy:
        """The deterministic policy as a self-contained module (sharing this agent's weights)."""

    def warmup_action(self, obs) -> np.ndarray:
        """The action(s) during the first learning_starts env steps: uniform in [-1, 1] (torch's RNG),
        one per env when ``obs`` is a batch."""
        dim = int(np.prod(self.action_space.shape))
        batch = len(obs.shape) > len(self.observation_space.shape)
        return (torch.rand((len(obs), dim) if batch else dim) * 2.0 - 1.0).numpy()

    def begin_episode(self, explore: bool) -> None:
        """Called as each training episode starts; default: unused."""

    def set_step(self, step: int) -> None:
        """The runner's step counter, before each act/update (for schedules); default: unused."""

    def see_state(self, state: np.ndarray) -> None:
        """The privileged state of the observation the next act (or warmup action) is for (agents that
        declare ``sees_state``); default: unused."""

    def set_teacher(self, teacher: Policy, source: dict) -> None:
        """The teacher's policy (state in, action out) and facts about it for config.yaml (agents that
        declare ``learns_from_teacher``)."""
        raise NotImplementedError(f"{type(self).__name__} does not learn from a teacher")

    def after_evaluation(self, mean_return: float) -> dict[str, float]:
        """Called after each evaluation of ``policy()``; returns extra columns for eval.csv (JSRL's
        curriculum steps here); default: none."""
        return {}

    def zero_policy_output(self) -> None:
        """Make the deterministic action 0 for every input (a residual learner's start)."""
        raise NotImplementedError(f"{type(self).__name__} cannot learn on top of a stored policy")

    def describe(self) -> dict:
        """Facts about this agent for config.yaml's ``resolved`` section (precision, compile, ...)."""
        return {}

    # ---- storage and learning ----------------------------------------------------------------
    def make_replay(self, capacity: int, seed: int):
        """A replay in this agent's layout (its own storage, prior data, a dataset): flat transitions,
        with ``n_step()``-step returns discounted by ``gamma()``."""
        from visuomotor.buffers.replay import ReplayBuffer

        obs_dim = int(np.prod(self.observation_space.shape))
        act_dim = int(np.prod(self.action_space.shape))
        return ReplayBuffer(capacity, obs_dim, act_dim, self.device, seed=seed, n_step=self.n_step(),
                            gamma=self.gamma())

    def n_step(self) -> int:
        """The n of the replay's n-step returns: the config's for an algorithm that learns by temporal
        differences (``TDConfig``), else 1."""
        return self.cfg.n_step if isinstance(self.cfg, TDConfig) else 1

    def gamma(self) -> float:
        """The discount the replay's n-step returns use: the config's (``TDConfig``), else 0.99."""
        return self.cfg.gamma if isinstance(self.cfg, TDConfig) else 0.99

    def build_storage(self, spec: EnvSpec, capacity: int, seed: int) -> None:
        """Build this agent's storage for ``spec`` (default: a replay of ``capacity`` transitions; for N
        envs with n-step returns, one stream per env)."""
        if spec.num_envs > 1 and self.n_step() > 1:
            from visuomotor.buffers.replay import StreamReplay

            self.use_storage(StreamReplay(capacity, spec.num_envs, int(np.prod(self.observation_space.shape)),
                                          int(np.prod(self.action_space.shape)), self.device, seed=seed,
                                          n_step=self.n_step(), gamma=self.gamma()))
            return
        self.use_storage(self.make_replay(capacity, seed))

    def add_prior_data(self, prior, fraction: float) -> None:
        """Draw ``fraction`` of every batch from ``prior`` (a replay of this agent's layout; RLPD)."""
        from visuomotor.buffers.replay import MixedSampler

        self.sampler = MixedSampler(self.storage, prior, fraction)

    def fit_dataset(self, fresh: bool) -> None:
        """An offline agent's dataset is in its storage: fit what depends on it (statistics on a fresh
        run; structures that are not checkpointed, on every start); default: nothing."""

    def observe(self, t: Transitions) -> None:
        """Store one env step of N envs (default: into the replay, the real last observation as the
        next state where an episode ended)."""
        if t.batched:
            self.storage.add_batch(t.obs, t.action, t.reward, t.final_obs, t.terminated, t.truncated)
        else:  # a single env
            self.storage.add(t.obs, t.action, t.reward, t.final_obs, t.terminated, t.truncated)

    def add_episode(self, episode: dict) -> None:
        """Store a recorded episode (``buffers.episodes`` layout: a resumed run's, an earlier run's)."""
        self.storage.add_episode(episode)

    def use_storage(self, storage) -> None:
        """Learn from ``storage`` (e.g. a dataset's replay from ``make_replay``) as this agent's own."""
        self.storage = self.sampler = storage

    def sample(self):
        """A batch for the next update from the agent's sampler."""
        return self.sampler.sample(self.cfg.batch_size)

    @abstractmethod
    def update(self, batch=None) -> dict[str, torch.Tensor]:
        """One update from the agent's own storage (``batch`` given: on that batch instead); returns
        detached scalar tensors, always the same keys (no host sync in here)."""

    # ---- state --------------------------------------------------------------------------------
    @abstractmethod
    def state_dict(self) -> dict:
        """Everything needed to continue training: networks, optimizers, temperature, RNGs..."""

    @abstractmethod
    def load_state_dict(self, state: dict) -> None: ...

    def policy_state_dict(self) -> dict:
        """What acting needs (used for the small 'best' checkpoint); defaults to everything."""
        return self.state_dict()


class OnPolicyAgent(Agent):
    """An agent that learns from rollouts of ``rollout_steps`` steps of every env."""

    kind: ClassVar[Kind] = Kind.ON_POLICY

    @property
    @abstractmethod
    def rollout_steps(self) -> int:
        """Steps of every env per rollout (one update each)."""

    @abstractmethod
    def act_rollout(self, obs: torch.Tensor, critic_obs: torch.Tensor | None = None) -> torch.Tensor:
        """Begin one rollout step for observations [N, D] (and privileged ones for an asymmetric critic):
        the actions to send to the envs; ``observe`` completes the step (RSL-RL's act / process_env_step)."""
