"""SAC's speed path: the update of ``algos/sac.py`` computed faster on a CPU, never different math.

Four switches of ``SACConfig``, each tested to give the plain autograd update's numbers (to float
rounding; bit for bit where no rounding changes):

- ``manual_grad`` (default where it applies): the gradients of J_Q, J_pi and J_alpha written out by
  hand (``critic_grads``, ``policy_grads``) instead of autograd building and walking a graph; the same
  randomness is drawn in the same order and each optimizer step sits where the plain update has it.
- ``bf16`` (default where the hardware does bf16 natively): the hidden layers compute in bfloat16
  from float32 master weights; output layers, sampling, log-probs, targets, losses and optimizer stay
  float32 (a bf16 Q output would be rounded to steps of 0.5 at Q = 100, as large as a reward).
- ``compile``: torch.compile of the two gradient functions, each whole (or of the autograd update).
- ``parallel_update`` (with simultaneous_update): the critic half and the policy half of the update
  computed at once in two CPU threads, each with half the torch threads.

``build_update`` reads the switches and returns the function ``SAC.update`` calls.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import torch

from visuomotor.nets import hardware
from visuomotor.nets.distributions import squashed_gaussian_log_prob
from visuomotor.nets.mlp import relu_mlp_backward, relu_mlp_forward


def hidden_cast(params, dtype: torch.dtype) -> list[torch.Tensor]:
    """(weight, bias, ...) with every layer but the output layer cast to ``dtype``."""
    params = list(params)
    return [p.to(dtype) for p in params[:-2]] + params[-2:]


def build_update(agent):
    """The update function for ``agent`` (a SAC) under its config's speed switches; checks them first."""
    cfg = agent.cfg
    if cfg.parallel_update and agent.device.type != "cpu":
        raise ValueError(f"parallel_update runs on CPU threads; device is {agent.device}")
    if cfg.parallel_update and cfg.compile:
        raise ValueError("parallel_update and compile cannot be combined; choose one")
    if cfg.compile and agent.device.type == "cpu" and hardware.cpp_compiler() is None:
        raise ValueError("compile on CPU needs a C++ compiler (g++ or clang++, or $CXX); none found: "
                         "install one or set compile False")
    if cfg.parallel_update and not cfg.simultaneous_update:
        raise ValueError("parallel_update needs simultaneous_update (the halves must be independent)")
    agent.parallel = cfg.parallel_update
    agent.manual_grad = cfg.manual_grad if cfg.manual_grad is not None else cfg.manual_grad_applies()
    if agent.bf16 and agent.family.hand_derived:  # (other families run under autocast instead)
        agent.weights = lambda: bf16_weights(agent)
    if agent.manual_grad:
        return HandDerivedUpdate(agent, compile=bool(cfg.compile)).update
    if agent.parallel:
        return ParallelHalves(agent).update
    return torch.compile(agent.plain_update) if cfg.compile else agent.plain_update


def bf16_weights(agent):
    """``SAC.weights`` with the hidden layers cast to bf16 (gradients flow back through the cast to the
    float32 masters); output layers stay float32."""
    actor_w = hidden_cast(agent._actor_params, torch.bfloat16)
    critic_w = hidden_cast(agent._online, torch.bfloat16)
    with torch.no_grad():
        target_w = hidden_cast(agent._target, torch.bfloat16)
    return actor_w, critic_w, target_w


class ParallelHalves:
    """simultaneous_update's two halves share no gradient: the critic half on this thread, the policy
    half on a worker thread, each with half the intra-op threads; then one optimizer step. The
    halves draw from their own generators, so the numbers equal computing them one after the other."""

    def __init__(self, agent):
        self.agent = agent
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="sac-policy-half")

    def _policy_half(self, batch, actor_w, critic_w, alpha, threads: int):
        torch.set_num_threads(threads)  # the worker thread's own intra-op thread count
        return self.agent.policy_step(batch, actor_w, critic_w, alpha)

    def update(self, batch):
        agent = self.agent
        agent.optimizer.zero_grad(set_to_none=True)
        actor_w, critic_w, target_w = agent.weights()
        alpha = agent.log_alpha.exp().detach()
        threads = torch.get_num_threads()
        half = max(1, threads // 2)
        torch.set_num_threads(half)
        try:
            policy = self.pool.submit(self._policy_half, batch, actor_w, critic_w, alpha, half)
            try:
                critic_loss, q_mean = agent.critic_step(batch, actor_w, critic_w, target_w, alpha)
            finally:
                actor_loss, alpha_loss, entropy = policy.result()
            agent.optimizer.step()
        finally:
            torch.set_num_threads(threads)
        agent.polyak()
        return agent.metrics(critic_loss, actor_loss, alpha_loss, alpha, q_mean, entropy)


class HandDerivedUpdate:
    """``SAC.plain_update`` with the gradients written out (no autograd graph), the same steps in the
    same order: the randomness is drawn here, the gradients come from ``critic_grads`` and
    ``policy_grads`` (functions of tensors only, which ``compile`` compiles whole), and each optimizer
    step sits between them."""

    def __init__(self, agent, compile: bool):
        self.agent = agent
        self.dtype = torch.bfloat16 if agent.bf16 else torch.float32
        wrap = hardware.compiled_or_eager if compile else (lambda f: f)
        self.critic_fn, self.policy_fn = wrap(self.critic_grads), wrap(self.policy_grads)

    @torch.no_grad()
    def update(self, batch):
        agent, cfg = self.agent, self.agent.cfg
        eps_next, pick = agent.target_draws(batch.obs.shape[0])
        eps = agent.policy_noise_like(batch.action)
        alpha = agent.log_alpha.exp()
        actor, critic = agent._actor_params, agent._online
        grads, critic_loss, q_mean = self.critic_fn(
            batch.obs, batch.action, batch.reward, batch.bootstrap_discount(cfg.gamma), batch.next_obs,
            actor, critic, agent._target, alpha, eps_next, pick)
        for p, g in zip(critic, grads):
            p.grad = g
        if not cfg.simultaneous_update:  # Algorithm 1: the policy against the stepped critics
            agent.optimizer.step()
            agent.optimizer.zero_grad(set_to_none=True)
        grads, alpha_grad, actor_loss, alpha_loss, entropy = self.policy_fn(
            batch.obs, actor, critic, alpha, agent.log_alpha, eps)
        for p, g in zip(actor, grads):
            p.grad = g
        if cfg.autotune_alpha:
            agent.log_alpha.grad = alpha_grad
        agent.optimizer.step()
        agent.optimizer.zero_grad(set_to_none=True)
        agent.polyak()
        return agent.metrics(critic_loss, actor_loss, alpha_loss, alpha, q_mean, entropy)

    def critic_grads(self, obs, action, reward, bootstrap, next_obs, actor, critic, target, alpha, eps_next, pick):
        """The gradients of J_Q for the critics' float32 parameters (in ``flat_params`` order), J_Q and
        the mean Q. With J_Q = sum_i 0.5 mean_B (Q_i - y)^2: dJ_Q/dQ_i = (Q_i - y) / B, then back
        through each critic with ``relu_mlp_backward``."""
        dt = self.dtype
        critic_w = hidden_cast(critic, dt)
        y = self.agent.td_target(reward, bootstrap, next_obs, hidden_cast(actor, dt), hidden_cast(target, dt), alpha,
                                 eps_next, pick)
        q, inputs = relu_mlp_forward(torch.cat([obs, action], -1), critic_w)
        q = q.float().squeeze(-1)  # [n, B]
        err = q - y
        grads, _ = relu_mlp_backward(critic_w, inputs, (err / obs.shape[0]).unsqueeze(-1))
        grads = [g.to(p.dtype) for p, g in zip(critic, grads)]
        return grads, 0.5 * err.pow(2).mean(-1).sum(), q.mean()

    def policy_grads(self, obs, actor, critic, alpha, log_alpha, eps):
        """The gradients of J_pi for the policy's float32 parameters and of J_alpha for log alpha, J_pi,
        J_alpha and the entropy estimate. With a~ = tanh(u), u = mean + std eps:

            dJ_pi/du        = (1 - a~^2) dJ_pi/da~ + (alpha / B) d(-log(1 - tanh(u)^2))/du,   the latter 2 a~
            dJ_pi/dmean     = dJ_pi/du
            dJ_pi/dlog_std  = dJ_pi/du std eps - alpha / B   (zero where the clip is active)
            dJ_alpha/dlog alpha = -mean_B (log pi(a~|s) + Hbar)

        dJ_pi/da~ comes back through the critics (weights fixed), the policy's own gradients through
        ``relu_mlp_backward``."""
        agent, cfg = self.agent, self.agent.cfg
        b, obs_dim = obs.shape
        dt = self.dtype
        actor_w, critic_w = hidden_cast(actor, dt), hidden_cast(critic, dt)
        out, a_inputs = relu_mlp_forward(obs, actor_w)
        mean, log_std = agent.actor.head(out)
        std = log_std.exp()
        u = mean + std * eps
        pi_a = torch.tanh(u)
        logp = squashed_gaussian_log_prob(u, mean, log_std, eps, cfg.log_prob_epsilon)
        q_pi, c_inputs = relu_mlp_forward(torch.cat([obs, pi_a], -1), critic_w)
        q_pi = q_pi.float().squeeze(-1)  # [n, B]
        if cfg.actor_q == "mean":
            q_sel = q_pi.mean(0)
            dq = torch.full_like(q_pi, -1.0 / (b * q_pi.shape[0]))
        else:
            q_sel = q_pi.amin(0)
            hit = (q_pi == q_sel).float()  # ties share the gradient, as autograd's amin
            dq = hit * (-1.0 / b) / hit.sum(0)
        actor_loss = (alpha * logp - q_sel).mean()
        _, dq_da = relu_mlp_backward(critic_w, c_inputs, dq.unsqueeze(-1), param_grads=False,
                                     input_cols=slice(obs_dim, None))
        sq = 1.0 - pi_a.pow(2)
        d_corr = 2.0 * pi_a if cfg.log_prob_epsilon == 0.0 else 2.0 * pi_a * sq / (sq + cfg.log_prob_epsilon)
        c = alpha / b
        du = dq_da.float().sum(0) * sq + c * d_corr
        raw_log_std = out.float()[:, agent.act_dim:]
        in_clip = (raw_log_std >= cfg.log_std_min) & (raw_log_std <= cfg.log_std_max)
        d_log_std = (du * std * eps - c) * in_clip
        grads, _ = relu_mlp_backward(actor_w, a_inputs, torch.cat([du, d_log_std], -1))
        grads = [g.to(p.dtype) for p, g in zip(actor, grads)]
        centered = logp + agent.target_entropy
        return grads, -centered.mean(), actor_loss, -(log_alpha * centered).mean(), -logp.mean()
