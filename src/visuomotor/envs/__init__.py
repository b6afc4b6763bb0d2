"""Environments: a table of id prefixes, one backend module per simulator, wrappers, all behind the
gymnasium API."""

from visuomotor.envs.registry import BACKENDS, backend_of, list_env_ids, make_env, validate_env_id

__all__ = ["BACKENDS", "backend_of", "list_env_ids", "make_env", "validate_env_id"]
