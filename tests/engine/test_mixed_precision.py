"""bfloat16 mixed precision: the optimiser wrapper and the native-support check."""
import torch
from torch import nn

from sgdetr.engine import BF16OptimWrapper
from sgdetr.engine import mixed_precision


def test_cpu_flags_reads_the_flags_line(tmp_path):
    info = tmp_path / 'cpuinfo'
    info.write_text('processor\t: 0\nmodel name\t: X\nflags\t\t: fpu sse avx2 avx512_bf16\n')
    assert mixed_precision.cpu_flags(str(info)) == {'fpu', 'sse', 'avx2', 'avx512_bf16'}
    assert mixed_precision.cpu_flags(str(tmp_path / 'missing')) == set()


def test_bf16_is_fast_follows_the_cpu_flags(monkeypatch):
    monkeypatch.setattr(mixed_precision, 'cpu_flags', lambda: {'avx2', 'fma'})
    assert not mixed_precision.bf16_is_fast('cpu')
    for flag in ('avx512_bf16', 'amx_bf16'):
        monkeypatch.setattr(mixed_precision, 'cpu_flags', lambda flag=flag: {'avx2', flag})
        assert mixed_precision.bf16_is_fast('cpu')


def test_bf16_wrapper_runs_the_forward_in_bfloat16_and_keeps_float32_state():
    model = nn.Linear(4, 3)
    wrapper = BF16OptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    with wrapper.optim_context(model):
        out = model(torch.randn(2, 4))
    assert out.dtype == torch.bfloat16
    wrapper.update_params(out.float().pow(2).sum())
    assert all(p.dtype == torch.float32 for p in model.parameters())
