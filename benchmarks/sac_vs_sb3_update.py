"""Does one of our SAC updates compute what SB3's computes? Same weights, batches and noise.

    python benchmarks/sac_vs_sb3_update.py [--env dmc/cartpole-swingup --updates 300 --dtype float64
                                            --grad manual|autograd]

SB3's SAC and ours start from the same weights (SB3's, copied into ours), get the same batches
(SB3's replay sampling is replaced by a fixed sequence) and the same Gaussian noise (the policy's
reparameterization noise and the target's next-action noise are fed to both), and take ``--updates``
gradient steps each. Printed: the largest absolute difference of every parameter group and of log
alpha after 1, 10 and every 50 updates. In float64 (the default) differences at rounding level that
do not grow mean the updates are the same algorithm; a bug shows as a difference of the order of the
step itself. In float32, Adam amplifies rounding within a few hundred updates.
"""

from __future__ import annotations

import argparse
import contextlib

import torch

from visuomotor import make_env
from visuomotor.algos import sac as sac_module
from visuomotor.algos import sac_fast
from visuomotor.algos.sac import SAC, SACConfig
from visuomotor.buffers.replay import Batch
from visuomotor.nets.distributions import squashed_gaussian_log_prob


def copy_sb3_weights(model, ours: SAC) -> None:
    """SB3's actor (latent_pi, mu, log_std) and twin critics (qf0, qf1) into our actor and ensemble."""
    a = model.actor
    lin = [m for m in a.latent_pi if isinstance(m, torch.nn.Linear)]
    ours_lin = [m for m in ours.actor.net if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        for src, dst in zip(lin, ours_lin[:-1]):
            dst.weight.copy_(src.weight)
            dst.bias.copy_(src.bias)
        ours_lin[-1].weight.copy_(torch.cat([a.mu.weight, a.log_std.weight]))
        ours_lin[-1].bias.copy_(torch.cat([a.mu.bias, a.log_std.bias]))
        for net, ens in ((model.critic, ours.critic), (model.critic_target, ours.critic_target)):
            for i, q in enumerate(net.q_networks):
                for src, dst in zip([m for m in q if isinstance(m, torch.nn.Linear)], ens.layers):
                    dst.weight[i].copy_(src.weight.t())
                    dst.bias[i, 0].copy_(src.bias)
        ours.log_alpha.copy_(model.log_ent_coef.detach()[0])


def max_diffs(model, ours: SAC) -> dict[str, float]:
    probe = SAC(ours.observation_space, ours.action_space, ours.cfg)
    probe.actor.double(), probe.critic.double(), probe.critic_target.double()
    probe.log_alpha.data = probe.log_alpha.data.double()
    copy_sb3_weights(model, probe)
    out = {}
    for name in ("actor", "critic", "critic_target"):
        mine = dict(getattr(ours, name).named_parameters())
        d = {k: float((mine[k] - p).detach().abs().max()) for k, p in getattr(probe, name).named_parameters()}
        worst = max(d, key=d.get)
        out[name] = d[worst]
        out[name + "@"] = worst
    out["log_alpha"] = float((ours.log_alpha - probe.log_alpha).detach().abs())
    return out


@contextlib.contextmanager
def _patched(targets: list[tuple[object, str, object]]):
    """Set each (owner, attribute, value) for the duration; restore them after."""
    saved = [(o, a, getattr(o, a)) for o, a, _ in targets]
    try:
        for o, a, v in targets:
            setattr(o, a, v)
        yield
    finally:
        for o, a, v in saved:
            setattr(o, a, v)


def compare(env_id: str = "dmc/cartpole-swingup", updates: int = 200, batch: int = 256,
            dtype: torch.dtype = torch.float64, manual_grad: bool = True,
            report: set[int] | None = None) -> list[tuple[int, dict]]:
    """(k, max differences) after the updates in ``report`` (default: the last)."""
    from stable_baselines3 import SAC as SB3SAC
    import stable_baselines3.common.policies as sb3_policies
    from stable_baselines3.common.logger import configure
    from stable_baselines3.common.type_aliases import ReplayBufferSamples

    torch.manual_seed(0)
    env = make_env(env_id, seed=0)
    model = SB3SAC("MlpPolicy", env, learning_rate=3e-4, batch_size=batch, tau=0.005, gamma=0.99,
                   ent_coef="auto", policy_kwargs={"net_arch": [256, 256]}, device="cpu", seed=0)
    model.set_logger(configure(None, []))
    ours = SAC(env.observation_space, env.action_space,  # SB3's log(1 - tanh^2 + 1e-6)
               SACConfig(bf16=False, log_prob_epsilon=1e-6, manual_grad=manual_grad).resolved())
    copy_sb3_weights(model, ours)
    patches: list[tuple[object, str, object]] = []
    if dtype == torch.float64:  # both libraries in double precision, ours without its float32 hidden-layer cast
        model.policy.double()
        model.log_ent_coef.data = model.log_ent_coef.data.double()
        for m in (ours.actor, ours.critic, ours.critic_target):
            m.double()
        ours.log_alpha.data = ours.log_alpha.data.double()
        patches += [(sb3_policies, "preprocess_obs", lambda obs, space, normalize_images=True: obs),  # its obs.float()
                    (sac_fast, "hidden_cast", lambda params, dt: list(params))]

    obs_dim, act_dim, b = env.observation_space.shape[0], env.action_space.shape[0], batch
    gen = torch.Generator().manual_seed(1)
    steps = []
    for _ in range(updates):
        o, o2 = torch.randn(b, obs_dim, generator=gen), torch.randn(b, obs_dim, generator=gen)
        act = torch.rand(b, act_dim, generator=gen) * 2 - 1
        r = torch.rand(b, generator=gen) * 2
        d = (torch.rand(b, generator=gen) < 0.05).float()
        noise = (torch.randn(b, act_dim, generator=gen), torch.randn(b, act_dim, generator=gen))  # policy, target
        steps.append([x.to(dtype) for x in (o, act, r, o2, d, *noise)])
    current: list[torch.Tensor] = []
    queue: list[torch.Tensor] = []  # SB3 draws the policy's noise first, then the target's

    def sb3_rsample(self, sample_shape=torch.Size()):
        return self.loc + self.scale * queue.pop(0)

    def ours_sample(mean, log_std, generator=None, epsilon=0.0):  # the policy loss's action (autograd path)
        u = mean + log_std.exp() * current[5]
        return torch.tanh(u), squashed_gaussian_log_prob(u, mean, log_std, current[5], epsilon)

    patches += [(torch.distributions.Normal, "rsample", sb3_rsample),
                (sac_module, "squashed_gaussian_sample", ours_sample),
                (ours, "target_draws", lambda n: (current[6], None)),  # the target's next-action noise
                (ours, "policy_noise_like", lambda like: current[5])]  # the policy loss's noise (manual path)
    report = report or {updates}
    rows = []
    with _patched(patches):
        assert all(v == 0.0 for v in max_diffs(model, ours).values() if isinstance(v, float))
        for k, step in enumerate(steps, start=1):
            current[:] = step
            o, act, r, o2, d, pol, tgt = step
            queue[:] = [pol, tgt]
            model.replay_buffer.sample = lambda *a, **kw: ReplayBufferSamples(o, act, o2, d[:, None], r[:, None])
            model.train(gradient_steps=1, batch_size=b)
            ours.update(Batch(o, act, r, o2, d))
            if k in report:
                rows.append((k, max_diffs(model, ours)))
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="dmc/cartpole-swingup")
    p.add_argument("--updates", type=int, default=300)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--dtype", choices=["float32", "float64"], default="float64",
                   help="float64 keeps rounding differences from being amplified by Adam within the run")
    p.add_argument("--grad", choices=["manual", "autograd"], default="manual", help="our update's gradient path")
    args = p.parse_args()
    report = {1, 10, *range(50, args.updates + 1, 50)}
    print(f"{args.env}, batch {args.batch}, {args.dtype}, our {args.grad} gradients; max |ours - SB3| after k updates")
    for k, diffs in compare(args.env, args.updates, args.batch, getattr(torch, args.dtype), args.grad == "manual",
                            report):
        print(f"  k={k:4d}  " + "  ".join(f"{n} {v:.2e}" if isinstance(v, float) else f"({v})"
                                         for n, v in diffs.items()))


if __name__ == "__main__":
    main()
