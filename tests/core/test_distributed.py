"""Data-parallel meta-training under torchrun (issue 18): 2 ranks on Gloo against one process.

The runs are real: `python -m torch.distributed.run` (torchrun) starts the ranks as separate
processes on this machine's CPU, as a user would on several GPUs or machines."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from core.checkpoint import learner_from_checkpoint, read_checkpoint
from core.distributed import split_meta_batch
from core.episodes import EpisodeSampler, task_generator
from core.errors import FewShotError
from core.evaluation import evaluate
from core.sources import open_source
from core.trainer import TrainConfig, Trainer

from .dist_cases import CASES, config_for

HERE = Path(__file__).parent
REPO = HERE.parent.parent


def torchrun(*args: str, timeout: float = 300, **popen) -> subprocess.Popen | subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    if popen.pop("background", False):
        return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def one_process(config: TrainConfig, resume_from=None) -> Trainer:
    trainer = Trainer(config, open_source("builtin", "train", None), resume_from=resume_from)
    for _ in trainer.run():
        pass
    return trainer


def biases_cancelled_by_batchnorm(model: torch.nn.Module) -> set[str]:
    """Names of the convolution biases that a BatchNorm follows: BN subtracts the batch mean, so
    their gradient is zero in exact arithmetic and rounding noise in floating point — which Adam,
    dividing each gradient by its own magnitude, turns into full-size steps either way. Two correct
    runs that sum in a different order disagree on them by up to a learning rate; they are left out."""
    names = set()
    for prefix, module in model.named_modules():
        kids = list(module.named_children())
        for (name, a), (_, b) in zip(kids, kids[1:]):
            if isinstance(a, torch.nn.Conv2d) and a.bias is not None and isinstance(b, torch.nn.BatchNorm2d):
                names.add(f"{prefix}.{name}.bias" if prefix else f"{name}.bias")
    return names


def assert_same_parameters(learner, state: dict, what: str, initial: dict) -> None:
    """Equal within float tolerance: every element within 1e-4 (a tenth of one Adam step at
    learning rate 1e-3) except at most 1% of a tensor's elements (at least one), and none off by
    more than 1e-2. Two correct runs sum in a different order, and an optimizer that divides by the
    gradient's own size (Adam; Reptile's inner Adam with β1 = 0 makes its first step ±lr whatever
    the gradient's size) turns the rounding of a near-zero gradient into a step of up to a learning
    rate for that element — a few elements, which ones depending on the CPU's kernels. A wrong
    split or a missing average moves nearly every element. The weights must have moved
    (`initial`), or the comparison would show nothing."""
    skip = biases_cancelled_by_batchnorm(learner)
    worst = 0.0
    for name, p in learner.named_parameters():
        if name in skip:
            continue
        diff = (state[name] - p.detach()).abs()
        off = int((diff > 1e-4).sum())
        worst = max(worst, off / diff.numel())
        assert off <= max(1, diff.numel() // 100) and float(diff.max()) <= 1e-2, \
            f"{what}, {name}: {off} of {diff.numel()} elements differ by more than 1e-4 (largest {float(diff.max()):.3g})"
    moved = max(float((p.detach() - initial[n]).abs().max()) for n, p in learner.named_parameters())
    assert moved > 1e-3, f"{what}: the weights hardly changed, so the comparison shows little"
    print(f"\n{what}: at most {worst:.3%} of a tensor's elements differ by more than 1e-4")


def initial_parameters(config: TrainConfig) -> dict:
    return {n: p.detach().clone() for n, p in Trainer(config, open_source("builtin", "train", None)).learner.named_parameters()}


# -- units ---------------------------------------------------------------------------------------

def test_meta_batch_splits_evenly_or_becomes_one_episode_per_rank():
    assert split_meta_batch(32, 2) == 16
    assert split_meta_batch(1, 4) == 1  # ProtoNet's 1: 4 episodes a step on 4 ranks
    assert split_meta_batch(4, 4) == 1
    with pytest.raises(FewShotError, match="--meta-batch 6"):
        split_meta_batch(5, 2)


def test_a_sampled_episode_knows_its_place_and_draws_from_its_own_stream():
    sampler = EpisodeSampler(open_source("builtin", "train", None), 5, 1, 2, seed=4)
    a, b = sampler.episode(7), sampler.episode(8)
    assert (a.index, b.index) == (7, 8)
    fallback = torch.Generator().manual_seed(0)
    draw = lambda ep: torch.randperm(10, generator=task_generator(ep, 1, fallback)).tolist()  # noqa: E731
    assert draw(a) == draw(sampler.episode(7)) and draw(a) != draw(b)
    a.index = None
    assert task_generator(a, 1, fallback) is fallback


def test_evaluate_on_a_share_of_the_episodes_scores_exactly_those():
    torch.manual_seed(0)
    src = open_source("builtin", "test", None)
    learner = Trainer(TrainConfig(steps=1, val_episodes=0, device="cpu"), src).learner
    whole = evaluate(learner, src, 5, 1, 2, episodes=6, seed=11)
    odd = evaluate(learner, src, 5, 1, 2, episodes=6, seed=11, indices=range(1, 6, 2))
    assert odd.per_episode == whole.per_episode[1::2]


# -- real torchrun runs --------------------------------------------------------------------------

def test_two_ranks_hold_identical_weights_equal_to_one_process(tmp_path):
    torch.set_num_threads(1)
    names = list(CASES)
    res = torchrun(str(HERE / "dist_worker.py"), str(tmp_path), ",".join(names))
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    for name in names:
        r0 = torch.load(tmp_path / f"{name}_rank0.pt")
        r1 = torch.load(tmp_path / f"{name}_rank1.pt")
        for key in r0:  # every parameter and buffer, bit for bit
            assert torch.equal(r0[key], r1[key]), f"{name}: ranks differ in {key}"
        single = one_process(config_for(name)).learner
        initial = initial_parameters(config_for(name))
        assert_same_parameters(single, r0, f"{name}: 2 ranks vs one process", initial)


def test_a_two_rank_run_resumes_exactly_and_its_checkpoint_opens_in_one_process(tmp_path):
    torch.set_num_threads(1)
    ckpt = tmp_path / "proto.pt"
    common = ["-m", "core", "train", "-a", "protonet", "--meta-batch", "2", "--train-way", "10", "--train-query", "3",
              "--val-episodes", "0", "--seed", "5", "--device", "cpu", "--out", str(ckpt)]
    first = torchrun(*common, "--steps", "2")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "meta-batch 2 (1 per rank × 2 ranks (gloo)" in first.stdout
    second = torchrun(*common, "--steps", "4", "--resume", str(ckpt))
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    data = read_checkpoint(ckpt)
    assert data["trainer"]["step"] == 4 and data["trainer"]["episodes_seen"] == 8
    assert data["trainer"]["distributed"] == {"world_size": 2, "backend": "gloo"}
    # the same 4 steps in one process, uninterrupted
    config = TrainConfig(algorithm="protonet", meta_batch=2, train_way=10, train_query=3, val_episodes=0, seed=5, steps=4, device="cpu")
    straight = one_process(config)
    learner = learner_from_checkpoint(data, "cpu")  # how the app opens a model
    assert_same_parameters(straight.learner, {n: p.detach() for n, p in learner.named_parameters()}, "resumed 2-rank run vs one process",
                           initial_parameters(config))
    # and one process can go on training it
    more = one_process(TrainConfig(algorithm="protonet", meta_batch=2, train_way=10, train_query=3, val_episodes=0, seed=5, steps=5, device="cpu"),
                       resume_from=ckpt)
    assert more.step == 5


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


def _rank_of(pid: int) -> int | None:
    try:
        env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None
    for item in env:
        if item.startswith(b"RANK="):
            return int(item[5:])
    return None


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds the rank's process through /proc (Linux)")
def test_a_killed_rank_stops_the_run_with_a_clear_error_and_an_intact_checkpoint(tmp_path):
    ckpt = tmp_path / "killed.pt"
    proc = torchrun("-m", "core", "train", "-a", "protonet", "--train-way", "10", "--train-query", "3", "--steps", "1000000",
                    "--val-every", "2", "--val-episodes", "2", "--device", "cpu", "--dist-timeout", "60", "--out", str(ckpt), background=True)
    try:
        deadline = time.monotonic() + 240
        while not ckpt.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        assert ckpt.exists(), "no checkpoint was written"
        workers = [pid for pid in _children(proc.pid) if _rank_of(pid) is not None]
        rank1 = [pid for pid in workers if _rank_of(pid) == 1]
        assert rank1, f"rank 1 not found among {workers}"
        os.kill(rank1[0], signal.SIGKILL)
        out, _ = proc.communicate(timeout=180)  # a hang would fail here, not wait forever
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode != 0
    assert "error: the distributed run stopped after step" in out, out[-3000:]
    assert "is intact" in out
    data = read_checkpoint(ckpt)  # whole: written atomically by rank 0 alone
    assert data["trainer"]["step"] >= 2
    learner_from_checkpoint(data, "cpu")
