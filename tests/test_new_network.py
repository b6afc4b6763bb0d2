"""Adding a network family is one class plus one registry line: this file defines one (tanh MLPs),
registers it, and trains SAC and FastTD3 with it through `visuomotor train --<algo>.net`, touching no
library file; the agents ask the family for their actor and critics."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import yaml
from torch import nn

import visuomotor
from visuomotor.cli import main
from visuomotor.nets.families import FAMILIES, NetFamily
from visuomotor.nets.mlp import mlp
from visuomotor.nets.simba import NetEnsemble

ENV = "tests.test_ppo:target_env"  # 8-step episodes


class TanhMLP(NetFamily):
    """Two tanh layers of 24 for every actor and critic, whatever the algorithm's own MLP is."""

    def actor(self, cfg, in_dim, heads, own):
        return mlp(in_dim, (24, 24), sum(heads), nn.Tanh)

    def critics(self, cfg, n, in_dim, out_dim, own):
        return NetEnsemble(n, lambda: mlp(in_dim, (24, 24), out_dim, nn.Tanh))


@pytest.fixture
def tanh_family(monkeypatch):
    monkeypatch.setitem(FAMILIES, "tanhmlp", TanhMLP())  # the one registry line


def _tanh_layers(module: nn.Module) -> list[int]:
    return [m.out_features for m in module.modules() if isinstance(m, nn.Linear)]


@pytest.mark.parametrize("algo,extra", [
    ("sac", ["--sac.batch-size", "16", "--sac.learning-starts", "32"]),
    ("fasttd3", ["--fasttd3.batch-size", "16", "--fasttd3.learning-starts", "32", "--fasttd3.num-atoms", "11",
                 "--fasttd3.buffer-size", "2000"]),
])
def test_a_new_network_family_trains_sac_and_fasttd3(tmp_path, tanh_family, algo, extra):
    run = tmp_path / algo
    args = ["train", "--env", ENV, "--algo", algo, f"--{algo}.net", "tanhmlp", "--steps", "96", "--eval-every", "48",
            "--checkpoint-every", "48", "--eval-episodes", "2", "--no-video", "--no-progress", "--threads", "1",
            "--run-dir", str(run), *extra]
    assert main(args) == 0
    assert yaml.safe_load((run / "config.yaml").read_text())[algo]["net"] == "tanhmlp"
    agent, cfg, step = visuomotor.load_agent(run)
    assert step == 96
    heads = 2 if algo == "sac" else 1  # SAC's Gaussian has a mean and a log-std head
    assert _tanh_layers(agent.actor) == [24, 24, heads * agent.act_dim]
    assert any(isinstance(m, nn.Tanh) for m in agent.actor.modules())
    critic_out = 1 if algo == "sac" else cfg.algo_config().num_atoms
    assert _tanh_layers(agent.critic) == [24, 24, critic_out] * agent.critic.n
    with open(run / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert np.isfinite(float(rows[-1]["losses/critic"]))  # it learned (updates ran through the family's nets)
    res = visuomotor.evaluate(agent, visuomotor.make_env(ENV, seed=3), 2, seed=3)
    assert np.isfinite(res.returns).all()


def test_an_unregistered_family_is_a_one_line_error(tmp_path, capsys):
    assert main(["train", "--env", ENV, "--algo", "sac", "--sac.net", "tanhmlp", "--run-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "net must be one of mlp, simba, simbav2, got 'tanhmlp'" in err
