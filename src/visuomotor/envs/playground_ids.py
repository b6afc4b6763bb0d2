"""MuJoCo Playground's env ids as a static table, and their check: `visuomotor list` and the id checks
read it instead of importing Playground and JAX (seconds)."""

from __future__ import annotations

import importlib.util

from visuomotor.errors import VisuomotorError

PREFIX = "playground/"

ENV_NAMES: tuple[str, ...] = (
    "AcrobotSwingup", "AcrobotSwingupSparse", "BallInCup", "CartpoleBalance", "CartpoleBalanceSparse",
    "CartpoleSwingup", "CartpoleSwingupSparse", "CheetahRun", "FingerSpin", "FingerTurnEasy", "FingerTurnHard",
    "FishSwim", "HopperHop", "HopperStand", "HumanoidStand", "HumanoidWalk", "HumanoidRun", "PendulumSwingup",
    "PointMass", "ReacherEasy", "ReacherHard", "SwimmerSwimmer6", "WalkerRun", "WalkerStand", "WalkerWalk",
    "ApolloJoystickFlatTerrain", "BarkourJoystick", "BerkeleyHumanoidJoystickFlatTerrain",
    "BerkeleyHumanoidJoystickRoughTerrain", "G1JoystickFlatTerrain", "G1JoystickRoughTerrain",
    "Go1JoystickFlatTerrain", "Go1JoystickRoughTerrain", "Go1Getup", "Go1Handstand", "Go1Footstand",
    "H1InplaceGaitTracking", "H1JoystickGaitTracking", "Op3Joystick", "SpotFlatTerrainJoystick", "SpotGetup",
    "SpotJoystickGaitTracking", "T1JoystickFlatTerrain", "T1JoystickRoughTerrain", "AlohaHandOver",
    "AlohaSinglePegInsertion", "PandaPickCube", "PandaPickCubeOrientation", "PandaPickCubeCartesian",
    "PandaOpenCabinet", "PandaRobotiqPushCube", "LeapCubeReorient", "LeapCubeRotateZAxis",
    "AeroCubeRotateZAxis",
)
"""The names of ``mujoco_playground.registry.ALL_ENVS`` (tests/test_playground.py holds the two equal), so
that `visuomotor list` and the id checks need not import Playground and JAX (seconds)."""


def installed() -> bool:
    """Whether MuJoCo Playground is importable (looked up, not imported)."""
    return importlib.util.find_spec("mujoco_playground") is not None


def playground_env_ids() -> tuple[str, ...]:
    """Playground's env ids, when it is installed."""
    return tuple(f"{PREFIX}{n}" for n in ENV_NAMES) if installed() else ()


def validate_playground_id(env_id: str) -> None:
    if not installed():
        raise VisuomotorError(f"env id {env_id!r} needs MuJoCo Playground: pip install 'visuomotor[playground]'")
    if env_id not in playground_env_ids():
        import difflib

        close = difflib.get_close_matches(env_id, playground_env_ids(), n=5, cutoff=0.5)
        raise VisuomotorError(f"unknown env id {env_id!r}; closest: {', '.join(close) or 'see visuomotor list'}")
