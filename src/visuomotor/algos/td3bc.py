"""TD3+BC, and its two dataset-constrained relatives PRDC and MCEP: offline RL from a fixed dataset.

Fujimoto & Gu 2021, "A Minimalist Approach to Offline Reinforcement Learning" (TD3+BC). States are
normalized with the dataset's mean and std (std + 1e-3). Per update, on a batch (s, a, r, s', d):

    a' = clip(pi_targ(s') + clip(N(0, 0.2), -0.5, 0.5), -1, 1)
    y  = r + gamma (1 - d) min(Q1_targ(s', a'), Q2_targ(s', a'))           (TD3's clipped double Q)
    J_Q = sum_i E[(Q_i(s, a) - y)^2]                                       (TD3, algos/td3.py)
    every 2nd update:  lambda = alpha / mean|Q1(s, pi(s))|   (alpha 2.5, lambda not differentiated)
                       J_pi = -lambda E[Q1(s, pi(s))] + E[(pi(s) - a)^2]
                       Polyak step (tau 0.005) of the target actor and critics

PRDC (``--prdc``; Ran et al. 2023, "Policy Regularization with Dataset Constraint for Offline RL"):
the behaviour-cloning term is replaced by the distance to the *nearest* dataset pair: a KD-tree
over the dataset's (beta s, a) (beta 2, normalized s) is queried with (beta s, pi(s)), and the
policy is pulled toward that neighbour's action: E[(pi(s) - a_nn)^2]. The query runs on the CPU
(scipy's cKDTree), the one host round-trip in this update, as in the authors' code.

MCEP (``--mcep``; Liu et al. 2023, "Mildly Constrained Evaluation Policy for Offline RL"): the
policy above (the *target* policy) keeps its constraint and is the one the critic's targets use;
beside it an *evaluation* policy is trained against the same critic with a milder constraint
(its behaviour term weighted ``mcep_bc_weight``, 0.5 as in the authors' code), and it is the one
that acts in evaluation, export and online fine-tuning. It never feeds the critic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import torch
import tyro
from torch import nn

from visuomotor.algos.base import Kind
from visuomotor.algos.td3 import TD3, TD3Config


@dataclass
class TD3BCConfig(TD3Config):
    """TD3+BC hyperparameters (Fujimoto & Gu 2021, their defaults; TD3's for the rest); --prdc and
    --mcep switch on PRDC's dataset constraint and MCEP's evaluation policy. --steps counts gradient
    steps (offline); --online-steps then fine-tunes online in the same run."""

    alpha: float = 2.5
    """Weight of the Q term relative to the behaviour term (lambda = alpha / mean |Q|)."""
    normalize_states: bool = True
    """Normalize observations with the dataset's mean and std (+1e-3), kept in the checkpoint."""
    prdc: Annotated[bool, tyro.conf.arg(aliases=["--prdc"])] = False
    """PRDC: pull the policy toward the nearest dataset (beta s, a) pair (KD-tree) instead of the
    batch's own action."""
    beta: float = 2.0
    """PRDC: weight of the state in the KD-tree's distance, (beta s, a)."""
    mcep: Annotated[bool, tyro.conf.arg(aliases=["--mcep"])] = False
    """MCEP: also train a mildly constrained evaluation policy, which acts in evaluation."""
    mcep_bc_weight: float = 0.5
    """MCEP: weight of the evaluation policy's behaviour (or PRDC) term (the target policy's is 1)."""
    learning_starts: int = 0
    """Online fine-tuning: env steps before updates resume (the policy is trained already)."""
    total_steps: int = 1_000_000
    """Default --steps: offline gradient steps (the paper's 1M)."""

    def default_steps(self, action_repeat: int) -> int:
        return self.total_steps

    def validate(self) -> None:
        super().validate()
        for name in ("alpha", "beta", "total_steps"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.mcep_bc_weight < 0:
            raise ValueError(f"mcep_bc_weight must be >= 0, got {self.mcep_bc_weight}")
        if self.action_l2 != 0:
            raise ValueError(f"action_l2 is TD3's pull toward action 0; td3bc pulls toward the data's actions "
                             f"(alpha), got action_l2 {self.action_l2}")
        if self.family().running_normalization:
            raise ValueError(f"td3bc normalizes states by its dataset's statistics; net {self.net} learns from "
                             f"running statistics (use net mlp)")


class DatasetKDTree:
    """Nearest dataset (beta s, a) pair of a query (beta s, pi(s)), by scipy's cKDTree (PRDC)."""

    def __init__(self, obs: torch.Tensor, actions: torch.Tensor, beta: float):
        from scipy.spatial import cKDTree

        self.beta = beta
        self.actions = actions
        keys = torch.cat([beta * obs, actions], -1).detach().cpu().double().numpy()
        self.tree = cKDTree(keys)

    def nearest(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Indices into the dataset of each row's nearest pair (Euclidean over (beta s, a))."""
        q = torch.cat([self.beta * obs, actions], -1).detach().cpu().double().numpy()
        _, idx = self.tree.query(q, k=1, workers=-1)
        return torch.as_tensor(idx, dtype=torch.long, device=self.actions.device)

    def nearest_actions(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return self.actions.index_select(0, self.nearest(obs, actions))


class TD3BC(TD3):
    config_cls = TD3BCConfig
    kind = Kind.OFFLINE  # trains from --data; --online-steps continues online
    online_finetuning = True
    learns_on_policies = False

    def __init__(self, observation_space, action_space, cfg: TD3BCConfig, device="cpu"):
        super().__init__(observation_space, action_space, cfg, device)
        self.eval_actor = None
        if self.cfg.mcep:
            self.eval_actor = self.make_policy()
            self.eval_opt = torch.optim.Adam(self.eval_actor.parameters(), lr=self.cfg.actor_lr)
        self.kdtree: DatasetKDTree | None = None

    # ---- the dataset --------------------------------------------------------------------------
    def fit_dataset(self, fresh: bool) -> None:
        """The dataset is in the storage: on a fresh run the state statistics, on every start PRDC's
        KD-tree (not checkpointed; rebuilt from the dataset with the restored statistics)."""
        replay = self.storage
        if fresh and self.cfg.normalize_states:
            obs = replay.obs[: len(replay)].float()
            self.normalizer.mean.copy_(obs.mean(0))
            self.normalizer.std.copy_(obs.std(0) + 1e-3)
        self.build_kdtree(replay)

    def build_kdtree(self, replay) -> None:
        """PRDC's tree over the dataset (rebuilt from the dataset on resume; not in checkpoints)."""
        if self.cfg.prdc:
            n = len(replay)
            self.kdtree = DatasetKDTree(self.normalizer(replay.obs[:n].float()), replay.action[:n].float(),
                                        self.cfg.beta)

    def acting_policy(self) -> nn.Module:
        """MCEP: the evaluation policy acts (evaluation, export, online fine-tuning)."""
        return self.actor if self.eval_actor is None else self.eval_actor

    # ---- learning -----------------------------------------------------------------------------
    def _constraint(self, obs: torch.Tensor, pi: torch.Tensor, data_action: torch.Tensor) -> torch.Tensor:
        """TD3+BC: squared distance to the batch's action; PRDC: to the nearest dataset pair's action."""
        target = self.kdtree.nearest_actions(obs, pi) if self.kdtree is not None else data_action
        return (pi - target).pow(2).mean()

    def _policy_loss(self, actor: nn.Module, obs, data_action, weight: float):
        pi = actor(obs)
        q = self.q(self.critic, obs, pi)[0]
        lam = self.cfg.alpha / q.abs().mean().detach()
        constraint = self._constraint(obs, pi, data_action)
        return -lam * q.mean() + weight * constraint, lam, constraint

    def policy_metric_keys(self) -> tuple[str, ...]:
        keys = ("losses/actor", "losses/lambda", "losses/constraint")
        return keys + (("losses/eval_actor", "losses/eval_constraint") if self.cfg.mcep else ())

    def policy_loss(self, obs, batch):
        loss, lam, constraint = self._policy_loss(self.actor, obs, batch.action, 1.0)
        return loss, {"losses/actor": loss.detach(), "losses/lambda": lam, "losses/constraint": constraint.detach()}

    def policy_step(self, obs, batch) -> dict[str, torch.Tensor]:
        metrics = super().policy_step(obs, batch)
        if self.eval_actor is not None:  # MCEP: the evaluation policy, against the same critic
            eval_loss, _, eval_constraint = self._policy_loss(self.eval_actor, obs, batch.action, self.cfg.mcep_bc_weight)
            self.eval_opt.zero_grad(set_to_none=True)
            eval_loss.backward()
            self.eval_opt.step()
            metrics.update({"losses/eval_actor": eval_loss.detach(), "losses/eval_constraint": eval_constraint.detach()})
        return metrics

    # ---- state --------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        state = super().state_dict()
        if self.eval_actor is not None:
            state.update(eval_actor=self.eval_actor.state_dict(), eval_opt=self.eval_opt.state_dict())
        return state

    def policy_state_dict(self) -> dict:
        state = super().policy_state_dict()
        if self.eval_actor is not None:
            state["eval_actor"] = self.eval_actor.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        if self.eval_actor is not None:
            self.eval_actor.load_state_dict(state["eval_actor"])
            if "critic" in state:
                self.eval_opt.load_state_dict(state["eval_opt"])
