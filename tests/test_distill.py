"""Teacher-student distillation (``--algo distill --teacher RUN``): who acts at which step (DAgger), the loss
on hand-made batches, no privileged state in the student's inputs, exact resume with the replay
relabelled from stored states, and a teacher that does not fit refused before any work."""

from __future__ import annotations

import types

import gymnasium as gym
import numpy as np
import pytest
import torch

from tests.conftest import require, run_cli
from tests.test_resume import COMMON, straight_and_split
from visuomotor.algos.base import EnvSpec, Policy
from visuomotor.algos.distill import Distill, DistillConfig, distillation_loss
from visuomotor.errors import VisuomotorError

ENV = ["--env", "dmc/cartpole-swingup", "--action-repeat", "8"]  # 125-step episodes
TINY = ["--distill.batch-size", "8", "--distill.hidden", "16", "16", "--distill.feature-dim", "8",
        "--distill.buffer-size", "2000", "--distill.learning-starts", "40"]


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    """A small SAC run from states on cartpole-swingup (action repeat 8), with best.pt and latest.pt."""
    run = tmp_path_factory.mktemp("teacher") / "sac"
    run_cli("train", *ENV, "--algo", "sac", "--steps", "250", "--sac.hidden", "16", "16", "--sac.batch-size", "16",
            "--sac.learning-starts", "100", "--eval-every", "125", "--eval-episodes", "1", "--no-video",
            "--threads", "1", "--no-progress", "--run-dir", run, check=True)
    return run


class Constant(Policy):
    """A teacher that always answers ``value``."""

    def __init__(self, value: float, dim: int):
        super().__init__()
        self.value = torch.nn.Parameter(torch.full((dim,), value))

    def forward(self, obs):
        return self.value.expand(obs.shape[0], -1)


def _student(share: str, mixing: str = "step") -> Distill:
    obs = gym.spaces.Box(-np.inf, np.inf, (3,), np.float32)
    act = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    torch.manual_seed(0)
    agent = Distill(obs, act, DistillConfig(student_share=share, mixing=mixing, bf16=False).resolved())
    agent.set_teacher(Constant(0.75, 2), {})
    last = agent.policy_net.net[-1]  # the student answers tanh(atanh(-0.5)) = -0.5 everywhere
    torch.nn.init.zeros_(last.weight)
    torch.nn.init.constant_(last.bias, float(np.arctanh(-0.5)))
    return agent


def _teacher_acted(agent: Distill, draws: int) -> float:
    state, obs = np.zeros(3, np.float32), np.ones(3, np.float32)
    teacher = 0
    for _ in range(draws):
        agent.see_state(state)
        a = agent.act(obs, explore=True)
        assert np.allclose(a, 0.75) or np.allclose(a, -0.5), a
        teacher += bool(np.allclose(a, 0.75))
    return teacher / draws


def test_dagger_schedule_decides_who_acts_at_each_step():
    agent = _student("linear(0,1,100)")
    expected = {0: 1.0, 25: 0.75, 50: 0.5, 100: 0.0, 400: 0.0}
    for step, teacher_share in expected.items():
        agent.set_step(step)
        assert agent.student_share() == pytest.approx(1.0 - teacher_share)
        got = _teacher_acted(agent, 3000)
        assert abs(got - teacher_share) < 0.03, (step, got)  # (binomial sd <= 0.009)
    agent.set_step(0)
    assert np.allclose(agent.act(np.ones(3, np.float32), explore=False), -0.5)  # evaluation: the student alone


def test_dagger_mixing_per_episode_keeps_one_actor_through_an_episode():
    agent = _student("0.5", mixing="episode")
    teacher_episodes = 0
    for _ in range(400):
        agent.begin_episode(explore=True)
        shares = {_teacher_acted(agent, 1) for _ in range(10)}
        assert len(shares) == 1
        teacher_episodes += shares.pop()
    assert abs(teacher_episodes / 400 - 0.5) < 0.08


def test_distillation_loss_on_hand_made_batches():
    pred = torch.tensor([[0.5, -0.5], [0.0, 2.0]])
    label = torch.zeros(2, 2)
    assert distillation_loss(pred, label, "mse").item() == pytest.approx((0.25 + 0.25 + 0 + 4) / 4)
    # Huber, delta 1: 0.5 x^2 inside, delta (|x| - delta / 2) beyond
    assert distillation_loss(pred, label, "huber").item() == pytest.approx((0.125 + 0.125 + 0 + 1.5) / 4)
    assert distillation_loss(pred, label, "huber", 0.2).item() == pytest.approx((0.08 + 0.08 + 0 + 0.38) / 4)


@pytest.mark.parametrize("loss", ["mse", "huber"])
def test_an_update_reports_the_loss_of_its_batch_and_lowers_it(loss):
    agent = _student("1")
    agent.cfg.loss = loss
    torch.manual_seed(1)
    agent.policy_net.net[-1].reset_parameters()
    batch = types.SimpleNamespace(obs=torch.randn(64, 3), action=torch.rand(64, 2) * 2 - 1)
    with torch.no_grad():
        before = distillation_loss(agent.policy_net(batch.obs), batch.action, loss).item()
    reported = agent.update(batch)["losses/distill"].item()
    assert reported == pytest.approx(before, rel=1e-6)
    for _ in range(50):
        agent.update(batch)
    with torch.no_grad():
        after = distillation_loss(agent.policy_net(batch.obs), batch.action, loss).item()
    assert after < 0.5 * before


def test_the_pixel_student_never_sees_the_state(tmp_path, teacher):
    """Its first evaluation is not the teacher's, its policy (checkpoint and ONNX export alike) takes only
    frames, and best.pt holds no teacher."""
    from visuomotor.envs import make_env
    from visuomotor.evaluate.rollout import evaluate
    from visuomotor.train.build import load_agent

    run = tmp_path / "student"
    run_cli("train", *ENV, "--algo", "distill", "--teacher", teacher, "--pixels", "--pixel-size", "48",
            "--steps", "125", *TINY, "--eval-every", "125", *COMMON, "--run-dir", run, check=True)
    import csv

    with open(run / "eval.csv", newline="") as f:
        first = next(csv.DictReader(f))
    t_agent, _, _ = load_agent(teacher, "best")
    env = make_env("dmc/cartpole-swingup", seed=3 + 1, action_repeat=8)
    t_return = evaluate(t_agent, env, 1, seed=3, round_index=0).returns[0]
    assert abs(float(first["returns"]) - t_return) > 1e-3, (first["returns"], t_return)

    best = torch.load(run / "checkpoints" / "best.pt", weights_only=True)
    latest = torch.load(run / "checkpoints" / "latest.pt", weights_only=True)
    assert set(best["agent"]) == {"policy"} and "teacher" in latest["agent"]
    student, cfg, _ = load_agent(run, "best")
    assert student.teacher is None  # loaded to act: no teacher at all
    policy = student.policy()
    with torch.inference_mode():
        assert policy(torch.zeros(1, 9, 48, 48, dtype=torch.uint8)).shape == (1, 1)
        with pytest.raises(RuntimeError):
            policy(torch.zeros(1, 5))  # a state is no input of the student's
    require("onnx", "the student's export")
    import onnx

    out = tmp_path / "export"
    run_cli("export", run, "-o", out, check=True)
    model = onnx.load(next(out.glob("*.onnx")))
    inputs = [i for i in model.graph.input if i.name not in {x.name for x in model.graph.initializer}]
    assert len(inputs) == 1
    dims = [d.dim_value for d in inputs[0].type.tensor_type.shape.dim][1:]
    assert dims == [9, 48, 48]


CASES = {
    "pixels": ["--pixels", "--pixel-size", "48", "--distill.student-share", "linear(0,1,200)"],
    "states-history": ["--history", "2", "--distill.mixing", "episode", "--distill.loss", "huber",
                       "--distill.student-share", "linear(0,1,200)"],
}


@pytest.mark.parametrize("case", list(CASES))
def test_distillation_resumes_exactly_with_the_replay_relabelled(tmp_path, drivers, teacher, case):
    args = [*ENV, "--algo", "distill", "--teacher", teacher, *CASES[case], *TINY, *COMMON, "--eval-every", "125",
            "--checkpoint-every", "100", "--log-every", "50"]
    ckpt = straight_and_split(tmp_path, drivers, args, k=125, n=250)
    assert ckpt["step"] == 250 and ckpt["episode_index"] == 2
    storage = drivers[-1].agent.storage
    labels = storage.action[1:126] if case == "pixels" else storage.action[:125]
    assert not torch.all(labels == 0)
    with np.load(sorted((tmp_path / "split" / "episodes").glob("ep_*.npz"))[0]) as ep:
        assert ep["state"].shape == (126, 5)
        if case == "states-history":  # the student sees [previous, current] states, the teacher the current
            np.testing.assert_array_equal(ep["obs"][1:, 5:], ep["state"][1:])
            np.testing.assert_array_equal(ep["obs"][1:, :5], ep["state"][:-1])
    rows = (tmp_path / "split" / "metrics.csv").read_text().splitlines()
    assert "charts/student_share" in rows[0]


def test_history_of_state_observations():
    from visuomotor.envs import make_env

    env = make_env("dmc/cartpole-swingup", seed=0, history=3, state_info=True)
    assert env.observation_space.shape == (15,)
    obs, info = env.reset(seed=0)
    np.testing.assert_array_equal(obs, np.tile(info["state"], 3))
    seen = [info["state"]]
    for _ in range(4):
        obs, _, _, _, info = env.step(env.action_space.sample())
        seen.append(info["state"])
        np.testing.assert_array_equal(obs, np.concatenate([*([seen[0]] * 3), *seen][-3:]))
    from visuomotor.deploy.contract import env_contract

    contract = env_contract(env, "dmc/cartpole-swingup")["observation"]  # an export says so
    assert contract["history"] == 3 and contract["shape"] == [15] and "last 3 observations" in contract["order"]
    env.close()
    with pytest.raises(VisuomotorError, match="history"):
        make_env("dmc/cartpole-swingup", pixels=True, history=2)


def test_a_teacher_that_does_not_fit_is_refused_before_any_work(tmp_path, teacher):
    def refused(*args) -> str:
        proc = run_cli("train", *args, "--run-dir", tmp_path / "never", "--no-progress")
        assert proc.returncode == 2, proc.stderr
        assert not (tmp_path / "never").exists()
        line = proc.stderr.strip().splitlines()[-1]
        assert "Traceback" not in proc.stderr
        return line

    assert "pass --teacher RUN" in refused(*ENV, "--algo", "distill", "--pixels")
    assert "not --algo sac" in refused(*ENV, "--algo", "sac", "--teacher", teacher)
    assert "was trained on dmc/cartpole-swingup; this run's env is dmc/cartpole-balance" in refused(
        "--env", "dmc/cartpole-balance", "--action-repeat", "8", "--algo", "distill", "--teacher", teacher)
    assert "action repeat 8" in refused("--env", "dmc/cartpole-swingup", "--action-repeat", "2", "--algo", "distill",
                                        "--teacher", teacher)
    assert "not a run directory" in refused(*ENV, "--algo", "distill", "--teacher", tmp_path)
    pixel_teacher = tmp_path / "drq"
    (pixel_teacher / "checkpoints").mkdir(parents=True)
    (pixel_teacher / "config.yaml").write_text("algo: drqv2\nenv: dmc/cartpole-swingup\naction_repeat: 8\n")
    assert "acts from pixels" in refused(*ENV, "--algo", "distill", "--teacher", pixel_teacher)
    assert "--prior-data" in refused(*ENV, "--algo", "distill", "--teacher", teacher, "--prior-data", teacher)
    assert "leaves [0, 1]" in refused(*ENV, "--algo", "distill", "--teacher", teacher, "--distill.student-share", "1.5")

    from visuomotor.train.build import load_teacher

    box = lambda *shape: gym.spaces.Box(-1.0, 1.0, shape, np.float32)  # noqa: E731
    with pytest.raises(VisuomotorError, match=r"actions \(1,\); this run's env shows states \(5,\) and takes actions \(2,\)"):
        load_teacher(teacher, EnvSpec(box(5), box(2), state_space=box(5)), "best", "cpu")


def test_random_overlay_blends_the_chosen_share_with_images_of_their_own_stream():
    from visuomotor.algos.bc import overlay_bank
    from visuomotor.envs.distract import N_BACKGROUNDS, procedural_texture
    from visuomotor.nets.conv import random_overlay

    bank = overlay_bank(12, 10, "cpu")
    assert bank.shape == (256, 3, 12, 10) and bank.dtype == torch.uint8
    for split in ("train", "eval"):  # never a background an agent trains or is evaluated on
        for i in range(N_BACKGROUNDS["hard"]):
            img = torch.as_tensor(procedural_texture(split, i, 12, 10)).permute(2, 0, 1)
            assert not (bank == img).all(dim=(1, 2, 3)).any()
    x = torch.full((400, 9, 12, 10), 100.0)
    g = torch.Generator().manual_seed(0)
    out = random_overlay(x, bank, 0.5, g)
    changed = (out != x).flatten(1).any(1)
    assert 150 < int(changed.sum()) < 250  # about half the batch
    g = torch.Generator().manual_seed(0)
    pick = torch.randint(0, 256, (400,), generator=g)
    i = int(torch.nonzero(changed)[0])
    expected = 0.5 * 100.0 + 0.5 * bank[pick[i]].float().repeat(3, 1, 1)  # one image for every frame
    torch.testing.assert_close(out[i], expected)
    torch.testing.assert_close(out[~changed], x[~changed])
