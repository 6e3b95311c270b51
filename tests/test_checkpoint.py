"""Checkpoints: exact resume, atomic writes, weights-only loading that refuses code."""

from __future__ import annotations

import pickle
import random
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from pixelwise.engine.checkpoint import (
    capture_rng_states,
    load_checkpoint,
    restore_rng_states,
    save_checkpoint,
    unwrap_model,
)
from pixelwise.errors import PixelwiseError
from pixelwise.modelfile import Labels, ModelSpec

SPEC = ModelSpec(model="tiny", model_options={}, labels=Labels(class_names=("background", "object"),
                 palette=((0, 0, 0), (255, 0, 0))), source={"train_config": {"lr": 1e-2, "model": "tiny"}})


@pytest.fixture(autouse=True)
def keep_global_rngs():
    """These tests seed and restore the global generators; give them back as they were."""
    states = random.getstate(), np.random.get_state(), torch.get_rng_state()
    yield
    random.setstate(states[0])
    np.random.set_state(states[1])
    torch.set_rng_state(states[2])


class Run:
    """A tiny model, AdamW, a poly schedule and a GradScaler: everything a resume must restore."""

    def __init__(self, init_seed: int) -> None:
        torch.manual_seed(init_seed)
        self.model = nn.Sequential(
            nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Dropout2d(0.3), nn.Conv2d(4, 2, 1)
        )
        self.model.pixelwise_config = {"name": "tiny", "num_classes": 2, "in_channels": 3}
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=1e-2, weight_decay=0.01)
        self.scheduler = torch.optim.lr_scheduler.PolynomialLR(self.optimizer, total_iters=10, power=0.9)
        self.scaler = torch.amp.GradScaler("cpu", init_scale=2.0**4, growth_interval=2)

    def steps(self, count: int) -> list[float]:
        """Train ``count`` steps on data drawn from all three global generators; return the draws."""
        draws = []
        for _ in range(count):
            x = torch.randn(2, 3, 8, 8)
            target = torch.randint(0, 2, (2, 8, 8))
            noise = random.random() + float(np.random.rand())
            loss = F.cross_entropy(self.model(x), target) * (1.0 + 0.1 * noise)  # dropout draws from torch too
            self.optimizer.zero_grad()
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.scheduler.step()
            draws.append(noise)
        return draws

    def save(self, path: Path, *, epoch: int, step: int) -> None:
        save_checkpoint(
            path, model=self.model, spec=SPEC, optimizer=self.optimizer, scheduler=self.scheduler, scaler=self.scaler,
            epoch=epoch, step=step, metrics={"val_miou": 0.5}, extra={"best_score": 0.5},
        )  # fmt: skip


def seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def test_resume_continues_exactly_like_an_uninterrupted_run(tmp_path):
    seed_all(0)
    uninterrupted = Run(init_seed=1)
    uninterrupted.steps(3)
    expected_draws = uninterrupted.steps(3)

    seed_all(0)
    first = Run(init_seed=1)
    first.steps(3)
    first.save(tmp_path / "last.pt", epoch=1, step=3)

    seed_all(123)  # a new process: other seeds, other initial weights
    resumed = Run(init_seed=99)
    checkpoint = load_checkpoint(tmp_path / "last.pt")
    training = checkpoint.training
    resumed.model.load_state_dict(checkpoint.state_dict)
    resumed.optimizer.load_state_dict(training["optimizer"])
    resumed.scheduler.load_state_dict(training["scheduler"])
    resumed.scaler.load_state_dict(training["scaler"])
    restore_rng_states(training["rng"])
    draws = resumed.steps(3)

    assert draws == expected_draws
    for name, tensor in uninterrupted.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[name], tensor), name
    assert resumed.scheduler.get_last_lr() == uninterrupted.scheduler.get_last_lr()
    assert resumed.scaler.get_scale() == uninterrupted.scaler.get_scale() != 2.0**4
    assert (training["epoch"], training["step"]) == (1, 3)
    assert checkpoint.spec == SPEC


def test_without_restoring_the_rng_the_run_diverges(tmp_path):
    # the control for the test above: the generators matter, so restoring them is what makes it pass
    seed_all(0)
    run = Run(init_seed=1)
    run.steps(3)
    run.save(tmp_path / "last.pt", epoch=1, step=3)
    expected = run.steps(1)
    seed_all(123)
    resumed = Run(init_seed=1)
    resumed.model.load_state_dict(load_checkpoint(tmp_path / "last.pt").state_dict)
    assert resumed.steps(1) != expected


def test_rng_states_round_trip_including_cached_gaussians():
    random.gauss(0, 1)  # leaves a cached second Gaussian in Python's generator
    np.random.randn(1)  # and in numpy's
    state = capture_rng_states()
    expected = (random.gauss(0, 1), random.random(), np.random.randn(3).tolist(), torch.rand(3))
    restore_rng_states(state)
    got = (random.gauss(0, 1), random.random(), np.random.randn(3).tolist(), torch.rand(3))
    assert got[:3] == expected[:3]
    assert torch.equal(got[3], expected[3])


def test_wrappers_are_removed_before_saving(tmp_path):
    model = nn.Conv2d(3, 2, 1)
    model.pixelwise_config = {"name": "conv", "num_classes": 2}
    wrapped = nn.DataParallel(torch.compile(model))  # DataParallel and DDP both keep the model in .module
    assert unwrap_model(wrapped) is model
    save_checkpoint(tmp_path / "c.pt", model=wrapped, spec=SPEC, epoch=0, step=0)
    checkpoint = load_checkpoint(tmp_path / "c.pt")
    assert sorted(checkpoint.state_dict) == ["bias", "weight"]
    training = checkpoint.training
    assert training["optimizer"] is None and training["scheduler"] is None and training["scaler"] is None


def test_numpy_values_and_paths_become_plain_and_objects_are_refused(tmp_path):
    model = nn.Linear(2, 2)
    save_checkpoint(
        tmp_path / "c.pt", model=model, spec=SPEC, epoch=0, step=0,
        extra={"root": Path("/data/camvid"), "sizes": (256, 256)},
        metrics={"miou": np.float64(0.625), "per_class": np.array([0.5, 0.75])},
    )  # fmt: skip
    training = load_checkpoint(tmp_path / "c.pt").training
    assert training["extra"] == {"root": "/data/camvid", "sizes": (256, 256)}
    assert type(training["metrics"]["miou"]) is float and training["metrics"]["miou"] == 0.625
    assert training["metrics"]["per_class"].tolist() == [0.5, 0.75]

    class Custom:
        pass

    with pytest.raises(TypeError, match=r"model file\['training'\]\['extra'\]\['hook'\] holds a .*Custom"):
        save_checkpoint(tmp_path / "bad.pt", model=model, spec=SPEC, epoch=0, step=0, extra={"hook": Custom()})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pt"]


@pytest.mark.parametrize("interruption", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_an_interrupted_save_leaves_the_previous_checkpoint(tmp_path, monkeypatch, interruption):
    path = tmp_path / "last.pt"
    run = Run(init_seed=1)
    run.save(path, epoch=1, step=3)
    before = run.model.state_dict()["0.weight"].clone()
    real_save = torch.save

    def save_half_then_fail(obj, f, *args, **kwargs):
        real_save(obj, f, *args, **kwargs)
        data = Path(f).read_bytes()
        Path(f).write_bytes(data[: len(data) // 2])  # the process dies half-way through the write
        raise interruption

    monkeypatch.setattr(torch, "save", save_half_then_fail)
    with torch.no_grad():
        run.model[0].weight.add_(1.0)
    with pytest.raises(type(interruption)):
        run.save(path, epoch=2, step=6)
    monkeypatch.undo()

    checkpoint = load_checkpoint(path)
    assert checkpoint.training["epoch"] == 1
    assert torch.equal(checkpoint.state_dict["0.weight"], before)
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temporary file left behind


class CodeOnLoad:
    """Unpickling this object runs code that creates ``marker``: what a hostile checkpoint does."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').close()",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("container", ["torch.save", "pickle protocol 2", "pickle protocol 5"])
@pytest.mark.parametrize("kind", ["pixelwise.model", "pixelwise-checkpoint"])
def test_a_checkpoint_holding_code_is_refused_and_not_run(tmp_path, container, kind):
    marker = tmp_path / "pwned"
    pickle.loads(pickle.dumps(CodeOnLoad(marker)))  # the payload is live: plain unpickling runs it
    assert marker.exists()
    marker.unlink()

    path = tmp_path / "stranger.pt"
    payload = {"format": kind, "version": 2, "format_version": 1, "state_dict": CodeOnLoad(marker)}
    if container == "torch.save":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload, protocol=int(container[-1])))
    with pytest.raises(PixelwiseError) as error:
        load_checkpoint(path)
    assert str(error.value) == f"{path} is not a pixelwise model file or holds code; refusing to unpickle it"
    assert not marker.exists()


def test_truncated_missing_and_foreign_files_give_clear_errors(tmp_path):
    path = tmp_path / "last.pt"
    Run(init_seed=1).save(path, epoch=1, step=3)
    data = path.read_bytes()
    for name, content in [("truncated.pt", data[: len(data) // 2]), ("empty.pt", b"")]:
        (tmp_path / name).write_bytes(content)
        with pytest.raises(PixelwiseError, match=rf"^{tmp_path / name} is truncated or corrupt \(.*\); use another"):
            load_checkpoint(tmp_path / name)
    (tmp_path / "junk.pt").write_bytes(b"not a zip" * 9)
    with pytest.raises(PixelwiseError, match=r"junk\.pt is not a pixelwise model file or holds code"):
        load_checkpoint(tmp_path / "junk.pt")
    with pytest.raises(PixelwiseError, match=r"model file .*nowhere\.pt does not exist"):
        load_checkpoint(tmp_path / "nowhere.pt")
    torch.save(nn.Linear(2, 2).state_dict(), tmp_path / "bare.pt")
    with pytest.raises(PixelwiseError, match=r"bare\.pt is not a pixelwise model file \(a bare state_dict"):
        load_checkpoint(tmp_path / "bare.pt")
