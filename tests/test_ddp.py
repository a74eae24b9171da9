"""The generated LeNet-5 under DistributedDataParallel: two CPU processes (gloo) vs one process."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
import torch.distributed as dist  # noqa: E402
import torch.multiprocessing as mp  # noqa: E402

from archc.runtime import build_model  # noqa: E402
from tests.golden import ROOT  # noqa: E402

SPEC = str(ROOT / "specs" / "lenet5.arch")
STEPS, GLOBAL_BATCH = 3, 8


def data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(STEPS, GLOBAL_BATCH, 1, 32, 32, generator=g), torch.randint(0, 10, (STEPS, GLOBAL_BATCH), generator=g)


def train(model: torch.nn.Module, xs: torch.Tensor, ys: torch.Tensor) -> None:
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    for x, y in zip(xs, ys, strict=True):
        loss = torch.nn.functional.cross_entropy(-model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()


def worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    torch.manual_seed(0)
    model = torch.nn.parallel.DistributedDataParallel(build_model(SPEC, "torch"))
    xs, ys = data()
    per = GLOBAL_BATCH // world
    train(model, xs[:, rank * per : (rank + 1) * per], ys[:, rank * per : (rank + 1) * per])
    torch.save(model.module.state_dict(), os.path.join(out_dir, f"rank{rank}.pt"))
    dist.destroy_process_group()


@pytest.mark.slow
def test_ddp_two_ranks_equal_single_process(tmp_path: Path) -> None:
    mp.spawn(worker, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    rank0 = torch.load(tmp_path / "rank0.pt")
    rank1 = torch.load(tmp_path / "rank1.pt")
    torch.manual_seed(0)
    single = build_model(SPEC, "torch")
    initial = {k: v.clone() for k, v in single.state_dict().items()}
    train(single, *data())
    reference = single.state_dict()
    for key, value in reference.items():
        assert torch.equal(rank0[key], rank1[key]), key
        torch.testing.assert_close(rank0[key], value, rtol=1e-5, atol=1e-6)
    assert any(not torch.equal(initial[k], reference[k]) for k in reference)  # training moved the weights
