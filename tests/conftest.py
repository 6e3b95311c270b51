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


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """One tiny semantic run on 32 px shapes (input scale 0.5), trained once for every test that needs files."""
    from pixelwise import TrainConfig, train

    out = tmp_path_factory.mktemp("tiny-run")
    config = TrainConfig(
        dataset="shapes", dataset_options={"size": 32, "length": 16}, model="unet",
        model_options={"base_channels": 4, "depth": 2}, epochs=2, batch_size=4, workers=0, input_scale=0.5,
        progress=False, tensorboard=False, log_every=2, out=str(out), lr=1e-2,
    )  # fmt: skip
    train(config)
    return out
