"""The C51 projection of a Bellman target onto a categorical support, against hand computations."""

from __future__ import annotations

import pytest
import torch

from visuomotor.nets.distributional import cross_entropy, expected, project, support

Z = support(-1.0, 1.0, 3)  # atoms -1, 0, 1; dz = 1
P = torch.tensor([[0.2, 0.5, 0.3]])


def proj(reward: float, discount: float, probs=P) -> list[float]:
    return project(probs, torch.tensor([reward]), torch.tensor([discount]), Z)[0].tolist()


def test_mass_is_split_between_the_neighbouring_atoms():
    # R + 0.5 z = 0, 0.5, 1: b = 1 (all on atom 1), 1.5 (half on 1, half on 2), 2 (all on atom 2)
    assert proj(0.5, 0.5) == pytest.approx([0.0, 0.2 + 0.25, 0.25 + 0.3])
    # R + 0.9 z = -1.15, -0.25, 0.65 -> clipped -1 (atom 0); b = 0.75 (0.25 / 0.75); b = 1.65 (0.35 / 0.65)
    assert proj(-0.25, 0.9) == pytest.approx([0.2 + 0.5 * 0.25, 0.5 * 0.75 + 0.3 * 0.35, 0.3 * 0.65])


def test_targets_beyond_the_support_land_on_its_edge_atoms():
    assert proj(5.0, 0.99) == pytest.approx([0.0, 0.0, 1.0])
    assert proj(-5.0, 0.99) == pytest.approx([1.0, 0.0, 0.0])
    assert proj(0.0, 1.0) == pytest.approx(P[0].tolist())  # R = 0, d = 1: the distribution itself


def test_a_terminal_transition_puts_all_mass_at_the_reward():
    assert proj(0.25, 0.0) == pytest.approx([0.0, 0.75, 0.25])  # whatever the next state's probabilities
    assert proj(1.0, 0.0, torch.tensor([[1.0, 0.0, 0.0]])) == pytest.approx([0.0, 0.0, 1.0])
    assert proj(-1.0, 0.0) == pytest.approx([1.0, 0.0, 0.0])


def test_a_batch_is_projected_row_by_row_and_keeps_its_mass():
    torch.manual_seed(0)
    z = support(-10.0, 10.0, 51)
    probs = torch.softmax(torch.randn(64, 51), -1)
    reward, discount = torch.randn(64) * 3, torch.where(torch.rand(64) < 0.2, 0.0, 0.99 ** 3)
    m = project(probs, reward, discount, z)
    assert torch.allclose(m.sum(1), torch.ones(64), atol=1e-6)
    for i in (0, 17, 63):
        assert torch.allclose(m[i], project(probs[i:i + 1], reward[i:i + 1], discount[i:i + 1], z)[0])
    inside = (reward + discount * 10).abs() < 10  # away from the edges, the mean is kept: E[R + d Z]
    mean_target = reward + discount * (probs * z).sum(1)
    assert torch.allclose((m * z).sum(1)[inside & ((reward - discount * 10).abs() < 10)],
                          mean_target[inside & ((reward - discount * 10).abs() < 10)], atol=1e-4)


def test_expected_value_and_cross_entropy():
    logits = torch.log(P)
    assert expected(logits, Z).item() == pytest.approx(-0.2 + 0.3)
    assert cross_entropy(logits, P).item() == pytest.approx(-(P * P.log()).sum().item())
    with pytest.raises(ValueError, match="atoms"):
        support(1.0, -1.0, 51)
