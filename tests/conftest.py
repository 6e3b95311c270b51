"""Fixtures shared by the test modules."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="module")
def one_cpu_thread():
    """Run this module's tiny models on one intra-op thread, then restore the count.

    On 64-px inputs a second thread saves little, and when other processes share the two cores
    OpenMP's waiting threads made the model tests 8x slower (256 s instead of 30 s).
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
