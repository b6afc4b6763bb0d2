"""MuJoCo Playground backend (optional extra): batched JAX envs handed to torch through DLPack."""

import numpy as np
import pytest
import torch

import visuomotor  # noqa: F401  (MUJOCO_GL first)

from tests.conftest import require  # noqa: E402

require("mujoco_playground", "the playground extra (MuJoCo Playground)")

from tests.conftest import run_cli  # noqa: E402
from visuomotor.envs import make_env  # noqa: E402
from visuomotor.envs.playground_jax import PlaygroundVecEnv  # noqa: E402
from visuomotor.errors import VisuomotorError  # noqa: E402


@pytest.fixture(scope="module")
def venv():
    return PlaygroundVecEnv("playground/CartpoleBalance", 4, seed=0)


def test_batch_comes_as_torch_tensors_without_copies(venv):
    obs, info = venv.reset(seed=0)
    assert isinstance(obs, torch.Tensor) and obs.shape == (4, 5) and obs.dtype == torch.float32
    assert obs.data_ptr() == venv.state.obs.unsafe_buffer_pointer()  # the JAX buffer itself
    obs2, reward, term, trunc, info = venv.step(torch.zeros(4, 1))
    assert reward.shape == (4,) and term.dtype == torch.bool and not (term | trunc).any()
    assert not torch.equal(obs, obs2)


def test_time_limit_truncates_with_same_step_autoreset(venv):
    import jax.numpy as jnp

    venv.reset(seed=1)
    venv.t = jnp.full(4, venv.episode_length - 1, jnp.int32)  # one step before the limit
    before = venv.state.obs
    obs, _, term, trunc, info = venv.step(torch.zeros(4, 1))
    assert trunc.all() and not term.any() and info["_final_obs"].all()
    # the final observation continues the old episode; obs is already a fresh start
    assert not torch.equal(info["final_obs"], obs)
    assert torch.allclose(info["final_obs"][:, 0], torch.from_dlpack(before)[:, 0], atol=0.1)
    assert (np.asarray(venv.t) == 0).all()


def test_single_env_for_evaluation_and_bad_ids():
    env = make_env("playground/CartpoleBalance", seed=0, render_mode="rgb_array")
    obs, _ = env.reset(seed=3)
    assert obs.shape == (5,) and obs.dtype == np.float32
    _, r, term, trunc, _ = env.step(np.zeros(1, np.float32))
    assert 0.0 <= r <= 1.0 and not term and not trunc
    assert env.render().shape == (240, 320, 3)
    env.close()
    with pytest.raises(VisuomotorError, match="closest: playground/CartpoleBalance"):
        make_env("playground/CartpoleBalanse")


def test_ppo_through_the_cli(tmp_path):
    run = tmp_path / "pg"
    run_cli("train", "--env", "playground/CartpoleBalance", "--algo", "ppo", "--num-envs", "8", "--steps", "192",
            "--eval-episodes", "1", "--no-video", "--run-dir", run, "--threads", "1", "--no-progress",
            "--ppo.hidden", "16", check=True)
    ck = torch.load(run / "checkpoints" / "latest.pt", weights_only=True)
    assert ck["step"] == 192 and ck["agent"]["model"]["obs_norm.count"].item() == 192


def test_off_policy_learner_on_a_playground_batch(tmp_path, drivers):
    """SAC on N Playground envs: the batch's torch tensors go straight into the replay, the real final
    observation where an episode ended (Playground's time limit truncates at the same step for all)."""
    from visuomotor.cli import main

    run = tmp_path / "sac"
    assert main(["train", "--env", "playground/CartpoleBalance", "--algo", "sac", "--num-envs", "4", "--steps", "48",
                 "--eval-every", "48", "--eval-episodes", "1", "--no-video", "--run-dir", str(run), "--threads", "1",
                 "--no-progress", "--sac.hidden", "16", "16", "--sac.batch-size", "16",
                 "--sac.learning-starts", "16"]) == 0
    replay = drivers[-1].agent.storage
    assert len(replay) == 48 and torch.isfinite(replay.next_obs[:48]).all()
    assert torch.load(run / "checkpoints" / "latest.pt", weights_only=True)["step"] == 48


def test_the_static_id_table_is_playgrounds_registry():
    """`visuomotor list` and the id checks read envs/playground_ids.py's table instead of importing Playground."""
    from mujoco_playground import registry

    from visuomotor.envs.playground_ids import ENV_NAMES

    assert ENV_NAMES == tuple(registry.ALL_ENVS)
