"""FastTD3's and FastSAC's ``compile`` switch: the compiled losses give the eager update's numbers, and
``compile`` None is decided per run (on CUDA; on CPU for long FastSAC runs with a C++ compiler)."""

from __future__ import annotations

import warnings

import pytest
import torch

from tests.test_fastsac import _agent as fastsac_agent
from tests.test_fastsac import _batch
from tests.test_fasttd3 import _agent as fasttd3_agent
from visuomotor.algos.fastsac import FastSACConfig
from visuomotor.algos.fasttd3 import FastTD3Config
from visuomotor.nets import hardware
from visuomotor.nets.hardware import AUTO_COMPILE_UPDATES

needs_compiler = pytest.mark.skipif(hardware.cpp_compiler() is None, reason="torch.compile on CPU needs a C++ compiler")


@needs_compiler
@pytest.mark.parametrize("make", [fastsac_agent, fasttd3_agent], ids=["fastsac", "fasttd3"])
def test_compiled_losses_give_the_eager_updates_numbers(make):
    eager, compiled = make(compile=False), make(compile=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for i in range(5):  # the policy learns on some of these (FastSAC updates 1 and 5, FastTD3 2 and 4)
            m_eager, m_compiled = eager.update(_batch(i)), compiled.update(_batch(i))
            for k in m_eager:
                torch.testing.assert_close(m_compiled[k], m_eager[k], rtol=1e-4, atol=1e-5)
    assert not [w for w in caught if "torch.compile of" in str(w.message)]  # compiled, not fallen back to eager
    for net in ("actor", "critic", "critic_target"):
        for a, b in zip(getattr(eager, net).parameters(), getattr(compiled, net).parameters()):
            torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5)
    assert any(not torch.equal(a, b) for a, b in zip(eager.actor.parameters(), make().actor.parameters()))  # it learned


@pytest.mark.parametrize("cls", [FastSACConfig, FastTD3Config])
def test_compile_none_is_decided_per_run(cls, monkeypatch):
    monkeypatch.setattr(hardware, "cpp_compiler", lambda: "/usr/bin/g++")
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert cls().for_run(AUTO_COMPILE_UPDATES, cpu).compile is (cls is FastSACConfig)  # (FastTD3's: slower on CPU)
    assert cls().for_run(AUTO_COMPILE_UPDATES - 1, cpu).compile is False
    assert cls().for_run(10, cuda).compile is True
    assert cls(compile=False).for_run(10**6, cuda).compile is False
    monkeypatch.setattr(hardware, "cpp_compiler", lambda: None)
    assert cls().for_run(10**6, cpu).compile is False
