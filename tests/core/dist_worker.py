"""One rank of the data-parallel equality test (tests/core/test_distributed.py), started by torchrun:
meta-trains each algorithm named on the command line for a few steps as one rank of the run and
saves this rank's weights, so the test can compare them across ranks and with one process."""
from __future__ import annotations

import sys
from pathlib import Path

import torch

from core.distributed import init_from_environment
from core.sources import open_source
from core.trainer import Trainer

sys.path.insert(0, str(Path(__file__).parent))
from dist_cases import config_for  # noqa: E402


def main(out_dir: str, names: list[str]) -> None:
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    ctx, device = init_from_environment("cpu", timeout_s=120)
    source = open_source("builtin", "train", None)
    try:
        for name in names:
            trainer = Trainer(config_for(name), source, dist=ctx)
            for _ in trainer.run():
                pass
            torch.save({k: v.detach().clone() for k, v in trainer.learner.state_dict().items()},
                       Path(out_dir) / f"{name}_rank{ctx.rank}.pt")
    finally:
        ctx.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2].split(","))
