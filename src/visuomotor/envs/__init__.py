"""Environments: ids, the dm_control adapter and wrappers, all behind the gymnasium API."""

from visuomotor.envs.registry import list_env_ids, make_env, validate_env_id

__all__ = ["list_env_ids", "make_env", "validate_env_id"]
