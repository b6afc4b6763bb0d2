"""Teacher-student distillation with DAgger: ``--algo distill --teacher RUN``.

Ross, Gordon and Bagnell 2011, "A Reduction of Imitation Learning and Structured Prediction to No-Regret
Online Learning" (DAgger); the teacher-student scheme of legged locomotion (Lee et al. 2020, "Learning
Quadrupedal Locomotion over Challenging Terrain"; RSL-RL's distillation runner) and of visual policies
taught by a state policy. Defaults where they apply from RSL-RL's ``Distillation``: Adam, learning rate
1e-3, mean squared error (Huber as an option), no gradient clipping.

A teacher (a trained run that acts from the simulator's state, e.g. SAC from states) and a student that
sees only what the task gives it (pixels: frame stacks through DrQ-v2's encoder, with its random shift;
or state observations, optionally a history of them with ``--history``) act in one env. Both
observations come from the same env at the same step: the env shows the state beside the pixels
(``info["state"]``). At policy step t, with share beta_t = schedule(t) rising from 0 to 1:

    a*_t = pi_teacher(s_t)                          the teacher labels every visited state
    the student acts with probability beta_t        (per step, or per episode with --distill.mixing episode)
        a_t = pi_student(o_t), else a_t = a*_t      (the DAgger mixture pi_t = beta_t pi_student + (1 - beta_t) pi*)
    D <- D + {(o_t, a*_t)}                          a replay of labelled observations
    theta <- theta - lr grad_theta E_{(o, a*) ~ D} l(pi_student(aug(o)), a*)
                                                    l: MSE (mean over actions), or Huber

The student is behaviour cloning's policy network (``algos.bc``), trained online on the states its own
mixture visits. Its evaluation, checkpoints (best.pt holds only the student) and export see the
student alone: it never reads the state. The replay keeps observations with their labels; the episode
files keep the states, so a resumed run relabels them with the same teacher (whose weights the
checkpoint holds) to the same bits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch.nn import functional as F

from visuomotor.algos.base import Kind, Observes, OffPolicyConfig, Policy
from visuomotor.algos.bc import BC, BCConfig
from visuomotor.evaluate.rollout import act as policy_action
from visuomotor.nets import hardware
from visuomotor.nets.schedules import parse_schedule


@dataclass
class DistillConfig(OffPolicyConfig, BCConfig):
    """Distillation hyperparameters: DAgger's mixing, the loss, and behaviour cloning's student network
    (``BCConfig``: hidden widths, trunk, random shift, Adam) with RSL-RL's optimizer defaults."""

    teacher_checkpoint: Literal["best", "latest"] = "best"
    """Which checkpoint of the --teacher run acts and labels: its best evaluation, or its last state."""
    student_share: str = "linear(0,1,10000)"
    """The student's share of the acting over policy steps (DAgger's 1 - beta): a number, linear(init,final,
    steps) or step_linear(...), values in [0, 1]; 0 = the teacher always acts, 1 = the student always does."""
    mixing: Literal["step", "episode"] = "step"
    """Who acts is drawn every step (the DAgger mixture), or once per episode (whole episodes of either)."""
    loss: Literal["mse", "huber"] = "mse"
    """The behaviour-cloning loss on actions: mean squared error (RSL-RL's default), or Huber."""
    huber_delta: float = 1.0
    """With --distill.loss huber: where the loss turns from quadratic to linear."""
    lr: float = 1e-3
    """Adam learning rate (RSL-RL's distillation)."""
    max_grad_norm: float | None = None
    """Clip the gradient's norm to this (None: no clipping, RSL-RL's default)."""
    bf16: bool | None = None
    """bf16 autocast for the student's networks (the loss and optimizer in float32); None = on where bf16
    is native (CUDA; CPUs with AVX512-BF16 or AMX), where it makes a pixel update at batch 256 about
    2x faster on the AVX-512/AMX CPU (benchmarks/README.md). An export computes in float32."""
    buffer_size: int = 100_000
    """Replay capacity in labelled observations (frames, with pixels)."""
    batch_size: int = 256
    """Labelled observations per gradient step."""
    learning_starts: int = 1_000
    """Policy steps before the first gradient step (the mixture acts from the start)."""
    total_steps: int = 30_000
    """Default --steps: policy steps."""

    def default_steps(self, action_repeat: int) -> int:
        return self.total_steps

    def validate(self) -> None:
        OffPolicyConfig.validate(self)
        BCConfig.validate(self)  # the student's network and optimizer
        if self.teacher_checkpoint not in ("best", "latest"):
            raise ValueError(f"teacher_checkpoint must be best or latest, got {self.teacher_checkpoint!r}")
        if self.mixing not in ("step", "episode"):
            raise ValueError(f"mixing must be step or episode, got {self.mixing!r}")
        if self.loss not in ("mse", "huber"):
            raise ValueError(f"loss must be mse or huber, got {self.loss!r}")
        share = parse_schedule(self.student_share)
        values = [share(int(t)) for t in (0, *np.geomspace(1, 1e12, 241))]  # (its pieces' ends among them)
        if any(not 0.0 <= v <= 1.0 for v in values):
            raise ValueError(f"student_share {self.student_share!r} leaves [0, 1] (it reaches {min(values):g} and "
                             f"{max(values):g})")
        if not self.huber_delta > 0:
            raise ValueError(f"huber_delta must be > 0, got {self.huber_delta}")
        if self.max_grad_norm is not None and not self.max_grad_norm > 0:
            raise ValueError(f"max_grad_norm must be > 0 (or None), got {self.max_grad_norm}")


def distillation_loss(pred: torch.Tensor, label: torch.Tensor, kind: str, delta: float = 1.0) -> torch.Tensor:
    """The student's loss against the teacher's actions, a mean over batch and action dimensions: MSE
    (1/BA) sum (pred - label)^2, or Huber (quadratic 0.5 x^2 within ``delta``, linear beyond)."""
    if kind == "huber":
        return F.huber_loss(pred, label, delta=delta)
    return F.mse_loss(pred, label)


class Distill(BC):
    kind = Kind.OFF_POLICY
    observes = Observes.EITHER  # pixels with --pixels, else states (with --history H: a history of them)
    sees_state = True
    learns_from_teacher = True

    def __init__(self, observation_space, action_space, cfg: DistillConfig, device="cpu"):
        super().__init__(observation_space, action_space, cfg, device)
        self.bf16 = hardware.use_bf16(self.cfg.bf16, self.device)
        self.share = parse_schedule(self.cfg.student_share)
        self.mix = torch.Generator()  # who acts (on the CPU: one draw per step)
        self.mix.manual_seed(int(torch.randint(0, 2**62, (1,))))
        self.teacher: Policy | None = None
        self.teacher_source: dict = {}
        self.step = 0
        self.label: np.ndarray | None = None  # the teacher's action for the observation acted on next
        self.episode_turn: bool | None = None  # with mixing "episode": the student acts this episode (None: not drawn)

    # ---- the teacher --------------------------------------------------------------------------
    def set_teacher(self, teacher: Policy, source: dict) -> None:
        self.teacher, self.teacher_source = teacher.to(self.device), source

    def teach(self, state: np.ndarray) -> np.ndarray:
        """The teacher's deterministic action for one state (one row at a time, always: a stored episode
        relabelled on resume gets the bits its states got while the run acted)."""
        return np.asarray(policy_action(self.teacher, np.asarray(state, np.float32), self.device), np.float32)

    def see_state(self, state: np.ndarray) -> None:
        self.label = self.teach(state)

    # ---- acting -------------------------------------------------------------------------------
    def set_step(self, step: int) -> None:
        self.step = int(step)

    def student_share(self) -> float:
        """The student's share of the acting at the current step (DAgger's 1 - beta)."""
        return float(self.share(self.step))

    def begin_episode(self, explore: bool) -> None:
        self.episode_turn = None  # drawn at the episode's first action (a resumed run begins its episode again)

    def student_acts(self) -> bool:
        """Whether the student acts at this step of training (a draw from the mixture)."""
        if self.cfg.mixing == "episode":
            if self.episode_turn is None:
                self.episode_turn = bool(torch.rand((), generator=self.mix) < self.student_share())
            return self.episode_turn
        return bool(torch.rand((), generator=self.mix) < self.student_share())

    def act(self, obs: np.ndarray, explore: bool = False) -> np.ndarray:
        """Training (``explore``): the mixture's action, the teacher's label or the student's; otherwise
        the student's."""
        if explore and not self.student_acts():
            return self.label.copy()
        return super().act(obs)

    def warmup_action(self, obs) -> np.ndarray:
        return self.act(obs, explore=True)  # the mixture acts from the start (beta_0 = 1: the teacher)

    # ---- storage ------------------------------------------------------------------------------
    def observe(self, t) -> None:
        """The observation acted on, labelled with the teacher's action (whoever acted)."""
        self.storage.add(t.obs, self.label, t.reward, t.final_obs, t.terminated, t.truncated)

    def add_episode(self, episode: dict) -> None:
        """A stored episode (resume, --prior-runs), each observation labelled from its state."""
        from visuomotor.errors import VisuomotorError

        if "state" not in episode:
            raise VisuomotorError("an episode without states cannot be labelled by a teacher (a distillation "
                                  "replay takes episodes of distillation runs)")
        states = episode["state"][:-1]
        labels = np.stack([self.teach(s) for s in states]) if len(states) else np.zeros((0, self.act_dim), np.float32)
        self.storage.add_episode({**episode, "action": labels})

    # ---- learning -----------------------------------------------------------------------------
    def update(self, batch=None) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        batch = self.sample() if batch is None else batch
        pred = self.predict(self.training_input(batch.obs))
        loss = distillation_loss(pred, batch.action.to(self.device), cfg.loss, cfg.huber_delta)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(self.policy_net.parameters(), cfg.max_grad_norm)
        self.optimizer.step()
        return {"losses/distill": loss.detach(), "charts/student_share": torch.tensor(self.student_share())}

    def describe(self) -> dict:
        return {"bf16": self.bf16, **({"teacher": self.teacher_source} if self.teacher_source else {})}

    # ---- state --------------------------------------------------------------------------------
    @property
    def act_dim(self) -> int:
        return int(np.prod(self.action_space.shape))

    def state_dict(self) -> dict:
        state = {**super().state_dict(), "mix": self.mix.get_state(), "step": self.step,
                 "episode_turn": self.episode_turn}
        if self.teacher is not None:  # a resumed run labels with these weights, whatever became of the run
            state["teacher"] = self.teacher.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        if "mix" in state:
            self.mix.set_state(state["mix"])
            self.step = int(state["step"])
            self.episode_turn = state["episode_turn"]
        if "teacher" in state and self.teacher is not None:
            self.teacher.load_state_dict(state["teacher"])
