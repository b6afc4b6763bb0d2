"""Agents from configs: a run's agent (with a stored base or guide policy for residual RL and JSRL),
and a trained run's agent loaded back from its run directory."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import torch

from visuomotor.algos import ALGORITHMS
from visuomotor.algos.base import Agent, EnvSpec, Policy
from visuomotor.envs import make_env
from visuomotor.errors import VisuomotorError
from visuomotor.train.checkpoint import load_agent_state, load_checkpoint
from visuomotor.train.config import TrainConfig, load_config, resolve


def build_agent(cfg: TrainConfig, spec: EnvSpec, device: torch.device, algo_cfg=None, teacher: bool = True) -> Agent:
    """The run's agent for ``spec`` (``algo_cfg``: the algorithm's config as this run uses it; default the
    stored one); with --base-policy a residual learner on the stored policy, with --guide-policy JSRL;
    a student with its --teacher's policy (unless ``teacher`` is False: a student loaded to act)."""
    agent_cls, _ = ALGORITHMS[cfg.algo]
    algo_cfg = cfg.algo_config() if algo_cfg is None else algo_cfg
    if agent_cls.learns_from_teacher:
        agent = agent_cls.from_spec(spec, algo_cfg, device)
        if teacher:
            agent.set_teacher(*load_teacher(cfg.teacher, spec, algo_cfg.teacher_checkpoint, device))
        return agent
    if cfg.base_policy is None and cfg.guide_policy is None:
        return agent_cls.from_spec(spec, algo_cfg, device)
    from visuomotor.algos.prior import JSRLAgent, ResidualAgent

    if len(spec.observation_space.shape) != 1:
        raise VisuomotorError("--base-policy/--guide-policy need state observations (not --pixels)")
    if cfg.base_policy is not None:
        base = load_policy(cfg.base_policy, spec, cfg.env, "--base-policy", device)
        return ResidualAgent(base, spec.observation_space, spec.action_space, agent_cls, algo_cfg, device,
                             scale=cfg.residual_scale)
    guide = load_policy(cfg.guide_policy, spec, cfg.env, "--guide-policy", device)
    horizon = cfg.jsrl_horizon or episode_horizon(cfg)
    if not horizon:
        raise VisuomotorError(f"cannot tell the episode length of {cfg.env}; pass --jsrl-horizon N")
    learner = agent_cls.from_spec(spec, algo_cfg, device)
    return JSRLAgent(guide, learner, horizon, cfg.jsrl_stages, cfg.jsrl_tolerance)


def episode_horizon(cfg: TrainConfig) -> int | None:
    """Policy steps in a full episode of the run's env (its time limit / action repeat), None if unknown."""
    env = make_env(cfg.env, seed=cfg.seed)
    limit = getattr(env.unwrapped, "max_episode_steps", None) or getattr(env.spec, "max_episode_steps", None)
    env.close()
    return math.ceil(int(limit) / max(1, cfg.action_repeat or 1)) if limit else None


def load_policy(run_dir: Path, spec: EnvSpec, env_id: str, what: str, device) -> Policy:
    """A trained run's policy module for acting only (checked against this run's env)."""
    agent, cfg, _ = load_agent(run_dir, "latest", device=str(device))
    if cfg.env != env_id:  # e.g. a guide from the dense-reward version of a sparse task: shapes must match
        print(f"[visuomotor] note: {what} {run_dir} was trained on {cfg.env}; this run's env is {env_id}",
              file=sys.stderr)
    if tuple(agent.observation_space.shape) != tuple(spec.observation_space.shape) or \
            tuple(agent.action_space.shape) != tuple(spec.action_space.shape):
        raise VisuomotorError(f"{what} {run_dir} acts on observations {tuple(agent.observation_space.shape)} and "
                              f"actions {tuple(agent.action_space.shape)}; this run's env has "
                              f"{tuple(spec.observation_space.shape)} and {tuple(spec.action_space.shape)}")
    return agent.policy()


def load_teacher(run_dir: Path, spec: EnvSpec, checkpoint: str, device) -> tuple[Policy, dict]:
    """A --teacher run's policy (checked against the state this run's env shows it, ``spec.state_space``,
    and its actions) and facts about it for config.yaml."""
    agent, tcfg, step = load_agent(run_dir, checkpoint, device=str(device))
    state, action = tuple(spec.state_space.shape), tuple(spec.action_space.shape)
    if tuple(agent.observation_space.shape) != state or tuple(agent.action_space.shape) != action:
        raise VisuomotorError(f"--teacher {run_dir} acts on states {tuple(agent.observation_space.shape)} with "
                              f"actions {tuple(agent.action_space.shape)}; this run's env shows states {state} and "
                              f"takes actions {action}")
    policy = agent.policy()
    policy.requires_grad_(False)
    return policy, {"run": str(run_dir), "algo": tcfg.algo, "checkpoint": checkpoint, "step": step}


def load_agent(run_dir: str | Path, checkpoint: str = "latest", device: str = "cpu"):
    """(agent, config, checkpoint step) from ``run_dir/checkpoints/<checkpoint>.pt`` (latest or best)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise VisuomotorError(f"run dir {run_dir} does not exist")
    if checkpoint not in ("latest", "best"):
        raise VisuomotorError(f"checkpoint must be 'latest' or 'best', got {checkpoint!r}")
    cfg_path = run_dir / "config.yaml"
    if not cfg_path.is_file():
        raise VisuomotorError(f"{run_dir} is not a run directory (no config.yaml)")
    cfg, resolved = load_config(cfg_path)
    if cfg.algo not in ALGORITHMS:
        raise VisuomotorError(f"run {run_dir} used algo {cfg.algo!r}, unknown to this version")
    cfg = resolve(cfg)  # (a run stores its resolved config; one written before a field existed has it None)
    state = load_checkpoint(run_dir / "checkpoints" / f"{checkpoint}.pt", map_location=device)
    env = make_env(cfg.env, seed=cfg.seed, **cfg.env_kwargs())
    spec = EnvSpec(env.observation_space, env.action_space, critic_obs_dim=resolved.get("critic_obs_dim") or None)
    env.close()
    agent = build_agent(cfg, spec, torch.device(device), teacher=False)
    load_agent_state(agent, state, run_dir / "checkpoints" / f"{checkpoint}.pt", f"a {cfg.algo} agent for {cfg.env}")
    return agent, cfg, int(state["step"])
