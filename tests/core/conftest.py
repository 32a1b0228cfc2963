"""Engine tests run deterministically: one torch thread, deterministic algorithms, a fixed seed.

A learning test's numbers otherwise depend on the thread count (float32 sums split differently
across threads) and so on the machine and on which tests ran before (the app sets torch's thread
count when it loads the engine): the same code passed in one run and failed in the next.
"""
import pytest
import torch


@pytest.fixture(autouse=True)
def deterministic_torch():
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(0)
    yield
    torch.use_deterministic_algorithms(deterministic)
    torch.set_num_threads(threads)
