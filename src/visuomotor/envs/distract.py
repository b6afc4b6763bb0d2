"""Distracting environments: what the camera sees changes, the task does not (after the Distracting
Control Suite, Stone et al. 2021), with procedural backgrounds instead of its DAVIS videos.

    make_env("dmc/walker-walk", pixels=True, distract="medium")                  # training split
    make_env("dmc/walker-walk", pixels=True, distract="hard", distract_split="eval")

Three kinds, each on or off (``DistractConfig``), at the Distracting Control Suite's scales s = 0.1 /
0.2 / 0.3 for easy / medium / hard:

- **background**: the skybox (and with ``floor`` the floor) shows a procedurally generated texture
  (smooth random colour fields with stripes), one of 4 / 8 / 60 per split (the Suite's number of
  videos per level), drawn per episode; or the images / videos of ``backgrounds`` (a folder). DMC
  tasks only: their skybox is rebuilt at ``SKYBOX_SIZE`` pixels per face (the floor's texture at
  ``FLOOR_SIZE``) so that a change costs a small texture upload.
- **colors**: every material's and uncoloured geom's RGB shifted by U(-s, s) per channel (clipped
  to [0, 1]), drawn per episode.
- **camera**: the pixel camera orbited about its parent frame's origin by a yaw and a pitch in
  [-s pi/2, s pi/2] (pitch kept above the floor's level by at most that), rolled about its view axis by
  U(-s pi/2, s pi/2) and its field of view scaled by 1 + U(-s, s). A gymnasium env's free camera:
  azimuth and elevation offset by the yaw and pitch, distance scaled by 1 + U(-s, s) (no roll).

With ``dynamic`` they also change within an episode: the background scrolls (a video plays on) every
``TEXTURE_EVERY`` policy steps, the colours take a random walk (steps of N(0, (0.03 s)^2), kept within +-s of the original) and the
camera drifts (a velocity that changes by up to s pi/500 per step, at most s pi/100, kept in range).

Train and evaluation splits (``split``) draw from disjoint streams: the procedural backgrounds of
one split are never those of the other (a user folder's files are split in alternation), and the
colour and camera draws use their own seeds. Every draw is seeded by the episode's reset seed, so the
same seed gives the same episode. ``close()`` restores the model's original textures, colours and
camera. Gymnasium MuJoCo pixel envs get colours and camera (no background).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import gymnasium as gym
import numpy as np

from visuomotor.errors import VisuomotorError

LEVELS = {"easy": 0.1, "medium": 0.2, "hard": 0.3}
"""The Distracting Control Suite's difficulty scales."""
N_BACKGROUNDS = {"easy": 4, "medium": 8, "hard": 60}
"""Procedural backgrounds per split and level (the Suite's number of DAVIS videos per level)."""
SPLIT_IDS = {"train": 0, "eval": 1, "augment": 2}  # (augment: random-overlay images, algos.bc)
SKYBOX_SIZE = 64
"""Pixels per skybox face of a DMC task with background distraction (dm_control's is 800)."""
FLOOR_SIZE = 128
"""Pixels of the floor texture of a DMC task with floor distraction (dm_control's is 300)."""
TEXTURE_EVERY = 4
"""Dynamic mode: the background (and floor) textures change every this many policy steps (a texture
upload costs ~3 ms on a software GL, more than the frame's render; colours and camera change every
step)."""
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".webm", ".gif")


@dataclass
class DistractConfig:
    """Which distractions ``--distract LEVEL`` turns on, and how (see ``visuomotor.envs.distract``)."""

    background: bool = True
    """Replace the skybox of DMC tasks by procedural textures (or --distract.backgrounds DIR)."""
    floor: bool = False
    """Replace the floor's texture too."""
    colors: bool = True
    """Shift the colours of every material and uncoloured geom."""
    camera: bool = True
    """Offset the pixel camera's pose and field of view."""
    dynamic: bool = False
    """Change within an episode too (the background scrolls or plays, colours random-walk, the camera
    drifts); otherwise drawn once per episode."""
    split: Literal["train", "eval"] = "train"
    """Which of two disjoint sets of backgrounds and draws: train, or eval (held out)."""
    backgrounds: Path | None = None
    """A folder of images or videos to use as backgrounds instead of the procedural ones."""
    evaluate: Literal["same", "train", "eval", "off"] = "same"
    """What the run's evaluations see: the training distractions (same), the train or the held-out eval
    split, or none (off)."""

    def validate(self, level: str) -> None:
        if level not in ("off", *LEVELS):
            raise VisuomotorError(f"--distract must be off, easy, medium or hard, got {level!r}")
        if self.split not in ("train", "eval"):
            raise VisuomotorError(f"--distract.split must be train or eval, got {self.split!r}")
        if self.evaluate not in ("same", "train", "eval", "off"):
            raise VisuomotorError(f"--distract.evaluate must be same, train, eval or off, got {self.evaluate!r}")
        if self.backgrounds is not None and level != "off":
            files = background_files(Path(self.backgrounds))
            if len(files) < 2:
                raise VisuomotorError(f"--distract.backgrounds {self.backgrounds}: needs at least 2 images or videos "
                                      f"({', '.join(IMAGE_SUFFIXES + VIDEO_SUFFIXES)}) for two splits, found "
                                      f"{len(files)}")


def background_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise VisuomotorError(f"--distract.backgrounds {folder} is not a folder")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES + VIDEO_SUFFIXES)


# ---- backgrounds --------------------------------------------------------------------------------

def procedural_texture(split: str, index: int, height: int, width: int) -> np.ndarray:
    """Background ``index`` of ``split``: uint8 [height, width, 3], a smooth random colour field (a sum
    of coloured Gaussian blobs) with a few oriented stripes; the same arguments give the same image."""
    rng = np.random.default_rng(np.random.SeedSequence([SPLIT_IDS[split], index, 0x5EED]))
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    y, x = y / max(height, width), x / max(height, width)
    img = np.broadcast_to(rng.uniform(0, 1, 3).astype(np.float32), (height, width, 3)).copy()
    for _ in range(int(rng.integers(6, 14))):
        cy, cx = rng.uniform(0, height / max(height, width)), rng.uniform(0, width / max(height, width))
        r = rng.uniform(0.03, 0.25)
        w = np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * r * r))[..., None]
        img = img * (1 - w) + w * rng.uniform(0, 1, 3).astype(np.float32)
    for _ in range(int(rng.integers(1, 4))):
        angle, freq = rng.uniform(0, np.pi), rng.uniform(8, 40)
        wave = 0.5 + 0.5 * np.sin(freq * (np.cos(angle) * x + np.sin(angle) * y) * 2 * np.pi + rng.uniform(0, 6.3))
        img = img * (1 - 0.35 * wave[..., None]) + 0.35 * wave[..., None] * rng.uniform(0, 1, 3).astype(np.float32)
    return np.clip(img * 255, 0, 255).astype(np.uint8)


def _load_frames(path: Path, height: int, width: int) -> list[np.ndarray]:
    """An image or a video's frames (up to 300), resized to [height, width, 3] uint8."""
    import imageio.v2 as imageio

    if path.suffix.lower() in IMAGE_SUFFIXES:
        raw = [imageio.imread(path)]
    else:
        raw = []
        with imageio.get_reader(path) as reader:
            for i, frame in enumerate(reader):
                if i >= 300:
                    break
                raw.append(frame)
    out = []
    for f in raw:
        f = np.asarray(f)
        f = np.repeat(f[..., None], 3, -1) if f.ndim == 2 else f[..., :3]
        ys = (np.arange(height) * f.shape[0] / height).astype(int)
        xs = (np.arange(width) * f.shape[1] / width).astype(int)
        out.append(np.ascontiguousarray(f[ys][:, xs]).astype(np.uint8))
    return out


def small_texture_assets(assets: dict, skybox: bool, floor: bool) -> dict:
    """dm_control's common assets with the skybox at ``SKYBOX_SIZE`` pixels per face and the floor at
    ``FLOOR_SIZE`` (whichever is asked for): a distraction then swaps a small texture."""
    out = dict(assets)
    for key, old, size, on in (("./common/skybox.xml", 'width="800" height="800"', SKYBOX_SIZE, skybox),
                               ("./common/materials.xml", 'width="300" height="300"', FLOOR_SIZE, floor)):
        if on and key in out:
            xml = out[key].decode() if isinstance(out[key], bytes) else out[key]
            out[key] = xml.replace(old, f'width="{size}" height="{size}"').encode()
    return out


# ---- the wrapper --------------------------------------------------------------------------------

def _quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    w1, x1, y1, z1 = a
    w2, x2, y2, z2 = b
    return np.array([w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2, w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
                     w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2, w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2])


def _axis_quat(axis: np.ndarray, angle: float) -> np.ndarray:
    axis = np.asarray(axis, np.float64) / np.linalg.norm(axis)
    return np.concatenate([[np.cos(angle / 2)], np.sin(angle / 2) * axis])


def _rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    return _quat_mul(_quat_mul(q, np.concatenate([[0.0], v])), q * np.array([1, -1, -1, -1]))[1:]


class Distraction(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Per-episode (and with ``dynamic`` per-step) distractions of a MuJoCo env's rendering; it sits
    below the pixel observation wrapper, which renders after it has applied its changes."""

    def __init__(self, env: gym.Env, level: str, cfg: DistractConfig | None = None, camera_id: int | None = None,
                 seed: int = 0):
        from visuomotor.envs.simulator import mujoco_handles

        cfg = cfg or DistractConfig()
        cfg.validate(level)
        if level not in LEVELS:
            raise VisuomotorError(f"a Distraction needs a level (easy, medium, hard), got {level!r}")
        gym.utils.RecordConstructorArgs.__init__(self, level=level, camera_id=camera_id, seed=seed)
        gym.Wrapper.__init__(self, env)
        self.level, self.cfg, self.scale = level, cfg, LEVELS[level]
        self.model, _ = mujoco_handles(env)
        if self.model is None:
            raise VisuomotorError(f"--distract needs a MuJoCo env (dm_control or gymnasium MuJoCo); "
                                  f"{type(env.unwrapped).__name__} has no MuJoCo model")
        base = env.unwrapped
        self._physics = getattr(base, "physics", None)  # dm_control: textures can be swapped
        self.background = cfg.background and self._physics is not None
        self.floor = cfg.floor and self._physics is not None
        if camera_id is None:
            camera_id = getattr(base, "camera_id", None)
        if camera_id is None:  # a gymnasium env renders from its own default camera (the free camera: -1)
            camera_id = getattr(getattr(base, "mujoco_renderer", None), "camera_id", None)
        self.camera_id = int(camera_id) if camera_id is not None and int(camera_id) >= 0 else None
        m = self.model
        self._orig = {"mat_rgba": m.mat_rgba.copy(), "geom_rgba": m.geom_rgba.copy(), "cam_pos": m.cam_pos.copy(),
                      "cam_quat": m.cam_quat.copy(), "cam_fovy": m.cam_fovy.copy(), "tex_data": m.tex_data.copy()}
        import mujoco

        self._skybox = next((i for i in range(m.ntex) if m.tex_type[i] == mujoco.mjtTexture.mjTEXTURE_SKYBOX), None)
        floor_mat = next((i for i in range(m.nmat) if mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_MATERIAL, i) == "grid"),
                         None)
        self._floor_tex = int(m.mat_texid[floor_mat].max()) if floor_mat is not None else None
        self._uncoloured = np.flatnonzero(m.geom_matid < 0)
        self._files = None
        if cfg.backgrounds is not None:
            files = background_files(Path(cfg.backgrounds))
            self._files = files[SPLIT_IDS[cfg.split]::2]  # alternate files per split: disjoint
        self._cache: dict = {}
        self.rng = self._episode_rng(seed)
        self.draws: dict = {}
        self._t = 0

    # ---- draws ----------------------------------------------------------------------------------
    def _episode_rng(self, seed: int) -> np.random.Generator:
        """The draws' generator for a seed, its own per split."""
        return np.random.default_rng(np.random.SeedSequence([seed, SPLIT_IDS[self.cfg.split], 0xD15]))

    def _texture_shape(self, tex: int) -> tuple[int, int]:
        return int(self.model.tex_height[tex]), int(self.model.tex_width[tex])

    def _background_frames(self, index: int, tex: int) -> list[np.ndarray]:
        key = (index, tex)
        if key not in self._cache:
            h, w = self._texture_shape(tex)
            if self._files is not None:
                self._cache[key] = _load_frames(self._files[index % len(self._files)], h, w)
            else:
                self._cache[key] = [procedural_texture(self.cfg.split, index + (1000 if tex == self._floor_tex else 0),
                                                       h, w)]
        return self._cache[key]

    def _draw_episode(self) -> None:
        s, rng = self.scale, self.rng
        n = len(self._files) if self._files is not None else N_BACKGROUNDS[self.level]
        d = {"background": int(rng.integers(n)), "floor": int(rng.integers(n)),
             "mat_delta": rng.uniform(-s, s, (self.model.nmat, 3)),
             "geom_delta": rng.uniform(-s, s, (len(self._uncoloured), 3)),
             "yaw": rng.uniform(-s, s) * np.pi / 2, "pitch": rng.uniform(-s, s) * np.pi / 2,
             "roll": rng.uniform(-s, s) * np.pi / 2, "fov": rng.uniform(-s, s),
             "velocity": np.zeros(3), "scroll": rng.uniform(1.0, 3.0) * rng.choice([-1, 1])}
        self.draws = d
        self._t = 0

    def _drift(self) -> None:
        """One step of the dynamic mode's changes."""
        s, rng, d = self.scale, self.rng, self.draws
        self._t += 1
        if self.cfg.colors:
            step = 0.03 * s
            d["mat_delta"] = np.clip(d["mat_delta"] + rng.normal(0, step, d["mat_delta"].shape), -s, s)
            d["geom_delta"] = np.clip(d["geom_delta"] + rng.normal(0, step, d["geom_delta"].shape), -s, s)
        if self.cfg.camera:
            vmax = s * np.pi / 100
            d["velocity"] = np.clip(d["velocity"] + rng.uniform(-1, 1, 3) * s * np.pi / 500, -vmax, vmax)
            bound = s * np.pi / 2
            for i, k in enumerate(("yaw", "pitch", "roll")):
                v = d[k] + d["velocity"][i]
                if abs(v) > bound:  # reflect at the range's edge
                    v = np.sign(v) * bound - (v - np.sign(v) * bound)
                    d["velocity"][i] = -d["velocity"][i]
                d[k] = float(np.clip(v, -bound, bound))

    # ---- applying them ----------------------------------------------------------------------------
    def _apply(self) -> None:
        m, o, d = self.model, self._orig, self.draws
        if self.cfg.colors:
            m.mat_rgba[:, :3] = np.clip(o["mat_rgba"][:, :3] + d["mat_delta"], 0, 1)
            if len(self._uncoloured):
                m.geom_rgba[self._uncoloured, :3] = np.clip(o["geom_rgba"][self._uncoloured, :3] + d["geom_delta"], 0, 1)
        if self.cfg.camera and self.camera_id is not None:
            c = self.camera_id
            q0, p0 = o["cam_quat"][c], o["cam_pos"][c]
            yaw = _axis_quat([0, 0, 1], d["yaw"])
            q = _quat_mul(yaw, q0)
            pitch = _axis_quat(_rotate(q, np.array([1.0, 0, 0])), d["pitch"])  # about the camera's own x axis
            q = _quat_mul(pitch, q)
            pos = _rotate(pitch, _rotate(yaw, p0))
            if p0[2] > 0:  # an orbit never takes the camera below its parent's origin level
                pos[2] = max(pos[2], 0.1 * p0[2])
            m.cam_pos[c] = pos
            m.cam_quat[c] = _quat_mul(q, _axis_quat([0, 0, 1], d["roll"]))
            m.cam_fovy[c] = o["cam_fovy"][c] * (1 + d["fov"])
        if self.cfg.camera and self.camera_id is None:
            self._free_camera(d)
        uploads = []
        if self.background and self._skybox is not None:
            uploads.append((self._skybox, d["background"]))
        if self.floor and self._floor_tex is not None:
            uploads.append((self._floor_tex, d["floor"]))
        if self.cfg.dynamic and self._t % TEXTURE_EVERY:
            uploads = []  # (between texture changes of the dynamic mode)
        for tex, index in uploads:
            frames = self._background_frames(index, tex)
            img = frames[(self._t // TEXTURE_EVERY if self.cfg.dynamic else 0) % len(frames)]
            if self.cfg.dynamic and len(frames) == 1:  # a still image scrolls
                img = np.roll(img, int(round(self._t * d["scroll"])), axis=1)
            self._set_texture(tex, img)

    def _free_camera(self, d: dict | None) -> None:
        """A gymnasium env's free camera (no model camera): azimuth and elevation offset by the yaw and
        pitch, distance scaled like the field of view (it has no roll); ``d`` None restores it."""
        renderer = getattr(self.env.unwrapped, "mujoco_renderer", None)
        if renderer is None:
            return
        try:  # gymnasium keeps its offscreen viewer private
            cam = renderer._get_viewer("rgb_array").cam  # noqa: SLF001
        except (AttributeError, TypeError):
            return
        if not hasattr(self, "_free_orig"):
            self._free_orig = (float(cam.azimuth), float(cam.elevation), float(cam.distance))
        az, el, dist = self._free_orig
        if d is None:
            cam.azimuth, cam.elevation, cam.distance = az, el, dist
            return
        cam.azimuth = az + np.degrees(d["yaw"])
        cam.elevation = float(np.clip(el + np.degrees(d["pitch"]), -89.0, 89.0))
        cam.distance = dist * (1 + d["fov"])

    def _set_texture(self, tex: int, img: np.ndarray) -> None:
        import mujoco

        m = self.model
        adr, n = int(m.tex_adr[tex]), int(m.tex_height[tex] * m.tex_width[tex] * m.tex_nchannel[tex])
        m.tex_data[adr:adr + n] = img[..., :m.tex_nchannel[tex]].reshape(-1)
        contexts = getattr(self._physics, "_contexts", None)  # (made at the first render; it uploads then)
        if contexts is not None:
            with contexts.gl.make_current() as ctx:
                ctx.call(mujoco.mjr_uploadTexture, m, contexts.mujoco.ptr, tex)

    # ---- gymnasium ----------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is not None:  # the episode's own seed: the same seed, the same distractions
            self.rng = self._episode_rng(seed)
        self._draw_episode()
        self._apply()
        return self.env.reset(seed=seed, options=options)

    def step(self, action):
        out = self.env.step(action)
        if self.cfg.dynamic:
            self._drift()
            self._apply()
        return out

    def restore(self) -> None:
        """The model's original textures, colours and camera."""
        m, o = self.model, self._orig
        for k in ("mat_rgba", "geom_rgba", "cam_pos", "cam_quat", "cam_fovy"):
            getattr(m, k)[:] = o[k]
        if hasattr(self, "_free_orig"):
            self._free_camera(None)
        for tex in {self._skybox, self._floor_tex} - {None}:
            adr = int(m.tex_adr[tex])
            n = int(m.tex_height[tex] * m.tex_width[tex] * m.tex_nchannel[tex])
            self._set_texture(tex, o["tex_data"][adr:adr + n].reshape(m.tex_height[tex], m.tex_width[tex], -1))

    def close(self):
        self.restore()
        return self.env.close()


def distract_settings(level: str, cfg: DistractConfig) -> dict:
    """What config.yaml records of a run's distractions."""
    return {"level": level, "scale": LEVELS.get(level), **dataclasses.asdict(cfg)}
