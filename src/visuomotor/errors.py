"""Errors a user can fix. The CLI prints them as one line and exits non-zero.

``env_call`` turns what an env raises into one (environments are the user's code as often as ours)."""


class VisuomotorError(Exception):
    """Bad input or state: the message names the bad value and what is allowed."""


def env_call(env_id: str, step: int | str, fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` (an env's step or reset); an exception the env raises becomes a one-line
    error naming the env, the step and the exception (a user env's bug, a simulator's instability)."""
    try:
        return fn(*args, **kwargs)
    except (VisuomotorError, KeyboardInterrupt):
        raise
    except Exception as e:  # noqa: BLE001 - whatever the env raised
        text = (str(e).strip().splitlines() or [""])[0][:200]
        raise VisuomotorError(f"env {env_id} raised {type(e).__name__} at step {step}: {text}; the last "
                              f"checkpoint is intact") from None
