"""SAC's speed path: the update of ``algos/sac.py`` computed faster, never different math.

``sac.py`` holds the method (config, networks, the three losses in autograd, ``SAC.plain_update``);
this module wraps that update from the outside. Four switches, each tested to give the plain
update's numbers (to float rounding; bit for bit where no rounding changes):

- ``manual_grad`` (default where it applies): the gradients of J_Q, J_pi and J_alpha written out by
  hand (``HandDerivedUpdate``) instead of autograd building and walking a graph; the same randomness
  is drawn in the same order and each optimizer step sits where the plain update has it.
- ``bf16`` (default where the hardware does bf16 natively): during the update the networks compute in
  bfloat16 from their float32 weights (``nets.switches.bf16``: the MLPs' hidden layers, with output
  layers float32, since a bf16 Q would be rounded to steps of 0.5 at Q = 100; the simba nets under
  autocast); sampling, log-probs, targets, losses and the optimizer stay float32. Acting is float32.
- ``compile``: torch.compile of the hand-derived gradient functions, each whole (or of the autograd update).
- ``parallel_update`` (with simultaneous_update): the critic half and the policy half of the update
  computed at once in two CPU threads, each with half the torch threads (``ParallelHalves``).

``SpeedPath(agent)`` reads the switches and is what ``SAC.update`` calls.
"""

from __future__ import annotations

import copy
import dataclasses
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import torch
from torch import nn

from visuomotor.nets import hardware, switches
from visuomotor.nets.distributions import squashed_gaussian_log_prob
from visuomotor.nets.mlp import hidden_cast, relu_mlp_backward, relu_mlp_forward


@dataclass
class SACSpeedConfig:
    """The speed switches of ``SACConfig`` (``--sac.bf16``, ``--sac.compile``, ``--sac.manual-grad``,
    ``--sac.parallel-update``): how the update is computed, never what."""

    bf16: bool | None = None
    """bfloat16 compute in the hidden layers during the update, from float32 master weights (output layers,
    sampling, log-probs, targets, losses and optimizer stay float32). None = on where the hardware does bf16
    natively (CUDA; CPUs with AVX512-BF16 or AMX), off elsewhere."""
    compile: bool | None = None
    """torch.compile the update: the hand-derived gradients' two functions, each compiled whole (inductor
    fuses their elementwise work; ~0.75x the eager update's time on a 2-core CPU, after ~15-30 s of
    compiling on the first update), or with manual_grad False the autograd update. None = on for
    training runs on CPU with at least ``hardware.AUTO_COMPILE_UPDATES`` updates of the hand-derived gradients
    where a C++ compiler is found (decided per run by ``for_run``; an agent built directly stays eager)."""
    manual_grad: bool | None = None
    """Compute the update's gradients with hand-derived formulas (``algos/sac_fast.py``) instead of
    autograd: the same losses and gradients up to float rounding (tested against autograd), without
    building and walking a graph; faster on CPU. None = on wherever it applies (critics without
    LayerNorm, no parallel_update); those settings use autograd."""
    parallel_update: bool = False
    """With simultaneous_update: compute the update's two independent halves (the critic loss; the policy and temperature
    losses, which read the same parameters) in two CPU threads at once, each with half the torch
    threads, then take one optimizer step. Same numbers as computing them one after the other."""

    def manual_grad_applies(self) -> bool:
        """Whether the hand-derived update covers these settings (of a resolved ``SACConfig``)."""
        return not (self.layer_norm or self.parallel_update or not self.family().hand_derived
                    or self.obs_normalization or self.weight_decay)

    def for_run(self, updates: int, device: torch.device):
        """``compile`` None decided for a run of ``updates`` updates on ``device``: on where compiling
        pays for itself (see the field)."""
        cfg = super().for_run(updates, device)  # (the next config in SACConfig's bases)
        if cfg.compile is not None:
            return cfg
        hand_derived = cfg.manual_grad is not False and cfg.manual_grad_applies()  # (compiling autograd's was slower)
        return dataclasses.replace(cfg, compile=hand_derived and hardware.long_cpu_run_compiles(device, updates))

    def validate_speed(self) -> None:
        if self.manual_grad and not self.manual_grad_applies():
            raise ValueError("manual_grad covers mlp networks without LayerNorm, observation normalization or "
                             "weight decay, and no parallel_update; set manual_grad False (or None) with those")
        if not self.family().hand_derived and (self.compile or self.parallel_update):
            raise ValueError(f"compile and parallel_update are speed switches of the mlp networks; "
                             f"turn them off with net {self.net}")
        if self.parallel_update and self.compile:
            raise ValueError("parallel_update and compile cannot be combined; choose one")
        if self.parallel_update and not self.simultaneous_update:
            raise ValueError("parallel_update needs simultaneous_update (the halves must be independent)")


class SpeedPath:
    """``SAC.plain_update`` under the agent's config's speed switches: the function ``SAC.update`` calls."""

    def __init__(self, agent):
        cfg = agent.cfg
        if cfg.parallel_update and agent.device.type != "cpu":
            raise ValueError(f"parallel_update runs on CPU threads; device is {agent.device}")
        if cfg.compile and agent.device.type == "cpu" and hardware.cpp_compiler() is None:
            raise ValueError("compile on CPU needs a C++ compiler (g++ or clang++, or $CXX); none found: "
                             "install one or set compile False")
        self.bf16 = hardware.use_bf16(cfg.bf16, agent.device)
        self.manual_grad = cfg.manual_grad if cfg.manual_grad is not None else cfg.manual_grad_applies()
        self.parallel = cfg.parallel_update
        self.compile = cfg.compile
        self.nets = [agent.actor, agent.critic, agent.critic_target]
        if self.manual_grad:
            self.fn = HandDerivedUpdate(agent, compile=bool(cfg.compile), bf16=self.bf16).update
        elif self.parallel:
            halves = ParallelHalves(agent)
            self.nets.append(halves.policy_half_agent.critic)
            self.fn = halves.update
        else:
            self.fn = torch.compile(agent.plain_update) if cfg.compile else agent.plain_update
        self.nets = switches.bf16_capable(*self.nets) if self.bf16 else []  # (collected once)

    def __call__(self, batch):
        if not self.nets:
            return self.fn(batch)
        with switches.bf16_on(self.nets):
            return self.fn(batch)

    def describe(self) -> dict:
        return {"bf16": self.bf16, "compile": self.compile, "manual_grad": self.manual_grad}


def detached_view(module: nn.Module) -> nn.Module:
    """A copy of ``module`` whose parameters are the original's, detached: the same storage (it sees every
    optimizer step and load), never a gradient."""
    view = copy.deepcopy(module)
    for (name, _), p in zip(list(view.named_parameters()), module.parameters()):
        owner, _, attr = name.rpartition(".")
        setattr(view.get_submodule(owner), attr, nn.Parameter(p.detach(), requires_grad=False))
    return view


class ParallelHalves:
    """simultaneous_update's two halves share no gradient: the critic half on this thread, the policy
    half on a worker thread, each with half the intra-op threads; then one optimizer step. The policy
    half sees the critics through a detached view (its loss reaches their input, never their weights),
    and the halves draw from their own generators: the numbers equal computing them one after the other."""

    def __init__(self, agent):
        self.agent = agent
        self.policy_half_agent = copy.copy(agent)
        self.policy_half_agent.critic = detached_view(agent.critic)
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="sac-policy-half")

    def _policy_half(self, batch, alpha, threads: int):
        torch.set_num_threads(threads)  # the worker thread's own intra-op thread count
        actor_loss, alpha_loss, entropy = self.policy_half_agent.policy_losses(batch, alpha)
        (actor_loss + alpha_loss if self.agent.cfg.autotune_alpha else actor_loss).backward()
        return actor_loss.detach(), alpha_loss.detach(), entropy

    def update(self, batch):
        agent = self.agent
        agent.optimizer.zero_grad(set_to_none=True)
        alpha = agent.log_alpha.exp().detach()
        threads = torch.get_num_threads()
        half = max(1, threads // 2)
        torch.set_num_threads(half)
        try:
            policy = self.pool.submit(self._policy_half, batch, alpha, half)
            try:
                critic_loss, q_mean = agent.critic_loss(batch, alpha)
                critic_loss.backward()
            finally:
                actor_loss, alpha_loss, entropy = policy.result()
            agent.optimizer.step()
        finally:
            torch.set_num_threads(threads)
        agent.polyak()
        return agent.metrics(critic_loss.detach(), actor_loss, alpha_loss, alpha, q_mean, entropy)


class HandDerivedUpdate:
    """``SAC.plain_update`` with the gradients written out (no autograd graph), the same steps in the
    same order: the randomness is drawn here, the gradients come from ``critic_grads`` and
    ``policy_grads`` (functions of tensors only, which ``compile`` compiles whole), and each optimizer
    step sits between them. Covers the paper's networks (ReLU MLPs, ``nets.mlp.relu_mlp_forward``)."""

    def __init__(self, agent, compile: bool, bf16: bool):
        self.agent = agent
        self.dtype = torch.bfloat16 if bf16 else torch.float32
        self.actor_params = list(agent.actor.parameters())  # (in relu_mlp_forward's order)
        self.online, self.target = agent.critic.flat_params(), agent.critic_target.flat_params()
        wrap = hardware.compiled_or_eager if compile else (lambda f: f)
        self.critic_fn, self.policy_fn = wrap(self.critic_grads), wrap(self.policy_grads)

    @torch.no_grad()
    def update(self, batch):
        agent, cfg = self.agent, self.agent.cfg
        eps_next, pick = agent.target_draws(batch.obs.shape[0])
        eps = agent.policy_noise_like(batch.action)
        alpha = agent.log_alpha.exp()
        actor, critic = self.actor_params, self.online
        grads, critic_loss, q_mean = self.critic_fn(
            batch.obs, batch.action, batch.reward, batch.bootstrap_discount(cfg.gamma), batch.next_obs,
            critic, alpha, eps_next, pick)
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

    def critic_grads(self, obs, action, reward, bootstrap, next_obs, critic, alpha, eps_next, pick):
        """The gradients of J_Q for the critics' float32 parameters (in ``flat_params`` order), J_Q and
        the mean Q. With J_Q = sum_i 0.5 mean_B (Q_i - y)^2: dJ_Q/dQ_i = (Q_i - y) / B, then back
        through each critic with ``relu_mlp_backward``; y is ``SAC.td_target``'s."""
        critic_w = hidden_cast(critic, self.dtype)
        y = self.agent.td_target(reward, bootstrap, next_obs, alpha, eps_next, pick)
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
        actor_w, critic_w = hidden_cast(actor, self.dtype), hidden_cast(critic, self.dtype)
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
