"""Distracting environments: same seed -> same draws, disjoint splits, offsets within the level's
scale, the model restored on close, dynamic vs static changes within an episode."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from visuomotor.envs import make_env
from visuomotor.envs.distract import LEVELS, N_BACKGROUNDS, DistractConfig, Distraction, procedural_texture
from visuomotor.envs.wrappers import find_wrapper
from visuomotor.errors import VisuomotorError

ENV = "dmc/cartpole-swingup"


def _wrapper(env) -> Distraction:
    return find_wrapper(env, Distraction)


def _frames(env, seeds, steps=3):
    out = []
    for s in seeds:
        obs, _ = env.reset(seed=s)
        for _ in range(steps):
            obs, *_ = env.step(np.zeros(env.action_space.shape, np.float32))
        out.append(obs.copy())
    return out


def test_the_same_seed_gives_the_same_distractions_and_frames():
    a = make_env(ENV, pixels=True, pixel_size=32, distract="medium", seed=0)
    b = make_env(ENV, pixels=True, pixel_size=32, distract="medium", seed=0)
    fa, fb = _frames(a, [3, 4]), _frames(b, [3, 4])
    for x, y in zip(fa, fb):
        np.testing.assert_array_equal(x, y)
    da, db = _wrapper(a).draws, _wrapper(b).draws
    assert da["background"] == db["background"] and da["yaw"] == db["yaw"]
    np.testing.assert_array_equal(da["mat_delta"], db["mat_delta"])
    other = _frames(a, [5])[0]
    assert not np.array_equal(other, fa[1])  # another episode seed: other draws
    a.close()
    b.close()


def test_train_and_eval_splits_are_disjoint():
    for level, n in N_BACKGROUNDS.items():
        train = {hashlib.sha1(procedural_texture("train", i, 24, 16).tobytes()).hexdigest() for i in range(n)}
        held = {hashlib.sha1(procedural_texture("eval", i, 24, 16).tobytes()).hexdigest() for i in range(n)}
        assert len(train) == n and len(held) == n and not train & held, level
    # and the envs draw from their own split: the same episode seed, other colours and background
    tr = make_env(ENV, pixels=True, pixel_size=32, distract="hard", distract_split="train", seed=0)
    ev = make_env(ENV, pixels=True, pixel_size=32, distract="hard", distract_split="eval", seed=0)
    tr.reset(seed=1)
    ev.reset(seed=1)
    assert not np.array_equal(_wrapper(tr).draws["mat_delta"], _wrapper(ev).draws["mat_delta"])
    assert _wrapper(tr).cfg.split == "train" and _wrapper(ev).cfg.split == "eval"


@pytest.mark.parametrize("level", list(LEVELS))
def test_colour_and_camera_offsets_stay_within_the_levels_scale(level):
    s = LEVELS[level]
    env = make_env(ENV, pixels=True, pixel_size=32, distract=level, seed=0,
                   distract_cfg=DistractConfig(dynamic=True))
    w = _wrapper(env)
    m, o = w.model, w._orig
    cam = w.camera_id
    for ep in range(4):
        env.reset(seed=ep)
        for _ in range(30):
            env.step(np.zeros(1, np.float32))
            delta = m.mat_rgba[:, :3] - o["mat_rgba"][:, :3]
            assert np.all(np.abs(delta) <= s + 1e-6)
            assert abs(m.cam_fovy[cam] / o["cam_fovy"][cam] - 1) <= s + 1e-6
            for k in ("yaw", "pitch", "roll"):
                assert abs(w.draws[k]) <= s * np.pi / 2 + 1e-9
            np.testing.assert_allclose(np.linalg.norm(m.cam_quat[cam]), 1.0, atol=1e-9)
        assert np.any(np.abs(m.mat_rgba[:, :3] - o["mat_rgba"][:, :3]) > s / 20)  # (they do move)
    env.close()


def test_close_restores_the_model():
    env = make_env(ENV, pixels=True, pixel_size=32, distract="hard", seed=0,
                   distract_cfg=DistractConfig(floor=True))
    w = _wrapper(env)
    m = w.model
    before = {k: v.copy() for k, v in w._orig.items()}
    env.reset(seed=0)
    env.step(np.zeros(1, np.float32))
    assert not np.array_equal(m.tex_data, before["tex_data"]) and not np.array_equal(m.mat_rgba, before["mat_rgba"])
    assert not np.array_equal(m.cam_quat, before["cam_quat"])
    env.close()
    for k, v in before.items():
        np.testing.assert_array_equal(getattr(m, k), v, err_msg=k)


def test_a_dynamic_distraction_changes_the_frame_within_an_episode_and_a_static_one_does_not():
    for dynamic in (False, True):
        env = make_env(ENV, pixels=True, pixel_size=48, distract="medium", seed=0,
                       distract_cfg=DistractConfig(dynamic=dynamic))
        w = _wrapper(env)
        env.reset(seed=2)
        base = env.unwrapped
        render = lambda: base.render_pixels(48, 48, w.camera_id)  # noqa: E731
        first = render()
        w.env.step = lambda action: (None, 0.0, False, False, {})  # the physics stands still
        for _ in range(3):
            w.step(np.zeros(1, np.float32))
        assert np.array_equal(first, render()) != dynamic, dynamic
        env.close()


def test_bad_distraction_settings_are_one_line_errors():
    with pytest.raises(VisuomotorError, match="--distract must be off, easy, medium or hard, got 'extreme'"):
        make_env(ENV, pixels=True, distract="extreme")
    with pytest.raises(VisuomotorError, match="needs pixel observations"):
        make_env(ENV, distract="easy")
    with pytest.raises(VisuomotorError, match="is not a folder"):
        make_env(ENV, pixels=True, distract="easy", distract_cfg=DistractConfig(backgrounds="/nonexistent"))


def test_a_folder_of_images_splits_by_file(tmp_path):
    import imageio.v2 as imageio

    rng = np.random.default_rng(0)
    for i in range(4):
        imageio.imwrite(tmp_path / f"bg{i}.png", rng.integers(0, 256, (20, 30, 3), dtype=np.uint8))
    train = make_env(ENV, pixels=True, pixel_size=32, distract="easy", seed=0,
                     distract_cfg=DistractConfig(backgrounds=tmp_path))
    held = make_env(ENV, pixels=True, pixel_size=32, distract="easy", seed=0, distract_split="eval",
                    distract_cfg=DistractConfig(backgrounds=tmp_path))
    assert [p.name for p in _wrapper(train)._files] == ["bg0.png", "bg2.png"]
    assert [p.name for p in _wrapper(held)._files] == ["bg1.png", "bg3.png"]
    train.reset(seed=0)
    w = _wrapper(train)
    tex = w._skybox
    adr = int(w.model.tex_adr[tex])
    h, wd = int(w.model.tex_height[tex]), int(w.model.tex_width[tex])
    shown = w.model.tex_data[adr:adr + h * wd * 3].reshape(h, wd, 3)
    assert any(np.array_equal(shown, frames[0]) for frames in w._cache.values())


def test_gymnasium_pixel_envs_get_colours_and_camera():
    plain = make_env("gym/HalfCheetah-v5", pixels=True, pixel_size=32, seed=0)
    env = make_env("gym/HalfCheetah-v5", pixels=True, pixel_size=32, seed=0, distract="hard")
    w = _wrapper(env)
    assert not w.background  # (no skybox swap on gymnasium envs)
    a, _ = plain.reset(seed=1)
    b, _ = env.reset(seed=1)
    assert not np.array_equal(a, b)
    cam = env.unwrapped.mujoco_renderer._get_viewer("rgb_array").cam
    az, el, dist = w._free_orig
    assert abs(cam.azimuth - az) <= 0.3 * 90 + 1e-6 and cam.distance != dist
    env.close()
    assert (cam.azimuth, cam.elevation, cam.distance) == (az, el, dist)
    plain.close()


@pytest.mark.slow
def test_a_distracted_pixel_run_resumes_exactly_and_records_its_distractions(tmp_path, drivers):
    import yaml

    from tests.test_resume import COMMON, TINY_PIXELS, straight_and_split

    tiny = [f"--drqv2.{k}" for k in ("learning-starts", "batch-size", "hidden-dim", "feature-dim", "buffer-size")]
    args = [*TINY_PIXELS, "--algo", "drqv2", *[x for kv in zip(tiny, ["40", "8", "16", "8", "1000"]) for x in kv],
            *COMMON, "--distract", "medium", "--distract.dynamic", "--distract.evaluate", "eval"]
    ckpt = straight_and_split(tmp_path, drivers, args, k=125, n=250)
    assert ckpt["step"] == 250
    cfg = yaml.safe_load((tmp_path / "split" / "config.yaml").read_text())
    assert cfg["distract"] == "medium" and cfg["distract_opts"]["dynamic"] and cfg["distract_opts"]["evaluate"] == "eval"
    env = _wrapper(drivers[-1].env)
    assert env.level == "medium" and env.cfg.split == "train"
    assert _wrapper(drivers[-1].runner.eval_env).cfg.split == "eval"


def test_the_env_contract_records_the_distractions():
    from visuomotor.deploy.contract import compatible, env_contract

    plain = env_contract(make_env(ENV, pixels=True, pixel_size=32), ENV)
    distracted = env_contract(make_env(ENV, pixels=True, pixel_size=32, distract="hard", distract_split="eval"), ENV)
    assert "distractions" not in plain["observation"]
    d = distracted["observation"]["distractions"]
    assert d["level"] == "hard" and d["scale"] == 0.3 and d["split"] == "eval" and d["dynamic"] is False
    assert compatible(plain, distracted) is None  # the same layout: a policy for one acts in the other
