"""The engine end to end on tiny shapes: CLI train/evaluate/predict, resume, crash safety, torchrun."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import pixelwise
from pixelwise.cli.main import main
from pixelwise.engine import train as train_module
from pixelwise.engine.checkpoint import load_checkpoint
from pixelwise.engine.config import TrainConfig, load_config
from pixelwise.engine.schedule import lr_factor
from pixelwise.engine.train import train
from pixelwise.errors import PixelwiseError

TINY = [
    "--dataset", "shapes", "--dataset-option", "size=32", "--dataset-option", "length=16",
    "--model", "unet", "--model-option", "base_channels=4", "--model-option", "depth=2",
    "--batch-size", "4", "--workers", "0", "--no-progress", "--no-tensorboard", "--log-every", "2",
]


def tiny_config(out: Path, **changes) -> TrainConfig:
    base = TrainConfig(
        dataset="shapes", dataset_options={"size": 32, "length": 16}, model="unet",
        model_options={"base_channels": 4, "depth": 2}, epochs=2, batch_size=4, workers=0,
        progress=False, tensorboard=False, log_every=2, out=str(out), lr=1e-2,
    )
    return base.replace(**changes)


def test_cli_train_evaluate_predict(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", *TINY, "--epochs", "2", "--out", str(run)]) == 0
    for name in ("config.yaml", "last.pt", "best.pt", "metrics.json", "history.csv", "curves.png"):
        assert (run / name).is_file(), name
    assert load_config(run / "config.yaml").model_options == {"base_channels": 4, "depth": 2}
    history = (run / "history.csv").read_text().splitlines()
    assert len(history) == 3 and "val_miou" in history[0]

    eval_dir = tmp_path / "eval"
    assert main(["evaluate", "--checkpoint", str(run / "best.pt"), "--dataset", "shapes", "--dataset-option", "size=32",
                 "--dataset-option", "length=8", "--split", "val", "--out", str(eval_dir)]) == 0
    data = json.loads((eval_dir / "metrics.json").read_text())
    assert data["class_names"] == ["background", "circle", "square", "triangle"]
    assert sum(map(sum, data["confusion_matrix"])) == 8 * 32 * 32
    for name in ("per_class.csv", "confusion.png", "per_class_iou.png", "panels.png"):
        assert (eval_dir / name).is_file(), name
    assert "background" in capsys.readouterr().out
    flip_scores = pixelwise.evaluate(checkpoint=run / "best.pt", dataset="shapes", split="val", flip=True,
                                     dataset_options={"size": 32, "length": 8})
    assert int(flip_scores.confusion.sum()) == 8 * 32 * 32

    images = tmp_path / "images"
    images.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(images / "a.png")
    Image.fromarray(np.zeros((30, 20, 3), np.uint8)).save(images / "b.jpg")
    (images / "broken.png").write_bytes(b"not an image at all")
    pred_dir = tmp_path / "pred"
    code = main(["predict", "--checkpoint", str(run / "best.pt"), str(images), "--out", str(pred_dir), "--no-progress"])
    assert code == 1  # one input failed ...
    for stem, size in (("a", (50, 40)), ("b", (20, 30))):  # ... the rest are written
        labels = Image.open(pred_dir / f"{stem}.png")
        assert labels.size == size and labels.mode in ("P", "L")
        assert int(np.asarray(labels).max()) < 4
        assert Image.open(pred_dir / f"{stem}_color.png").mode == "RGB"
        assert Image.open(pred_dir / f"{stem}_overlay.png").size == size
    assert not (pred_dir / "broken.png").exists()
    assert "broken.png" in capsys.readouterr().out
    assert main(["predict", "--checkpoint", str(run / "best.pt"), str(images / "a.png"), "--out", str(tmp_path / "flip"),
                 "--flip", "--no-progress"]) == 0
    assert Image.open(tmp_path / "flip" / "a.png").size == (50, 40)


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path, monkeypatch):
    straight = train(tiny_config(tmp_path / "straight", epochs=3))

    original_save = train_module._save

    def crash_after_first_checkpoint(path, *args, **kwargs):
        original_save(path, *args, **kwargs)
        if path.name == "last.pt":
            raise KeyboardInterrupt  # the process dies right after epoch 1 was saved

    monkeypatch.setattr(train_module, "_save", crash_after_first_checkpoint)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_config(tmp_path / "resumed", epochs=3))
    monkeypatch.setattr(train_module, "_save", original_save)
    assert load_checkpoint(tmp_path / "resumed" / "last.pt").training["epoch"] == 1
    resumed = train(tiny_config(tmp_path / "resumed", epochs=3, resume=True))
    assert resumed.epochs_run == 3 and len(resumed.history) == 3
    a = load_checkpoint(straight.out / "last.pt").state_dict
    b = load_checkpoint(resumed.out / "last.pt").state_dict
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)
    assert [round(r["train_loss"], 6) for r in straight.history] == [round(r["train_loss"], 6) for r in resumed.history]


def test_killing_training_never_leaves_a_corrupt_checkpoint(tmp_path):
    run = tmp_path / "run"
    args = [sys.executable, "-m", "pixelwise", "train", *TINY, "--dataset-option", "length=64",
            "--epochs", "200", "--eval-every", "1", "--out", str(run)]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not (run / "last.pt").exists() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.2)
        assert (run / "last.pt").exists(), "training wrote no checkpoint"
        time.sleep(1.3)  # kill it at some point while it keeps saving
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    epoch = load_checkpoint(run / "last.pt").training["epoch"]
    assert epoch >= 1
    # ... and the run resumes from it.
    result = train(tiny_config(run, epochs=epoch + 1, resume=True, dataset_options={"size": 32, "length": 64}))
    assert result.epochs_run == epoch + 1


def test_malicious_checkpoint_is_refused(tmp_path, capsys):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    evil = tmp_path / "evil.pt"
    torch.save({"model": Exploit()}, evil, pickle_protocol=pickle.DEFAULT_PROTOCOL)
    code = main(["evaluate", "--checkpoint", str(evil), "--dataset", "shapes"])
    assert code == 2
    assert "evil.pt" in capsys.readouterr().err
    assert not marker.exists()


def test_torchrun_two_gloo_processes(tmp_path):
    run = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29561",
         "-m", "pixelwise", "train", *TINY, "--dataset-option", "length=15", "--epochs", "1", "--device", "cpu",
         "--out", str(run)],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in run.glob("*.pt")) == ["best.pt", "last.pt"]
    assert len(list(run.glob("*.json"))) == 1
    scores = json.loads((run / "metrics.json").read_text())
    assert sum(map(sum, scores["confusion_matrix"])) == 15 * 32 * 32  # every val image counted exactly once


def test_torchrun_on_a_time_budget_keeps_the_replicas_equal(tmp_path):
    """Both ranks read rank 0's clock: they stop at the same step with the same LR and crop size."""
    run = tmp_path / "ddp-budget"
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29562",
         str(Path(__file__).with_name("ddp_budget_run.py")), str(run), "0.1"],
        capture_output=True, text=True, timeout=180, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    history = load_checkpoint(run / "last.pt").training["extra"]["history"]
    assert history[-1]["step"] > 0 and {row["resolution"] for row in history} == {0.5, 1.0}
    torch.testing.assert_close(torch.load(run / "weights-rank0.pt"), torch.load(run / "weights-rank1.pt"), rtol=0, atol=0)


def test_config_precedence_and_errors(tmp_path):
    yaml_file = tmp_path / "c.yaml"
    yaml_file.write_text("lr: 0.5\nbatch_size: 3\n")
    from pixelwise.cli.main import build_parser
    from pixelwise.cli.train import config_from_args

    args = build_parser().parse_args(["train", "--config", str(yaml_file), "--lr", "0.25", "--encoder", "resnet18"])
    config = config_from_args(args)
    assert (config.lr, config.batch_size, config.model_options["encoder"]) == (0.25, 3, "resnet18")
    yaml_file.write_text("learning_rate: 1\n")
    with pytest.raises(PixelwiseError, match="unknown key"):
        load_config(yaml_file)
    with pytest.raises(PixelwiseError, match="exactly one"):
        TrainConfig(epochs=None, budget_minutes=None)


def test_class_weights_from_the_training_masks(tmp_path):
    from pixelwise.cli.main import build_parser
    from pixelwise.cli.train import config_from_args
    from pixelwise.engine.builders import build_criterion, build_datasets

    args = build_parser().parse_args(["train", *TINY, "--loss", "ce", "--class-weights", "sqrt_median_frequency"])
    config = config_from_args(args)
    assert config.class_weights == "sqrt_median_frequency"
    train_set, _ = build_datasets(config)
    full = build_criterion(config.replace(class_weights="median_frequency"), train_set).class_weights
    soft = build_criterion(config, train_set).class_weights
    assert full.min() < 1 < full.max()  # shapes has a dominant background
    torch.testing.assert_close(soft, full.sqrt())
    with pytest.raises(PixelwiseError, match="median_frequency or sqrt_median_frequency or a list"):
        build_criterion(config.replace(class_weights="balanced"), train_set)
    listed = config_from_args(build_parser().parse_args(["train", *TINY, "--loss", "ce", "--class-weights", "1,2,3,4"]))
    assert listed.class_weights == [1.0, 2.0, 3.0, 4.0]
    torch.testing.assert_close(build_criterion(listed, train_set).class_weights, torch.tensor([1.0, 2.0, 3.0, 4.0]))


@pytest.mark.parametrize("name", ["adamw", "sgd"])
def test_optimizer_is_fused_on_cpu_and_updates_like_the_loop(name):
    from pixelwise.engine.builders import build_optimizer

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4)).to(memory_format=torch.channels_last)
    reference = pickle.loads(pickle.dumps(model))  # the engine trains channels_last weights; the fused kernel must too
    config = TrainConfig(dataset="shapes", model="unet", optimizer=name, lr=0.1, weight_decay=0.5)
    optimizer = build_optimizer(config, model)
    assert all(group["fused"] for group in optimizer.param_groups)
    decayed = {id(p) for p in optimizer.param_groups[0]["params"]}
    assert decayed == {id(model[0].weight)}  # biases and BatchNorm's parameters are not decayed
    loop_type = torch.optim.SGD if name == "sgd" else torch.optim.AdamW
    extra = {"momentum": config.momentum} if name == "sgd" else {}
    loop = loop_type([{"params": [reference[0].weight], "weight_decay": 0.5},
                      {"params": [reference[0].bias, *reference[1].parameters()], "weight_decay": 0.0}],
                     lr=0.1, foreach=False, **extra)
    for _ in range(3):
        for net, opt in ((model, optimizer), (reference, loop)):
            opt.zero_grad()
            net(torch.ones(2, 3, 5, 5)).square().mean().backward()
            opt.step()
    for fused_parameter, loop_parameter in zip(model.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(fused_parameter, loop_parameter)


def test_a_resumed_run_keeps_this_machines_fused_optimizer(tmp_path, monkeypatch):
    run = tmp_path / "run"
    train(tiny_config(run, epochs=1))
    saved = torch.load(run / "last.pt", weights_only=False)
    assert all(group["fused"] for group in saved["training"]["optimizer"]["param_groups"])
    for group in saved["training"]["optimizer"]["param_groups"]:
        group["fused"] = None  # as written before the fused update, or on a device without fused kernels
    torch.save(saved, run / "last.pt")
    seen = []
    step = torch.optim.AdamW.step

    def recording_step(self, *args, **kwargs):
        seen.append([group["fused"] for group in self.param_groups])
        return step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", recording_step)
    train(tiny_config(run, epochs=2, resume=True))
    assert seen and all(all(fused) for fused in seen)


def test_lr_schedules():
    assert lr_factor(0.0, schedule="poly") == 1.0
    assert lr_factor(0.5, schedule="poly", power=1.0) == pytest.approx(0.5)
    assert lr_factor(0.5, schedule="cosine") == pytest.approx(0.5)
    assert lr_factor(1.0, schedule="cosine") == pytest.approx(0.0)
    assert lr_factor(0.05, schedule="poly", warmup=0.1) == pytest.approx(0.5)
    assert lr_factor(0.3, schedule="constant", warmup=0.1) == 1.0


def test_budget_clock_reads_rank_zeros_clock_every_few_steps_under_torchrun(monkeypatch):
    from pixelwise.engine import budget as budget_module

    readings = []
    now = {"t": 0.0}
    monkeypatch.setattr(budget_module.time, "perf_counter", lambda: now["t"])

    def rank_zero_clock(value, device):  # stands in for the broadcast: rank 0 is 100 s ahead
        readings.append(value)
        return value + 1.0

    monkeypatch.setattr(budget_module, "broadcast_value", rank_zero_clock)
    clock = budget_module.BudgetClock(budget_s=100.0, started=0.0, device=torch.device("cpu"), distributed=True, sync_every=4)
    seen = []
    for step in range(9):
        now["t"] = float(step)
        seen.append(clock.read())
    # Read at calls 0, 4 and 8; the value holds between readings, so every rank applies the same LR.
    assert len(readings) == 3
    assert seen == [1.0] * 4 + [1.04] * 4 + [1.08]
    now["t"] = 50.0
    assert clock.read(exact=True) == pytest.approx(1.5) and len(readings) == 4
    assert clock.read() == pytest.approx(1.5) and len(readings) == 4  # the exact reading restarts the count

    single = budget_module.BudgetClock(budget_s=100.0, started=0.0, device=torch.device("cpu"), distributed=False)
    readings.clear()
    assert single.read() == pytest.approx(0.5) and readings == []  # one process reads its own clock, no broadcast


def test_forward_at_scale_runs_small_and_returns_full_size_logits():
    from pixelwise.inference.strategies import forward_at_scale

    seen = []

    class Probe(torch.nn.Module):
        def forward(self, x):
            seen.append(tuple(x.shape[-2:]))
            return x[:, :2]  # two "classes"

    image = torch.rand(1, 3, 60, 90)
    assert forward_at_scale(Probe(), image, scale=0.5).shape == (1, 2, 60, 90)
    assert forward_at_scale(Probe(), image, short_side=30).shape == (1, 2, 60, 90)
    assert seen == [(30, 45), (30, 45)]


def test_flip_tta_averages_the_mirror_images_logits():
    from pixelwise.inference.strategies import forward_at_scale

    class LeftRamp(torch.nn.Module):  # not mirror-symmetric: its logits depend on the column
        def forward(self, x):
            column = torch.arange(x.shape[-1], dtype=x.dtype).expand_as(x[:, :1])
            return torch.cat([x[:, :1] * column, x[:, 1:2]], dim=1)

    image = torch.rand(2, 3, 8, 10)
    model = LeftRamp()
    plain = forward_at_scale(model, image)
    mirrored = model(image.flip(-1)).flip(-1)
    assert not torch.allclose(plain, mirrored)  # the test can tell flipping from not flipping
    torch.testing.assert_close(forward_at_scale(model, image, flip=True), (plain + mirrored) / 2)
    assert forward_at_scale(model, image, scale=0.5, flip=True).shape == (2, 2, 8, 10)


def test_train_crop_scales_relative_to_the_short_side():
    from torchvision import tv_tensors

    from pixelwise.data.transforms import RandomScaleCrop

    crop = RandomScaleCrop(size=(40, 40), scale_range=(1.0, 1.0), short_side=20)
    image = tv_tensors.Image(torch.zeros(3, 200, 300, dtype=torch.uint8))
    mask = tv_tensors.Mask(torch.zeros(200, 300, dtype=torch.int64))
    _, out_mask = crop(image, mask)
    # 200x300 brought to a 20 px short side is 20x30: the 40x40 crop is padded with the ignore index.
    assert out_mask.shape == (40, 40)
    assert int((out_mask != 255).sum()) == 20 * 30


def test_predict_with_a_one_channel_model(tmp_path):
    """Greyscale models (EM slices) get a 1-channel normalised input, not a broadcast 3-channel one."""
    from pixelwise import create_model, predict, save_model
    from pixelwise.modelfile import spec_for_model

    model = create_model("unet", num_classes=2, in_channels=1, base_channels=4, depth=2)
    checkpoint = save_model(model, tmp_path / "grey.pt", spec=spec_for_model(model, class_names=["membrane", "cell"]))
    Image.fromarray(np.full((24, 36, 3), 128, np.uint8)).save(tmp_path / "slice.png")
    report = predict(checkpoint=checkpoint, inputs=[tmp_path / "slice.png"], out=tmp_path / "pred", progress=False)
    assert not report.failed
    labels = np.asarray(Image.open(tmp_path / "pred" / "slice.png"))
    assert labels.shape == (24, 36) and set(np.unique(labels)) <= {0, 1}


def test_resize_schedule_validation_and_factors():
    from pixelwise.engine.schedule import resize_factor

    stages = ((0.0, 0.5), (0.6, 1.0))
    assert [resize_factor(p, stages) for p in (0.0, 0.59, 0.6, 0.99)] == [0.5, 0.5, 1.0, 1.0]
    assert resize_factor(0.3, None) == 1.0
    config = TrainConfig(crop_size=64, resize_schedule=[[0, 0.5], [0.6, 1]])
    assert config.resize_schedule == stages and config.to_dict()["resize_schedule"] == [[0.0, 0.5], [0.6, 1.0]]
    for bad, message in (([[0.2, 0.5]], "starts must increase from 0"), ([[0, 0.5], [0, 1]], "starts must increase"),
                         ([[0, 0.5], [1.0, 1]], "stay below 1"), ([[0, 0]], "factors must be positive")):
        with pytest.raises(PixelwiseError, match=message):
            TrainConfig(crop_size=64, resize_schedule=bad)
    with pytest.raises(PixelwiseError, match="needs crop_size"):
        TrainConfig(resize_schedule=[[0, 0.5]])


def test_progressive_resizing_trains_small_then_full(tmp_path, monkeypatch):
    """Half-size crops of half-size images for the first half of the run, then full size."""
    from pixelwise.engine import builders

    crops = []
    original = builders.train_transform

    def spy(**kwargs):
        crops.append((kwargs["crop_size"], kwargs["scale_range"]))
        return original(**kwargs)

    monkeypatch.setattr(builders, "train_transform", spy)
    config = tiny_config(tmp_path / "run", epochs=4, crop_size=32, scale_range=(1.0, 1.0),
                         resize_schedule=[[0, 0.5], [0.5, 1]], val_split=None)
    result = train(config)
    assert [row["resolution"] for row in result.history] == [0.5, 0.5, 1.0, 1.0]
    # built once at full size by build_datasets, then at half size for epoch 1 and back at full size for epoch 3
    assert crops == [(32, (1.0, 1.0)), (16, (0.5, 0.5)), (32, (1.0, 1.0))]


def test_loss_options_reach_the_loss(tmp_path):
    from pixelwise.cli.main import build_parser
    from pixelwise.cli.train import config_from_args
    from pixelwise.engine.builders import build_criterion, build_datasets

    args = build_parser().parse_args(["train", *TINY, "--loss", "ce_dice", "--loss-option", "ohem_threshold=0.7",
                                      "--loss-option", "dice_weight=0.5"])
    config = config_from_args(args)
    assert config.loss_options == {"ohem_threshold": 0.7, "dice_weight": 0.5}
    train_set, _ = build_datasets(config)
    criterion = build_criterion(config, train_set)
    assert (criterion.ohem_threshold, criterion.dice_weight) == (0.7, 0.5)
    with pytest.raises(PixelwiseError, match="no option 'ohem'"):
        build_criterion(config.replace(loss_options={"ohem": 0.7}), train_set)


def test_a_budget_spent_during_bookkeeping_still_ends_on_a_validated_epoch(tmp_path, monkeypatch):
    """Validation or saving may carry the last epoch past the budget: the run stops on a validated
    epoch, validates each epoch once, and logs no empty epoch."""
    calls = []
    validate, save = train_module.validate, train_module._save

    def slow_validate(*args, **kwargs):
        calls.append("validate")
        time.sleep(1.5 if len(calls) == 1 else 0)
        return validate(*args, **kwargs)

    monkeypatch.setattr(train_module, "validate", slow_validate)
    result = train(tiny_config(tmp_path / "slow-val", epochs=None, budget_minutes=0.02, eval_every=1))
    assert calls == ["validate"] and [row["epoch"] for row in result.history] == [1]

    def slow_save(path, *args, **kwargs):
        time.sleep(1.5 if path.name == "last.pt" and not calls else 0)
        calls.append(path.name)
        return save(path, *args, **kwargs)

    calls.clear()
    monkeypatch.setattr(train_module, "validate", validate)
    monkeypatch.setattr(train_module, "_save", slow_save)
    result = train(tiny_config(tmp_path / "slow-save", epochs=None, budget_minutes=0.02, eval_every=100))
    # epoch 1 trains unvalidated, its save runs past the budget, so epoch 1 is validated without training more
    assert [row["epoch"] for row in result.history] == [1]
    assert "val_miou" in result.history[0] and np.isfinite(result.history[0]["train_loss"])
    assert load_checkpoint(tmp_path / "slow-save" / "last.pt").training["step"] == result.history[0]["step"]


def test_evaluation_panels_sample_the_whole_split_not_its_first_frames():
    from pixelwise.engine.evaluate import spread_indices

    assert spread_indices(101, 6) == {0, 20, 40, 60, 80, 100}
    assert spread_indices(3, 6) == {0, 1, 2}  # fewer images than panels: every image once
    assert spread_indices(10, 1) == {0}
    assert spread_indices(10, 0) == set() and spread_indices(0, 6) == set()
