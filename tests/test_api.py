"""The Python API as the README documents it."""

import numpy as np

from visuomotor import SAC, SACConfig, TrainConfig, evaluate, load_agent, make_env, train


def test_train_load_act_evaluate(tmp_path):
    run = train(TrainConfig(env="dmc/cartpole-swingup", steps=400, run_dir=tmp_path / "r", eval_every=400,
                            eval_episodes=1, video=False, threads=1, progress=False, action_repeat=4,
                            sac=SACConfig(hidden=(16, 16), batch_size=16, learning_starts=100)))
    assert (run / "checkpoints" / "latest.pt").is_file()
    agent, cfg, step = load_agent(run)
    assert isinstance(agent, SAC) and cfg.action_repeat == 4 and step == 400
    env = make_env(cfg.env, seed=0, action_repeat=cfg.action_repeat)
    obs, _ = env.reset(seed=0)
    a = agent.act(obs, explore=False)
    assert a.shape == env.action_space.shape and np.all(np.abs(a) <= 1)
    batch_actions = agent.act(np.stack([obs, obs]), explore=True)
    assert batch_actions.shape == (2, *env.action_space.shape)
    res = evaluate(agent, env, episodes=2, seed=3)
    assert len(res.returns) == 2 and res.lengths == [250, 250]
    best, _, _ = load_agent(run, "best")
    assert isinstance(best, SAC)
