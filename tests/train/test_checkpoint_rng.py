"""Per-rank RNG bookkeeping in checkpoints: each rank saves and restores its own
generator, CPU and CUDA states; a resume with another world size reseeds every rank
with a stream of its own (never rank 0's on all ranks)."""

from __future__ import annotations

import torch

from train.checkpoint import gather_rng, local_rng_state, rank_seed, restore_rng, saved_rng

CPU = torch.device("cpu")


def fake_cuda(monkeypatch):
    """CUDA RNG calls on a CPU machine: rank r's device state is 16 bytes of value r + 1;
    restores are recorded as (device, state)."""
    restored = []
    monkeypatch.setattr(torch.cuda, "get_rng_state",
                        lambda device: torch.full((16,), device.index + 1, dtype=torch.uint8))
    monkeypatch.setattr(torch.cuda, "set_rng_state",
                        lambda state, device: restored.append((device, state.clone())))
    return restored


def two_ranks(monkeypatch):
    """Checkpoint ``rng`` entry of a 2-rank job whose ranks drew different numbers."""
    locals_ = []
    for rank in (0, 1):
        g = torch.Generator().manual_seed(100 + rank)
        torch.rand(3, generator=g)
        locals_.append(local_rng_state(g, torch.device("cuda", rank)))
    # all-gather of each tensor across the 2 "ranks", as train.distributed.gather does
    key_of = {id(v): k for loc in locals_ for k, v in loc.items()}
    gathered = gather_rng(locals_[0], lambda t: [loc[key_of[id(t)]] for loc in locals_])
    return {"ranks": gathered}


def test_every_rank_saves_its_own_cuda_and_generator_state(monkeypatch):
    fake_cuda(monkeypatch)
    saved = two_ranks(monkeypatch)
    assert len(saved["ranks"]) == 2
    assert torch.equal(saved["ranks"][0]["cuda"], torch.full((16,), 1, dtype=torch.uint8))
    assert torch.equal(saved["ranks"][1]["cuda"], torch.full((16,), 2, dtype=torch.uint8))
    assert not torch.equal(saved["ranks"][0]["generator"], saved["ranks"][1]["generator"])


def test_same_world_size_restores_each_ranks_own_states(monkeypatch):
    restored = fake_cuda(monkeypatch)
    saved = two_ranks(monkeypatch)
    for rank in (0, 1):
        g = torch.Generator()
        assert restore_rng(saved, g, rank, 2, torch.device("cuda", rank), seed=0, step=5)
        assert torch.equal(g.get_state(), saved["ranks"][rank]["generator"])
        device, state = restored[-1]
        assert device == torch.device("cuda", rank) and int(state[0]) == rank + 1
    expected = torch.Generator().manual_seed(101)
    torch.rand(3, generator=expected)  # rank 1's generator went on from here
    g = torch.Generator()
    restore_rng(saved, g, 1, 2, CPU, seed=0, step=5)
    assert torch.equal(torch.rand(4, generator=g), torch.rand(4, generator=expected))


def test_new_world_size_gives_each_rank_its_own_stream(monkeypatch):
    fake_cuda(monkeypatch)
    saved = two_ranks(monkeypatch)  # saved by 2 ranks, resumed on 4
    draws = []
    for rank in range(4):
        g = torch.Generator()
        assert not restore_rng(saved, g, rank, 4, CPU, seed=7, step=5)
        draws.append(torch.rand(8, generator=g))
        cpu_draw = torch.rand(8)  # torch's global CPU RNG was reseeded for the rank too
        torch.manual_seed(rank_seed(7, rank, 4, 5) ^ 0x5DEECE66D)
        assert torch.equal(cpu_draw, torch.rand(8))
    assert all(not torch.equal(draws[i], draws[j]) for i in range(4) for j in range(i))
    for rank in range(2):  # no rank continues a saved stream either
        old = torch.Generator()
        old.set_state(saved["ranks"][rank]["generator"])
        assert not any(torch.equal(torch.rand(8, generator=old), d) for d in draws)
    again = torch.Generator()
    restore_rng(saved, again, 3, 4, CPU, seed=7, step=5)
    assert torch.equal(torch.rand(8, generator=again), draws[3])  # reproducible


def test_checkpoints_from_before_per_rank_states_still_resume():
    gens = [torch.Generator().manual_seed(s).get_state() for s in (1, 2)]
    old = {"rng": {"generator": gens[0], "torch": torch.get_rng_state(),
                   "cuda": []}, "rank_generators": gens}
    ranks = saved_rng(old)["ranks"]
    assert [torch.equal(r["generator"], g) for r, g in zip(ranks, gens)] == [True, True]
    g = torch.Generator()
    assert restore_rng(saved_rng(old), g, 1, 2, CPU, seed=0, step=3)
    assert torch.equal(g.get_state(), gens[1])
    new = {"rng": {"ranks": ranks}}
    assert saved_rng(new) is new["rng"]
