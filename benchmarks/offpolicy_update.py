"""Time one update of the off-policy learners at their default sizes: SAC with mlp, simba and simbav2
networks (batch 256), FastTD3 and FastSAC with their cpu preset (batch 1,024; FastSAC's also with the
authors' networks), in float32 and bf16.

    python benchmarks/offpolicy_update.py [--obs-dim 24 --act-dim 6 --threads 1 --rounds 5]

The variants run interleaved in rounds inside one process (ratios stay comparable on a noisy machine);
each round times 5 updates after one untimed; the median over rounds is reported, with the update's
cost per transition of its batch and the updates per second one thread sustains. The bf16 variants run
only where the CPU does bf16 natively (AVX512-BF16 or AMX; elsewhere its matmuls are emulated, ~45x
slower), unless ``--emulated-bf16``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import gymnasium as gym
import numpy as np
import torch

from visuomotor.algos.fastsac import FastSAC, FastSACConfig
from visuomotor.algos.fasttd3 import FastTD3, FastTD3Config
from visuomotor.algos.sac import SAC, SACConfig
from visuomotor.buffers.replay import Batch
from visuomotor.nets import hardware


def agents(obs_dim: int, act_dim: int, dtypes=(False, True)):
    obs = gym.spaces.Box(-np.inf, np.inf, (obs_dim,), np.float32)
    act = gym.spaces.Box(-1.0, 1.0, (act_dim,), np.float32)
    out = {}
    for bf16 in dtypes:
        tag = "bf16" if bf16 else "fp32"
        for net in ("mlp", "simba", "simbav2"):
            out[f"sac {net} {tag}"] = (SAC(obs, act, SACConfig(net=net, bf16=bf16, compile=False).resolved()), 256)
        out[f"fasttd3 cpu {tag}"] = (FastTD3(obs, act, FastTD3Config(bf16=bf16).resolved(), num_envs=16), 1024)
        out[f"fastsac cpu {tag}"] = (FastSAC(obs, act, FastSACConfig(bf16=bf16).resolved(), num_envs=16), 1024)
        authors = FastSACConfig(bf16=bf16, actor_hidden=(512, 256, 128), critic_hidden=(768, 384, 192)).resolved()
        out[f"fastsac cpu authors-nets {tag}"] = (FastSAC(obs, act, authors, num_envs=16), 1024)
        if hardware.cpp_compiler() is not None:  # the compiled losses (compile, on for long runs)
            td3, sac = FastTD3Config(bf16=bf16, compile=True).resolved(), FastSACConfig(bf16=bf16, compile=True).resolved()
            out[f"fasttd3 cpu {tag} compiled"] = (FastTD3(obs, act, td3, num_envs=16), 1024)
            out[f"fastsac cpu {tag} compiled"] = (FastSAC(obs, act, sac, num_envs=16), 1024)
    return out


def batch(n: int, obs_dim: int, act_dim: int) -> Batch:
    g = torch.Generator().manual_seed(0)
    return Batch(torch.randn(n, obs_dim, generator=g), torch.rand(n, act_dim, generator=g) * 2 - 1,
                 torch.rand(n, generator=g), torch.randn(n, obs_dim, generator=g), torch.zeros(n))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--obs-dim", type=int, default=24)  # walker-walk
    p.add_argument("--act-dim", type=int, default=6)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--emulated-bf16", action="store_true", help="time bf16 on a CPU without native bf16 too")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    native = hardware.native_bf16(torch.device("cpu"))
    if not native and not a.emulated_bf16:
        print("(this CPU has no native bf16: float32 only; --emulated-bf16 times bf16 too)")
    runs = agents(a.obs_dim, a.act_dim, (False, True) if native or a.emulated_bf16 else (False,))
    batches = {n: batch(n, a.obs_dim, a.act_dim) for n in (256, 1024)}
    times: dict[str, list[float]] = {k: [] for k in runs}
    for agent, n in runs.values():
        agent.update(batches[n])
    for _ in range(a.rounds):
        for name, (agent, n) in runs.items():
            t = time.perf_counter()
            for _ in range(5):
                agent.update(batches[n])
            times[name].append((time.perf_counter() - t) / 5)
    print(f"| learner | batch | ms per update | us per transition | updates/s |  (threads {a.threads})")
    print("|---|---|---|---|---|")
    for name, (_, n) in runs.items():
        med = statistics.median(times[name])
        print(f"| {name} | {n} | {1000 * med:.1f} | {1e6 * med / n:.0f} | {1 / med:.1f} |")


if __name__ == "__main__":
    main()
