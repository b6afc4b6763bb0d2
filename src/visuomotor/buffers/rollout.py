"""On-policy rollout storage and generalized advantage estimation (GAE).

A rollout holds ``num_steps`` steps of ``num_envs`` environments as [T, N, ...] tensors on the
agent's device. Time limits: an episode cut by truncation is bootstrapped, not treated as a
failure. The loop adds gamma * V(final observation) to the reward of a truncated step and then
marks the step as an episode end, so GAE never looks past it into the next episode (whose first
observation the vector env has already put in its place); a terminated step gets no bootstrap.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch


def compute_gae(rewards: torch.Tensor, values: torch.Tensor, dones: torch.Tensor, last_values: torch.Tensor,
                gamma: float, lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Advantages and returns (advantages + values), all [T, N].

    ``dones[t]`` = 1 where the episode ended with step t (terminated or truncated; a truncated
    step's reward already holds its bootstrap); ``last_values`` [N] = V of the observation after
    the last step. delta_t = r_t + gamma (1 - d_t) V_{t+1} - V_t, A_t = delta_t + gamma lam (1 - d_t) A_{t+1}.
    """
    T = rewards.shape[0]
    advantages = torch.empty_like(rewards)
    not_done = 1.0 - dones.to(rewards.dtype)
    next_value, next_adv = last_values, torch.zeros_like(last_values)
    for t in range(T - 1, -1, -1):  # over time only; every env at once
        delta = rewards[t] + gamma * not_done[t] * next_value - values[t]
        next_adv = delta + gamma * lam * not_done[t] * next_adv
        advantages[t] = next_adv
        next_value = values[t]
    return advantages, advantages + values


class RolloutStorage:
    """[T, N] transitions of one rollout, filled step by step, then read as shuffled minibatches."""

    def __init__(self, num_steps: int, num_envs: int, obs_dim: int, act_dim: int, device: torch.device,
                 critic_obs_dim: int | None = None):
        T, N = num_steps, num_envs
        self.num_steps, self.num_envs, self.device = T, N, torch.device(device)
        z = lambda *shape: torch.zeros(*shape, device=self.device)  # noqa: E731
        self.obs = z(T, N, obs_dim)  # as the policy saw them (normalized)
        self.critic_obs = z(T, N, critic_obs_dim) if critic_obs_dim else None
        self.actions = z(T, N, act_dim)  # the Gaussian sample, before clipping to the action bounds
        self.log_probs = z(T, N)
        self.values = z(T, N)
        self.rewards = z(T, N)
        self.dones = z(T, N)
        self.mean = z(T, N, act_dim)
        self.std = z(T, N, act_dim)
        self.advantages = z(T, N)
        self.returns = z(T, N)
        self.step = 0

    def add(self, obs, actions, log_probs, values, rewards, dones, mean, std, critic_obs=None) -> None:
        if self.step >= self.num_steps:
            raise RuntimeError("rollout storage is full; call clear() after the update")
        t = self.step
        self.obs[t] = obs
        if self.critic_obs is not None:
            self.critic_obs[t] = critic_obs
        self.actions[t], self.log_probs[t], self.values[t] = actions, log_probs, values
        self.rewards[t], self.dones[t], self.mean[t], self.std[t] = rewards, dones, mean, std
        self.step += 1

    def clear(self) -> None:
        self.step = 0

    def compute_returns(self, last_values: torch.Tensor, gamma: float, lam: float) -> None:
        self.advantages, self.returns = compute_gae(self.rewards, self.values, self.dones, last_values, gamma, lam)

    def minibatches(self, num_minibatches: int, epochs: int,
                    generator: torch.Generator | None = None) -> Iterator[dict[str, torch.Tensor]]:
        """``epochs`` passes over the rollout, each split into ``num_minibatches`` random minibatches."""
        n = self.num_steps * self.num_envs
        size = n // num_minibatches
        flat = {"obs": self.obs, "actions": self.actions, "log_probs": self.log_probs, "values": self.values,
                "advantages": self.advantages, "returns": self.returns, "mean": self.mean, "std": self.std}
        if self.critic_obs is not None:
            flat["critic_obs"] = self.critic_obs
        flat = {k: v.reshape(n, *v.shape[2:]) for k, v in flat.items()}
        for _ in range(epochs):
            perm = torch.randperm(n, generator=generator, device="cpu").to(self.device)
            for i in range(num_minibatches):
                idx = perm[i * size:(i + 1) * size]
                yield {k: v[idx] for k, v in flat.items()}
