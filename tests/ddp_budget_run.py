"""Launched by ``test_engine`` under torchrun: a run on a time budget, then each rank saves its weights.

DDP keeps the replicas equal only if every rank takes the same optimizer steps with the same
learning rate; a budget read from each rank's own clock breaks that (and can leave one rank
waiting for a step the other never takes).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

from pixelwise.engine import train as train_module
from pixelwise.engine.config import TrainConfig

models = []
build_model = train_module.build_model


def keep_model(config, **kwargs):
    models.append(build_model(config, **kwargs))
    return models[-1]


train_module.build_model = keep_model
out = Path(sys.argv[1])
train_module.train(TrainConfig(
    dataset="shapes", dataset_options={"size": 32, "length": 16}, model="unet",
    model_options={"base_channels": 4, "depth": 2}, epochs=None, budget_minutes=float(sys.argv[2]), crop_size=32,
    resize_schedule=[[0, 0.5], [0.5, 1]], batch_size=2, workers=0, progress=False, tensorboard=False,
    device="cpu", out=str(out), eval_every=3,
))
weights = torch.cat([p.detach().flatten() for p in models[0].parameters()])
torch.save(weights, out / f"weights-rank{os.environ['RANK']}.pt")
