"""MuJoCo Playground's envs as gymnasium envs: N copies as one jitted JAX batch (``PlaygroundVecEnv``)
and one env (``PlaygroundEnv``); the backend, its ids and checks are ``envs/playground.py``, the ids ``envs/playground_ids.py``."""

from __future__ import annotations

import os

import gymnasium as gym
import numpy as np
import torch

from visuomotor.envs.playground_ids import PREFIX, validate_playground_id


def _impl() -> str:
    return os.environ.get("VISUOMOTOR_PLAYGROUND_IMPL", "jax")


def _load(name: str):
    from mujoco_playground import registry

    cfg = registry.get_default_config(name)
    env = registry.load(name, config_overrides={"impl": _impl()})
    return env, int(cfg.episode_length)


def _split_obs(obs):
    """(policy observation, critic observation or None) from a Playground observation."""
    if isinstance(obs, dict):
        return obs["state"], obs.get("privileged_state")
    return obs, None


def _to_torch(x, device: torch.device | None = None) -> torch.Tensor:
    t = torch.from_dlpack(x)
    return t if device is None else t.to(device)


class PlaygroundVecEnv(gym.vector.VectorEnv):
    """N copies of a Playground env as one jitted batch (see the module doc). Returns torch tensors."""

    def __init__(self, env_id: str, num_envs: int, seed: int = 0, device: str | torch.device | None = None):
        import jax
        import jax.numpy as jnp

        validate_playground_id(env_id)
        self.env, self.episode_length = _load(env_id[len(PREFIX):])
        env, N, T = self.env, num_envs, self.episode_length
        self.num_envs = N
        self.device = torch.device(device) if device is not None else None
        self.metadata = {"render_fps": int(round(1.0 / env.dt)), "autoreset_mode": gym.vector.AutoresetMode.SAME_STEP}
        vreset, vstep = jax.vmap(env.reset), jax.vmap(env.step)

        def reset(key):
            keys = jax.random.split(key, N + 1)
            return vreset(keys[1:]), jnp.zeros(N, jnp.int32), keys[0]

        def step(state, t, key, action):
            nxt = vstep(state, jnp.clip(action, -1.0, 1.0))
            t = t + 1
            terminated = nxt.done > 0
            truncated = (t >= T) & ~terminated
            done = terminated | truncated
            keys = jax.random.split(key, N + 1)
            fresh = vreset(keys[1:])  # every copy's next first state; kept only where an episode ended
            pick = lambda a, b: jnp.where(done.reshape((N,) + (1,) * (a.ndim - 1)), a, b)  # noqa: E731
            new = jax.tree_util.tree_map(pick, fresh, nxt)
            return new, jnp.where(done, 0, t), keys[0], nxt.obs, nxt.reward, terminated, truncated

        self._reset, self._step = jax.jit(reset), jax.jit(step)
        self._key = jax.random.PRNGKey(seed)
        self.state = self.t = None
        obs_size = env.observation_size
        policy_size = obs_size["state"] if isinstance(obs_size, dict) else obs_size
        dim = int(np.prod(policy_size))
        self.single_observation_space = gym.spaces.Box(-np.inf, np.inf, (dim,), np.float32)
        self.single_action_space = gym.spaces.Box(-1.0, 1.0, (env.action_size,), np.float32)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, N)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, N)

    def _obs(self, obs) -> tuple[torch.Tensor, dict]:
        policy, critic = _split_obs(obs)
        info = {} if critic is None else {"critic_obs": _to_torch(critic, self.device).reshape(self.num_envs, -1)}
        return _to_torch(policy, self.device).reshape(self.num_envs, -1), info

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        import jax

        if seed is not None:
            self._key = jax.random.PRNGKey(seed)
        self.state, self.t, self._key = self._reset(self._key)
        return self._obs(self.state.obs)

    def step(self, actions):
        import jax.numpy as jnp

        a = actions if isinstance(actions, torch.Tensor) else torch.as_tensor(np.asarray(actions))
        a = jnp.from_dlpack(a.detach().float().contiguous())
        self.state, self.t, self._key, last_obs, reward, terminated, truncated = self._step(
            self.state, self.t, self._key, a)
        obs, info = self._obs(self.state.obs)
        term, trunc = _to_torch(terminated, self.device), _to_torch(truncated, self.device)
        done = term | trunc
        final, final_info = self._obs(last_obs)
        info.update({"final_obs": final, "_final_obs": done, "final_info": final_info, "_final_info": done})
        return obs, _to_torch(reward, self.device), term, trunc, info


class PlaygroundEnv(gym.Env):
    """One Playground env behind the gymnasium API (evaluation and videos): numpy in and out."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 50}

    def __init__(self, env_id: str, seed: int = 0, render_mode: str | None = None):
        import jax

        validate_playground_id(env_id)
        self.env, self.episode_length = _load(env_id[len(PREFIX):])
        self._reset, self._step = jax.jit(self.env.reset), jax.jit(self.env.step)
        self._key = jax.random.PRNGKey(seed)
        self.render_mode = render_mode
        self.metadata = {**self.metadata, "render_fps": int(round(1.0 / self.env.dt))}
        obs_size = self.env.observation_size
        dim = int(np.prod(obs_size["state"] if isinstance(obs_size, dict) else obs_size))
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (dim,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (self.env.action_size,), np.float32)
        self.state, self.t, self._renderer, self._mjd = None, 0, None, None

    def _obs(self) -> tuple[np.ndarray, dict]:
        policy, critic = _split_obs(self.state.obs)
        info = {} if critic is None else {"critic_obs": np.asarray(critic, np.float32).ravel()}
        return np.asarray(policy, np.float32).ravel(), info

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        import jax

        super().reset(seed=seed)
        if seed is not None:
            self._key = jax.random.PRNGKey(seed)
        self._key, sub = jax.random.split(self._key)
        self.state, self.t = self._reset(sub), 0
        return self._obs()

    def step(self, action):
        import jax.numpy as jnp

        self.state = self._step(self.state, jnp.asarray(np.clip(action, -1.0, 1.0), jnp.float32))
        self.t += 1
        obs, info = self._obs()
        terminated = bool(self.state.done > 0)
        truncated = not terminated and self.t >= self.episode_length
        return obs, float(self.state.reward), terminated, truncated, info

    def render(self):
        if self.render_mode != "rgb_array" or self.state is None:
            return None
        import mujoco

        m = self.env.mj_model
        if self._renderer is None:
            self._renderer, self._mjd = mujoco.Renderer(m, 240, 320), mujoco.MjData(m)
        self._mjd.qpos[:] = np.asarray(self.state.data.qpos)
        self._mjd.qvel[:] = np.asarray(self.state.data.qvel)
        mujoco.mj_forward(m, self._mjd)
        self._renderer.update_scene(self._mjd, camera=0 if m.ncam else -1)
        return self._renderer.render()

    def close(self):
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None


