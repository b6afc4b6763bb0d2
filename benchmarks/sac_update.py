"""Time one SAC update next to the bare matrix multiplies it needs (the machine's floor).

    python benchmarks/sac_update.py [--obs-dim 17 --act-dim 6 --batch 256 --threads 2 --rounds 7]

Variants (fp32 or bf16 hidden layers; hand-derived gradients eager, autograd, or compiled by
torch.compile) run interleaved in rounds inside one process, so the ratios are comparable even on a
noisy machine; the median over rounds is reported.
"""

from __future__ import annotations

import argparse
import statistics
import time

import gymnasium as gym
import numpy as np
import torch

from visuomotor._malloc import tune_malloc
from visuomotor.algos.sac import SAC, SACConfig
from visuomotor.buffers.replay import ReplayBuffer


def gemm_shapes(obs_dim: int, act_dim: int, hidden: tuple[int, ...], batch: int, n_critics: int = 2):
    """(count, b, m, k, n) of every GEMM in one update: forward and backward, actor and critics."""
    shapes = []
    cdims = [obs_dim + act_dim, *hidden, 1]
    adims = [obs_dim, *hidden, 2 * act_dim]

    def fwd(dims, n):
        return [(n, batch, a, b) for a, b in zip(dims[:-1], dims[1:])]

    def grad_w(dims, n):  # dW = x^T dy
        return [(n, a, batch, b) for a, b in zip(dims[:-1], dims[1:])]

    def grad_x(dims, n, first: bool):  # dx = dy W^T, skipped for the first layer when the input needs none
        layers = list(zip(dims[:-1], dims[1:]))
        return [(n, batch, b, a) for i, (a, b) in enumerate(layers) if first or i > 0]

    shapes += fwd(cdims, n_critics) + grad_w(cdims, n_critics) + grad_x(cdims, n_critics, False)  # J_Q
    shapes += fwd(cdims, n_critics)  # target critics on s'
    shapes += fwd(cdims, n_critics) + grad_x(cdims, n_critics, True)  # policy loss through the critics
    shapes += fwd(adims, 1)  # policy on s' (target)
    shapes += fwd(adims, 1) + grad_w(adims, 1) + grad_x(adims, 1, False)  # policy on s
    return shapes


def time_gemms(shapes, dtype, reps: int) -> float:
    mats = [(torch.randn(n, m, k, dtype=dtype), torch.randn(n, k, p, dtype=dtype)) for n, m, k, p in shapes]
    for a, b in mats:
        torch.bmm(a, b)
    t = time.perf_counter()
    for _ in range(reps):
        for a, b in mats:
            torch.bmm(a, b)
    return (time.perf_counter() - t) / reps


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--obs-dim", type=int, default=17)
    p.add_argument("--act-dim", type=int, default=6)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--updates", type=int, default=100)
    p.add_argument("--no-compile", action="store_true", help="leave out the compiled update (needs a C++ compiler)")
    args = p.parse_args()
    print(f"glibc malloc thresholds raised as in the training loop: {tune_malloc()}")
    torch.set_num_threads(args.threads)
    obs_space = gym.spaces.Box(-np.inf, np.inf, (args.obs_dim,), np.float32)
    act_space = gym.spaces.Box(-1, 1, (args.act_dim,), np.float32)
    rb = ReplayBuffer(20_000, args.obs_dim, args.act_dim)
    n = 20_000
    rb.add_many(np.random.randn(n, args.obs_dim), np.random.uniform(-1, 1, (n, args.act_dim)), np.random.randn(n),
                np.random.randn(n, args.obs_dim), np.random.rand(n) < 0.01)
    # hand-derived gradients eager (the default for short runs), autograd, and compiled (--sac.compile,
    # the default for CPU runs of 20k+ updates; compiled here before the timed rounds)
    kinds = {"": dict(manual_grad=True, compile=False), " autograd": dict(manual_grad=False, compile=False),
             " compiled": dict(manual_grad=True, compile=True)}
    if args.no_compile:
        del kinds[" compiled"]
    agents = {f"{prec}{kind}": SAC(obs_space, act_space, SACConfig(bf16=prec == "bf16", **kw).resolved())
              for kind, kw in kinds.items() for prec in ("fp32", "bf16")}
    shapes = gemm_shapes(args.obs_dim, args.act_dim, (256, 256), args.batch)
    times: dict[str, list[float]] = {k: [] for k in [*agents, "gemm fp32", "gemm bf16"]}
    for agent in agents.values():
        for _ in range(20):
            agent.update(rb.sample(args.batch))
    for _ in range(args.rounds):
        for name, agent in agents.items():
            t = time.perf_counter()
            for _ in range(args.updates):
                agent.update(rb.sample(args.batch))
            times[name].append((time.perf_counter() - t) / args.updates)
        times["gemm fp32"].append(time_gemms(shapes, torch.float32, args.updates))
        times["gemm bf16"].append(time_gemms(shapes, torch.bfloat16, args.updates))
    med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    flops = sum(2 * n * m * k * q for n, m, k, q in shapes)
    print(f"SAC update, obs {args.obs_dim}, act {args.act_dim}, batch {args.batch}, 2x256, "
          f"{args.threads} threads; {len(shapes)} GEMMs, {flops / 1e9:.2f} GFLOP per update")
    for k, v in med.items():
        print(f"  {k:<14} {v:7.2f} ms" + (f"   ({flops / v / 1e6:.0f} GFLOP/s)" if k.startswith("gemm") else ""))
    for v in kinds:
        print(f"  update{v} / bare GEMMs: fp32 {med['fp32' + v] / med['gemm fp32']:.2f}x, "
              f"bf16 {med['bf16' + v] / med['gemm bf16']:.2f}x")


if __name__ == "__main__":
    main()
