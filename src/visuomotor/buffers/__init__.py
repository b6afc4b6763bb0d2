"""Storage: replay buffers and on-disk episodes."""

from visuomotor.buffers.episodes import EpisodeRecorder, list_episodes, load_episode, transitions, write_episode
from visuomotor.buffers.replay import Batch, ReplayBuffer

__all__ = ["Batch", "EpisodeRecorder", "ReplayBuffer", "list_episodes", "load_episode", "transitions", "write_episode"]
