"""The off-policy step driver: N envs step, every transition goes to the agent's replay, and the agent
updates from it at the config's cadence (``learning_starts``, ``update_every``, ``updates_per_step``).

One env (the default) steps a plain env and checkpoints at episode ends: each training episode is
seeded by its index and the replay is rebuilt from the stored episodes, so a killed-and-resumed run
continues exactly like one that was never stopped. N envs (``--num-envs``) step as one vector env with
same-step autoreset; each env's transition goes to the replay with its real last observation where an
episode ended (a time limit bootstraps from it, a termination does not; with n-step returns each env's
transitions form a stream of their own, ``buffers.replay.StreamReplay``). Where all N episodes end at
one step (fixed-length episodes: every dm_control task, the gymnasium tasks without terminations) the
envs restart together from the next episode index's seed, and checkpoints wait for such a step, so
these runs resume exactly too; otherwise a due checkpoint waits at most ``MAX_WAIT`` steps per env and
keeps every env's open episode (a resumed run starts fresh episodes).

Every finished episode is written to ``episodes/`` (``buffers.episodes``); ``--prior-runs`` fill the
replay with earlier runs' episodes first; ``--prior-data`` gives the agent a second replay it mixes
into every batch.

An agent that ``sees_state`` (a distillation student) gets the env's privileged state beside each
observation: the env is built with ``state_info``, ``see_state(info["state"])`` comes before each
action, and the episode files keep the states (its replay is rebuilt from them on resume).
"""

from __future__ import annotations

import sys

import numpy as np
import torch

from visuomotor.algos import ALGORITHMS
from visuomotor.algos.base import EnvSpec, Transitions
from visuomotor.buffers import EpisodeRecorder, list_episodes, load_episode, write_episode
from visuomotor.envs import make_env
from visuomotor.envs.vector import make_vec_env
from visuomotor.errors import env_call
from visuomotor.evaluate.rollout import episode_seed
from visuomotor.train.build import build_agent
from visuomotor.train.driver import Driver, EpisodeStats, check_finite, merge_rows
from visuomotor.train.rundir import set_aside


def _numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


class OffPolicyDriver(Driver):
    """``agent`` given: the online phase of an offline run (--online-steps), continuing its step counter
    from ``offset`` (the offline steps) with the dataset already in the agent's replay."""

    MAX_WAIT = 1000  # steps of each env a due checkpoint waits for all N envs' episodes to end together

    def __init__(self, runner, agent=None, offset: int = 0):
        super().__init__(runner)
        cfg = runner.cfg
        self.num_envs = int(cfg.num_envs or 1)
        self.sees_state = ALGORITHMS[cfg.algo][0].sees_state if agent is None else agent.sees_state
        state_space = None
        if self.num_envs == 1:
            self.env = make_env(cfg.env, seed=cfg.seed, randomization=cfg.randomization(),
                                state_info=self.sees_state, **runner.env_kw)
            obs_space, act_space = self.env.observation_space, self.env.action_space
            state_space = self.env.get_wrapper_attr("state_space") if self.sees_state else None
        else:
            self.env = make_vec_env(cfg.env, self.num_envs, seed=cfg.seed, vectorization=cfg.vectorization,
                                    threads=runner.threads, device=runner.device,
                                    randomization=cfg.randomization(), **runner.env_kw)
            obs_space, act_space = self.env.single_observation_space, self.env.single_action_space
        self.spec = EnvSpec(obs_space, act_space, self.num_envs, state_space=state_space)
        self.frame_channels = 3 if cfg.pixels else None
        self.offset = offset
        self.end_step = offset + cfg.online_steps if agent is not None else cfg.steps
        if agent is None:
            acfg = cfg.algo_config()
            updates = max(0, self.end_step - acfg.learning_starts) // acfg.update_every * acfg.updates_per_step
            self.agent = build_agent(cfg, self.spec, runner.device, acfg.for_run(updates, runner.device))
            self.agent.build_storage(self.spec, acfg.buffer_size, cfg.seed)
        else:
            self.agent = agent
        self.acfg = self.agent.cfg
        self.learning_starts = offset + self.acfg.learning_starts
        self.episode_index = 0
        self.recs: list[EpisodeRecorder] = []  # each env's open episode (from start)
        self.prior = None
        self._open_prior_data()

    @property
    def desc(self) -> str:
        return f"{self.cfg.env} {self.cfg.algo}" + (f" x{self.num_envs}" if self.num_envs > 1 else "")

    def learns_before(self, end: int) -> bool:
        return self.learning_starts < end

    def _open_prior_data(self) -> None:
        """Check every --prior-data / --prior-runs source against this run's env (before any work) and
        give the agent the prior data's replay; the prior runs' episodes are loaded in ``prepare``."""
        from visuomotor.buffers.datasets import env_kwargs_of_data, load_replay
        from visuomotor.train.rundir import open_run

        cfg, spec = self.cfg, self.spec
        self.prior_runs = [open_run(p) for p in cfg.prior_runs]
        for src in self.prior_runs:
            src.check(cfg.env, spec.observation_space, spec.action_space, env_kwargs_of_data(self.runner.env_kw))
        if not cfg.prior_data:
            return
        self.prior, episodes, n = load_replay(cfg.prior_data, self.agent, cfg.env, self.runner.env_kw,
                                              cfg.seed + 1_000_003, open_run=open_run)
        self.agent.add_prior_data(self.prior, self.acfg.prior_fraction)
        print(f"[visuomotor] prior data: {episodes} episodes, {n} transitions from "
              f"{', '.join(map(str, cfg.prior_data))}; {self.acfg.prior_fraction:.0%} of each batch",
              file=sys.stderr)

    def describe(self) -> dict:
        return {"num_envs": self.num_envs} if self.num_envs > 1 else {}

    # ---- state -------------------------------------------------------------------------------------
    def prepare(self) -> None:
        n = 0
        for src in self.prior_runs:  # first, on a fresh start and on resume alike
            for ep in src.episodes():
                self.agent.add_episode(ep)
                n += len(ep["reward"])
        if self.prior_runs:
            print(f"[visuomotor] replay starts with {n} transitions from "
                  f"{', '.join(str(s.path) for s in self.prior_runs)}", file=sys.stderr)

    def state(self) -> dict:
        extra = {"episode_index": self.episode_index, "replay_rng": self.agent.storage.rng_state()}
        if self.prior is not None:
            extra["prior_rng"] = self.prior.rng_state()
        partial = [{k: torch.as_tensor(v) for k, v in rec.arrays().items()} for rec in self.recs if len(rec)]
        if self.num_envs == 1 and partial:
            extra["partial_episode"] = partial[0]
        elif partial:
            extra["partial_episodes"] = partial
        return extra

    def restore(self, state: dict) -> None:
        runner, storage = self.runner, self.agent.storage
        episodes = list_episodes(runner.episode_dir)
        storage.set_rng_state(state["replay_rng"])
        if self.prior is not None and "prior_rng" in state:
            self.prior.set_rng_state(state["prior_rng"])
        self.episode_index = int(state.get("episode_index", 0))  # (absent after an offline phase)
        kept, later = [], []
        for i, end, p in episodes:
            (kept if end <= runner.step and i < self.episode_index else later).append(p)
        set_aside(runner.episode_dir, later, f"they finished after the checkpoint at step {runner.step}")
        for p in kept:
            self.agent.add_episode(load_episode(p))
        # the episodes the run stopped in (Ctrl-C, or the end of --steps), as episodes of their own: on
        # disk too, so a later resume rebuilds them (until the next checkpoint counts them, a restore sets
        # them aside and takes them from this checkpoint again)
        partials = [state["partial_episode"]] if "partial_episode" in state else state.get("partial_episodes", [])
        for part in partials:
            ep = {k: v.numpy() for k, v in part.items()}
            self.agent.add_episode(ep)
            write_episode(runner.episode_dir, self.episode_index, runner.step, ep)
            self.episode_index += 1

    # ---- stepping ----------------------------------------------------------------------------------
    def start(self, resumed: bool) -> None:
        self.stats = EpisodeStats(self.num_envs)
        self._waited_since = None
        self._start_all()

    def _start_all(self) -> None:
        """Every env starts a fresh episode, seeded by the episode index (as a resumed run starts)."""
        obs, info = env_call(self.cfg.env, self.runner.step, self.env.reset,
                             seed=episode_seed(self.cfg.seed, 0, self.episode_index))
        self.agent.begin_episode(explore=True)
        self.recs = [EpisodeRecorder(frame_channels=self.frame_channels) for _ in range(self.num_envs)]
        if self.num_envs == 1:
            self.stats.started(info)
            self.recs[0].start(obs, self._see_state(info))
        else:
            self.stats.started(info, np.ones(self.num_envs, bool))
            for i, rec in enumerate(self.recs):
                rec.start(_numpy(obs[i]))
        self.obs = obs

    def advance(self) -> list[dict[str, torch.Tensor]]:
        runner, agent, acfg = self.runner, self.agent, self.acfg
        agent.set_step(runner.step)
        before = runner.step
        if before < self.learning_starts:
            action = agent.warmup_action(self.obs)
        else:
            action = agent.act(self.obs, explore=True)
        if self.num_envs == 1:
            self._step_one(action)
        else:
            self._step_many(action)
        step = runner.step
        metrics = []
        if step > self.learning_starts:
            rounds = step // acfg.update_every - max(before, self.learning_starts) // acfg.update_every
            for _ in range(rounds * acfg.updates_per_step):
                metrics.append(agent.update())
        return metrics

    def _see_state(self, info: dict):
        """Show an agent that ``sees_state`` the state of the observation it acts on next; that state (to
        record), or None."""
        if not self.sees_state:
            return None
        self.agent.see_state(info["state"])
        return info["state"]

    def _step_one(self, action) -> None:
        runner, agent, rec = self.runner, self.agent, self.recs[0]
        next_obs, reward, terminated, truncated, info = env_call(self.cfg.env, runner.step + 1, self.env.step, action)
        check_finite(self.cfg.env, runner.step + 1, reward, next_obs)
        agent.observe(Transitions(self.obs, action, reward, next_obs, next_obs, terminated, truncated))
        ended = terminated or truncated
        # an episode's last state is recorded but never acted on: shown only where the episode goes on
        state = (info["state"] if ended else self._see_state(info)) if self.sees_state else None
        rec.step(action, reward, next_obs, terminated, truncated, state)
        self.stats.step(reward, ended)
        self.obs = next_obs
        runner.step += 1
        if ended:
            write_episode(runner.episode_dir, self.episode_index, runner.step, rec.arrays())
            self.episode_index += 1
            self.obs, info = env_call(self.cfg.env, runner.step, self.env.reset,
                                      seed=episode_seed(self.cfg.seed, 0, self.episode_index))
            agent.begin_episode(explore=True)
            self.stats.started(info)
            rec.start(self.obs, self._see_state(info))

    def _step_many(self, action) -> None:
        runner, n = self.runner, self.num_envs
        next_obs, reward, terminated, truncated, info = env_call(self.cfg.env, runner.step + n, self.env.step, action)
        final = merge_rows(next_obs, info["final_obs"], info["_final_obs"]) if "final_obs" in info else next_obs
        a, r, f, te, tr = (_numpy(x) for x in (action, reward, final, terminated, truncated))  # once per step
        ended = te | tr
        check_finite(self.cfg.env, runner.step + n, r, f)
        self.agent.observe(Transitions(self.obs, action, reward, next_obs, final, terminated, truncated))
        self.stats.step(r, ended)
        runner.step += n
        for i in range(n):
            self.recs[i].step(a[i], r[i], f[i], te[i], tr[i])
        for i in np.flatnonzero(ended):
            write_episode(runner.episode_dir, self.episode_index, runner.step, self.recs[i].arrays())
            self.episode_index += 1
            self.recs[i].start(_numpy(next_obs[i]))  # the next episode already began (same-step autoreset)
        self.obs = next_obs
        if ended.all():  # all together (fixed-length episodes): restarted as a resume restarts them
            self._start_all()
        elif ended.any():
            self.stats.started(info, ended)

    def can_checkpoint(self) -> bool:
        """At a step where every env's episode ended: the next episodes start from their own seeds on
        resume, as they do here. N envs whose episodes do not end together wait at most ``MAX_WAIT`` steps
        of each env, then checkpoint with their open episodes (a resume starts fresh ones)."""
        if all(len(rec) == 0 for rec in self.recs):
            self._waited_since = None
            return True
        if self.num_envs == 1:
            return False
        if self._waited_since is None:
            self._waited_since = self.runner.step
        if self.runner.step - self._waited_since < self.MAX_WAIT * self.num_envs:
            return False
        self._waited_since = None
        return True

    def log_row(self) -> dict:
        return {"charts/episodes": self.episode_index, "charts/env_frames": self.runner.step * self.cfg.action_repeat,
                **self.stats.row()}

    def close(self) -> None:
        self.env.close()
