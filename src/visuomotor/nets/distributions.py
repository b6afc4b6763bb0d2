"""The tanh-squashed Gaussian of SAC (Haarnoja et al. 2018, appendix C)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

_LOG_2PI = math.log(2.0 * math.pi)
_LOG_2 = math.log(2.0)


def squashed_gaussian_sample(
    mean: torch.Tensor, log_std: torch.Tensor, generator: torch.Generator | None = None, epsilon: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Reparameterized sample a = tanh(u), u ~ N(mean, std), and log pi(a) summed over the last dim.

    log pi(a) = log N(u) - sum log(1 - tanh(u)^2), with the stable form
    log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)). The noise comes from ``generator`` when
    given (else torch's global generator).
    """
    if generator is None:
        eps = torch.randn_like(mean)
    else:
        eps = torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
    return squashed_gaussian_from_noise(mean, log_std, eps, epsilon)


def squashed_gaussian_from_noise(
    mean: torch.Tensor, log_std: torch.Tensor, eps: torch.Tensor, epsilon: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """``squashed_gaussian_sample`` for given standard-normal noise ``eps``: a = tanh(mean + std eps)
    and log pi(a) (a compiled update takes its noise as an input)."""
    u = mean + log_std.exp() * eps
    log_prob = squashed_gaussian_log_prob(u, mean, log_std, eps, epsilon)
    return torch.tanh(u), log_prob


def squashed_gaussian_log_prob(
    u: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor, eps: torch.Tensor | None = None,
    epsilon: float = 0.0,
) -> torch.Tensor:
    """log pi(tanh(u)) for pre-squash samples u, summed over the last dim.

    ``epsilon`` > 0 uses log(1 - tanh(u)^2 + epsilon) instead of the exact term (SB3's and
    CleanRL's form with 1e-6: it caps the correction, and its push away from saturation, near
    |u| = 7)."""
    if eps is None:
        eps = (u - mean) / log_std.exp()
    gaussian = -0.5 * eps.pow(2) - log_std - 0.5 * _LOG_2PI
    if epsilon > 0.0:
        correction = torch.log(1.0 - torch.tanh(u).pow(2) + epsilon)
    else:
        correction = 2.0 * (_LOG_2 - u - F.softplus(-2.0 * u))
    return (gaussian - correction).sum(-1)
