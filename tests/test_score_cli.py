"""``pixelwise score``: the worked example end to end, and every bad input exits 2 naming the file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixelwise.cli.main import main


def write_labels(path: Path, labels: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(labels.astype(np.uint8)).save(path)
    return path


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    truth = np.zeros((4, 4), np.uint8)
    truth[0, 0] = truth[0, 1] = 1
    pred = np.zeros((4, 4), np.uint8)
    pred[0, 0] = pred[1, 0] = 1
    write_labels(tmp_path / "pred" / "img1.png", pred)
    write_labels(tmp_path / "truth" / "img1.png", truth)
    return tmp_path / "pred", tmp_path / "truth"


def test_score_reproduces_worked_example(folders, tmp_path, capsys):
    pred, truth = folders
    out = tmp_path / "scores.json"
    code = main(["score", str(pred), str(truth), "--num-classes", "2", "--class-names", "BG,A", "--json", str(out)])
    assert code == 0
    data = json.loads(out.read_text())
    assert data["num_classes"] == 2 and data["class_names"] == ["BG", "A"]
    assert data["per_class"]["iou"][1] == pytest.approx(1 / 3)
    assert data["per_class"]["dice"][1] == pytest.approx(0.5)
    assert data["mean_iou"] == pytest.approx(0.6)
    assert data["pixel_accuracy"] == pytest.approx(0.875)
    assert data["macro_f1"] == pytest.approx(0.7142857)
    assert data["micro_f1"] == pytest.approx(0.875)
    assert data["confusion_matrix"] == [[13, 1], [1, 1]]
    assert set(data) >= {"mean_accuracy", "fw_iou"}
    assert set(data["per_class"]) == {"iou", "dice", "precision", "recall", "f1", "accuracy"}
    assert "A " in capsys.readouterr().out


def run_bad(args: list[str], capsys) -> str:
    code = main(args)
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1, err
    return err


def test_missing_counterpart(folders, capsys):
    pred, truth = folders
    write_labels(pred / "extra.png", np.zeros((4, 4)))
    err = run_bad(["score", str(pred), str(truth), "--num-classes", "2"], capsys)
    assert "extra.png" in err and "no truth file" in err
    write_labels(truth / "other.png", np.zeros((4, 4)))
    (pred / "extra.png").unlink()
    err = run_bad(["score", str(pred), str(truth), "--num-classes", "2"], capsys)
    assert "other.png" in err and "no prediction" in err


def test_size_mismatch(folders, capsys):
    pred, truth = folders
    write_labels(pred / "img1.png", np.zeros((5, 4)))
    err = run_bad(["score", str(pred), str(truth), "--num-classes", "2"], capsys)
    assert "img1.png" in err and "size" in err


def test_ignore_index_defaults_to_255_and_none_counts_every_pixel(folders, tmp_path, capsys):
    pred, truth = folders
    labels = np.zeros((4, 4))
    labels[2, 2] = 255
    write_labels(truth / "img1.png", labels)
    out = tmp_path / "scores.json"
    assert main(["score", str(pred), str(truth), "--num-classes", "2", "--json", str(out)]) == 0
    assert sum(map(sum, json.loads(out.read_text())["confusion_matrix"])) == 15  # the 255 pixel is not counted
    never = tmp_path / "never.json"
    err = run_bad(["score", str(pred), str(truth), "--num-classes", "2", "--ignore-index", "none", "--json", str(never)], capsys)
    assert "img1.png" in err and "value(s) 255" in err and "--ignore-index" in err
    assert not never.exists()  # nothing half-written
    assert main(["score", str(pred), str(truth), "--num-classes", "2", "--ignore-index", "7"]) == 2
    assert "value(s) 255, not a class (0..1 or the ignore index 7)" in capsys.readouterr().err


def test_bad_ignore_index_is_a_usage_error(folders, capsys):
    pred, truth = folders
    with pytest.raises(SystemExit):
        main(["score", str(pred), str(truth), "--num-classes", "2", "--ignore-index", "void"])
    assert "'void' is not a label" in capsys.readouterr().err


def test_prediction_label_out_of_range(folders, capsys):
    pred, truth = folders
    write_labels(pred / "img1.png", np.full((4, 4), 3))
    err = run_bad(["score", str(pred), str(truth), "--num-classes", "2"], capsys)
    assert str(pred / "img1.png") in err and "value(s) 3, not a class (0..1)" in err


def test_unreadable_and_non_image_files(folders, capsys):
    pred, truth = folders
    (pred / "img1.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    err = run_bad(["score", str(pred), str(truth), "--num-classes", "2"], capsys)
    assert "img1.png" in err and "cannot be decoded" in err
    (pred / "img1.png").unlink()
    (pred / "img1.txt").write_text("hello")
    err = run_bad(["score", str(pred), str(truth), "--num-classes", "2"], capsys)
    assert "img1.txt" in err


def test_low_bit_depth_palette_png_gives_its_indices(folders, capsys):
    pred, truth = folders
    labels = np.zeros((4, 4), np.uint8)
    labels[0, 0] = labels[0, 1] = 1  # the truth exactly
    picture = Image.fromarray(labels).convert("P")
    picture.putpalette([0, 0, 0, 255, 0, 0] * 2)
    picture.save(pred / "img1.png", bits=1)  # a 1-bit palette PNG, as some tools write binary masks
    assert main(["score", str(pred), str(truth), "--num-classes", "2"]) == 0
    assert "pixel accuracy 1.000" in capsys.readouterr().out


def test_rgb_file_is_refused(folders, capsys):
    pred, truth = folders
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(pred / "img1.png")
    err = run_bad(["score", str(pred), str(truth), "--num-classes", "2"], capsys)
    assert "img1.png" in err and "single-channel" in err


def test_empty_or_missing_folder(tmp_path, folders, capsys):
    pred, truth = folders
    (tmp_path / "empty").mkdir()
    err = run_bad(["score", str(tmp_path / "empty"), str(truth), "--num-classes", "2"], capsys)
    assert "empty" in err
    err = run_bad(["score", str(tmp_path / "nowhere"), str(truth), "--num-classes", "2"], capsys)
    assert "does not exist" in err


def test_class_names_must_match_count(folders, capsys):
    pred, truth = folders
    err = run_bad(["score", str(pred), str(truth), "--num-classes", "2", "--class-names", "a,b,c"], capsys)
    assert "3 class names" in err
