"""nets/switches.py: switches on networks and losses that leave the math unchanged, or change only the
precision, for their duration."""

import torch
from torch import nn

from visuomotor.nets import switches
from visuomotor.nets.mlp import ReLUMLP


def test_frozen_stops_gradients_at_the_weights_but_not_the_input():
    net = nn.Linear(3, 1)
    x = torch.ones(2, 3, requires_grad=True)
    with switches.frozen(net):
        net(x).sum().backward()
    assert net.weight.grad is None and net.bias.grad is None
    torch.testing.assert_close(x.grad, net.weight.detach().expand(2, 3))
    assert net.weight.requires_grad  # restored


def test_autocast_bf16_is_the_function_itself_when_off_and_bf16_matmuls_when_on():
    net = nn.Linear(4, 4)
    loss = lambda x: net(x).sum()  # noqa: E731
    assert switches.autocast_bf16(loss, on=False, device="cpu") is loss
    x = torch.randn(8, 4)
    out = switches.autocast_bf16(net, on=True, device="cpu")(x)
    assert out.dtype == torch.bfloat16
    assert torch.equal(out, nn.functional.linear(x.bfloat16(), net.weight.bfloat16(), net.bias.bfloat16()))
    assert net(x).dtype == torch.float32  # only inside the wrapped call


def test_bf16_switch_casts_hidden_layers_only_for_the_block():
    torch.manual_seed(0)
    net = ReLUMLP(3, (8,), 2)
    x = torch.randn(5, 3)
    fp32 = net(x)
    with switches.bf16(net):
        assert net.bf16
        low = net(x)
    assert not net.bf16 and torch.equal(net(x), fp32)
    assert low.dtype == torch.float32 and not torch.equal(low, fp32)
    h = torch.relu(torch.addmm(net[0].bias.bfloat16(), x.bfloat16(), net[0].weight.bfloat16().t()))
    assert torch.equal(low, torch.addmm(net[2].bias, h.float(), net[2].weight.t()))
