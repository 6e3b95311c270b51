"""Nothing lost, nothing wrong in silence, no traceback: every bad value a user can type gets one line and
exit 2; outputs never overwrite each other; a second writer, a finished run, a NaN loss, a full disk, a list
file leading outside the dataset and a decompression bomb are all refused with a line that says what to do."""

from __future__ import annotations

import errno
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

import pixelwise
from pixelwise.cli.main import main, one_line
from pixelwise.errors import PixelwiseError

TINY = [
    "--dataset", "shapes", "--dataset-option", "size=32", "--dataset-option", "length=8", "--model", "unet",
    "--model-option", "base_channels=4", "--model-option", "depth=2", "--batch-size", "4", "--workers", "0",
    "--no-progress", "--no-tensorboard",
]  # fmt: skip

BAD_TRAIN_FLAGS = [
    (["--epochs", "0"], "epochs 0 is out of range"),
    (["--epochs", "-2"], "epochs -2 is out of range"),
    (["--budget", "0"], "budget_minutes 0.0 is out of range"),
    (["--budget", "-1"], "budget_minutes -1.0 is out of range"),
    (["--epochs", "1", "--eval-every", "0"], "eval_every 0 is out of range"),
    (["--epochs", "1", "--eval-batch-size", "0"], "eval_batch_size 0 is out of range"),
    (["--epochs", "1", "--workers", "-1"], "workers -1 is out of range"),
    (["--epochs", "1", "--lr", "-1"], "lr -1.0 is out of range"),
    (["--epochs", "1", "--lr", "nan"], "lr nan is out of range"),
    (["--epochs", "1", "--lr", "inf"], "lr inf is out of range"),
    (["--epochs", "1", "--device", "bogus"], "device 'bogus' is not a device"),
    (["--epochs", "1", "--class-weights", "abc"], "class_weights 'abc' is not a weighting"),
    (["--epochs", "1", "--crop-size", "0"], "crop_size 0 is out of range"),
    (["--epochs", "1", "--input-scale", "0"], "input_scale 0.0 is out of range"),
    (["--epochs", "1", "--scale-range", "2,1"], "scale_range [2.0, 1.0]: the low factor is above the high one"),
    (["--epochs", "1", "--warmup", "-1"], "warmup -1.0 is out of range"),
    (["--epochs", "1", "--model-option", "base_channels=0"], "base_channels=0 must be a positive integer"),
    (["--epochs", "1", "--dataset-option", "bogus=1"], "dataset 'shapes' has no option bogus"),
]
if not torch.cuda.is_available():
    BAD_TRAIN_FLAGS.append((["--epochs", "1", "--device", "cuda"], "no CUDA GPU is available here"))

BAD_YAML = [
    ("lr: fast\n", "lr 'fast' (str) is not a finite number > 0"),
    ("batch_size: '8'\n", "batch_size '8' (str) is not an integer >= 1"),
    ("epochs: ten\n", "epochs 'ten' (str) is not an integer >= 1 or null"),
    ("epochs: 1.5\n", "epochs 1.5 is not an integer"),
    ("model_options: [4]\n", "model_options [4] is not a mapping"),
    ("hflip: maybe\n", "hflip 'maybe' (str) is not true or false"),
    ("scale_range: 2\n", "scale_range 2 is not two numbers"),
]


def error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(("flags", "expected"), BAD_TRAIN_FLAGS, ids=[" ".join(f) for f, _ in BAD_TRAIN_FLAGS])
def test_bad_train_flags_get_one_line_and_exit_2(flags, expected, tmp_path, capsys):
    assert main(["train", *TINY, *flags, "--out", str(tmp_path / "run")]) == 2
    assert expected in error_line(capsys)
    assert not (tmp_path / "run").exists()  # refused before anything was written


@pytest.mark.parametrize(("text", "expected"), BAD_YAML, ids=[t.strip() for t, _ in BAD_YAML])
def test_bad_yaml_values_get_one_line_and_exit_2(text, expected, tmp_path, capsys):
    (tmp_path / "c.yaml").write_text(text)
    assert main(["train", "--config", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "run")]) == 2
    assert expected in error_line(capsys)


def test_bad_values_of_the_other_commands(tmp_path, capsys):
    for folder in ("pred", "truth"):
        (tmp_path / folder).mkdir()
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / folder / "a.png")
    (tmp_path / "afile").write_text("x")
    cases = [
        (["score", str(tmp_path / "pred"), str(tmp_path / "truth"), "--num-classes", "-3"], "num_classes -3 is out of range"),
        (["score", str(tmp_path / "pred"), str(tmp_path / "truth"), "--num-classes", "3", "--json", str(tmp_path)],
         "is a folder; give the path of a file"),
        (["train", *TINY, "--epochs", "1", "--out", str(tmp_path / "afile")], "afile is a file; give a folder"),
        (["predict", "--checkpoint", str(tmp_path / "none.pt"), str(tmp_path / "pred"), "--out", str(tmp_path / "o"),
          "--batch-size", "0"], "batch_size 0 is out of range"),
        (["data", "verify", "--dataset", "shapes", "--root", str(tmp_path), "--workers", "-1"], "workers -1 is out of range"),
        (["data", "verify", "--dataset", "shapes", "--root", str(tmp_path), "--dataset-option", "bogus=1"],
         "dataset 'shapes' has no option bogus"),
    ]  # fmt: skip
    for argv, expected in cases:
        assert main(argv) == 2, argv
        assert expected in error_line(capsys), argv


def test_predict_never_writes_one_output_twice(tmp_path):
    model = pixelwise.create_model("unet", num_classes=2, base_channels=4, depth=2)
    checkpoint = pixelwise.save_model(model, tmp_path / "m.pt")
    for folder, name in [("A", "a.png"), ("A", "a.jpg"), ("A", "x.v1.png"), ("A", "x.v2.png"), ("B", "a.png"), ("B", "c.png")]:
        (tmp_path / folder).mkdir(exist_ok=True)
        Image.fromarray(np.full((8, 8, 3), len(name), np.uint8)).save(tmp_path / folder / name)
    report = pixelwise.predict(checkpoint=checkpoint, inputs=[tmp_path / "A", tmp_path / "B"], out=tmp_path / "out",
                               progress=False)
    written = [path for paths in report.written.values() for path in paths]
    assert len(report.written) == 6 and len(written) == len(set(written)) == 18
    assert all(path.is_file() for path in written)
    names = sorted(str(p.relative_to(tmp_path / "out")) for p in written if not p.name.endswith(("_color.png", "_overlay.png")))
    assert names == ["A/a.png.png", "B/a.png.png", "a.jpg.png", "c.png", "x.v1.png", "x.v2.png"]


def tiny_config(out: Path, **changes) -> pixelwise.TrainConfig:
    base = dict(
        dataset="shapes", dataset_options={"size": 32, "length": 8}, model="unet",
        model_options={"base_channels": 4, "depth": 2}, epochs=1, batch_size=4, workers=0, progress=False,
        tensorboard=False, out=str(out),
    )  # fmt: skip
    return pixelwise.TrainConfig(**{**base, **changes})


def test_a_folder_holding_a_run_is_refused_unless_resumed_or_overwritten(tmp_path):
    pixelwise.train(tiny_config(tmp_path))
    with pytest.raises(PixelwiseError, match=r"already holds a run \(config.yaml, last.pt, best.pt.*pass --resume"):
        pixelwise.train(tiny_config(tmp_path, seed=1))
    before = (tmp_path / "best.pt").read_bytes()
    with pytest.raises(PixelwiseError, match=r"the run is finished \(epoch 1 of 1\); nothing to resume"):
        pixelwise.train(tiny_config(tmp_path, resume=True))
    assert (tmp_path / "best.pt").read_bytes() == before  # nothing trained, nothing overwritten
    result = pixelwise.train(tiny_config(tmp_path, seed=1, overwrite=True))
    assert result.epochs_run == 1 and (tmp_path / "best.pt").read_bytes() != before


def test_a_second_writer_is_refused(tmp_path):
    from pixelwise.engine.run_folder import run_lock

    tmp_path.mkdir(exist_ok=True)
    with run_lock(tmp_path), pytest.raises(PixelwiseError, match=r"is being written by another pixelwise train \(process \d+\)"):
        pixelwise.train(tiny_config(tmp_path))
    assert not (tmp_path / "last.pt").exists()


def test_a_non_finite_loss_stops_the_run_and_keeps_best_pt(tmp_path):
    from pixelwise.losses import create_loss
    from pixelwise.tasks import SemanticTask

    pixelwise.train(tiny_config(tmp_path))
    best, history = (tmp_path / "best.pt").read_bytes(), (tmp_path / "history.csv").read_text()

    class Exploding(SemanticTask):
        def losses(self, model, batch):
            return {"loss": super().losses(model, batch)["loss"] * float("nan")}

    task = Exploding(criterion=create_loss("ce"), num_classes=4, ignore_index=255,
                     class_names=["background", "circle", "square", "triangle"])
    with pytest.raises(PixelwiseError, match=r"the training loss became nan by step \d+ \(epoch 2\); nothing of this epoch was saved"):
        pixelwise.train(tiny_config(tmp_path, epochs=2, resume=True), task=task)
    assert (tmp_path / "best.pt").read_bytes() == best and (tmp_path / "history.csv").read_text() == history


def test_history_never_lists_an_epoch_no_checkpoint_holds(tmp_path, monkeypatch):
    from pixelwise.engine import train as train_module

    def full_disk(path, *args, **kwargs):
        raise PixelwiseError(f"no space left on device writing {path}; free some space and run again")

    monkeypatch.setattr(train_module, "_save", full_disk)
    with pytest.raises(PixelwiseError, match="no space left on device writing .*last.pt"):
        pixelwise.train(tiny_config(tmp_path))
    assert not (tmp_path / "history.csv").exists()


def test_a_full_disk_is_named(tmp_path, monkeypatch):
    from pixelwise.utils.atomic import atomic_write_text

    def no_space(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", no_space)
    with pytest.raises(PixelwiseError, match=r"^no space left on device writing .*history.csv; free some space"):
        atomic_write_text(tmp_path / "history.csv", "epoch\n")
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind


def test_list_files_cannot_lead_outside_the_dataset(tmp_path):
    root = tmp_path / "camvid"
    shutil.copytree(_tiny_camvid(tmp_path), root)
    (tmp_path / "outside").mkdir()
    for line, shown in [("../outside/x.png ../outside/y.png", "../outside/x.png"),
                        ("/etc/passwd /etc/passwd", "/etc/passwd")]:
        (root / "train.txt").write_text(f"train/f.png trainannot/f.png\n{line}\n")
        with pytest.raises(PixelwiseError, match=rf"train.txt line 2 names '{shown}', which is outside the dataset folder"):
            pixelwise.create_dataset("camvid", root=str(root), split="train")
    (root / "train.txt").write_text("nowhere/f.png trainannot/f.png\n")  # a list naming a missing folder
    data = pixelwise.create_dataset("camvid", root=str(root), split="train")
    with pytest.raises(PixelwiseError, match=r"image file .*nowhere/f.png not found; restore it or remove it from the split list"):
        data[0]


def _tiny_camvid(tmp_path: Path) -> Path:
    source = tmp_path / "source"
    for folder in ("train", "trainannot"):
        (source / folder).mkdir(parents=True)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(source / "train" / "f.png")
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(source / "trainannot" / "f.png")
    return source


def test_huge_images_are_refused_from_their_header(tmp_path, monkeypatch, capsys):
    model = pixelwise.create_model("unet", num_classes=2, base_channels=4, depth=2)
    checkpoint = pixelwise.save_model(model, tmp_path / "m.pt")
    Image.fromarray(np.zeros((60, 50, 3), np.uint8)).save(tmp_path / "big.png")
    monkeypatch.setenv("PIXELWISE_MAX_PIXELS", "2000")
    assert main(["predict", "--checkpoint", str(checkpoint), str(tmp_path / "big.png"), "--out", str(tmp_path / "o"),
                 "--no-progress"]) == 1
    assert "big.png is 50x60 (0 megapixels), over the limit" in capsys.readouterr().out
    from pixelwise.data.decode import read_mask

    with pytest.raises(PixelwiseError, match="over the limit"):
        read_mask(tmp_path / "big.png")
    monkeypatch.setenv("PIXELWISE_MAX_PIXELS", "3000")
    assert read_mask(tmp_path / "big.png").shape == (3, 60, 50)


def test_a_truncated_archive_is_named(tmp_path):
    from pixelwise.data.download import extract_archive

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.bin").write_bytes(np.random.default_rng(0).bytes(50_000))
    with tarfile.open(tmp_path / "x.tar.gz", "w:gz") as bundle:
        bundle.add(tmp_path / "src", arcname="src")
    data = (tmp_path / "x.tar.gz").read_bytes()
    (tmp_path / "cut.tar.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(PixelwiseError, match=r"archive .*cut.tar.gz is truncated or corrupt .*delete it and download again"):
        extract_archive(archive=tmp_path / "cut.tar.gz", dest=tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


class Broken(Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, index):
        raise PixelwiseError("image file x.png cannot be decoded; re-export it")


def test_a_dataloader_worker_s_error_is_shown_without_its_traceback():
    with pytest.raises(PixelwiseError) as caught:
        next(iter(DataLoader(Broken(), num_workers=1)))
    assert "Traceback" in str(caught.value)  # what torch makes of it
    assert one_line(caught.value) == "image file x.png cannot be decoded; re-export it"
