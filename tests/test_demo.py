"""The demo pipeline end to end on a tiny budget: it writes the metrics JSON, the curves and the panels."""

from __future__ import annotations

import json

from PIL import Image

from pixelwise.cli.main import main


def test_demo_writes_metrics_curves_and_panels(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--epochs", "1", "--train-images", "32", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "circle" in printed and "validation mIoU" in printed

    metrics = json.loads((out / "eval" / "metrics.json").read_text())
    assert metrics["class_names"] == ["background", "circle", "square", "triangle"]
    assert len(metrics["per_class"]["iou"]) == 4
    assert 0.0 <= metrics["pixel_accuracy"] <= 1.0
    assert sum(map(sum, metrics["confusion_matrix"])) == 128 * 64 * 64  # the whole held-out split

    curves = Image.open(out / "curves.png")
    panels = Image.open(out / "eval" / "panels.png")
    assert curves.width > 300 and panels.height > panels.width / 4  # several rows of image | truth | prediction
    assert (out / "best.pt").is_file() and (out / "history.csv").read_text().count("\n") == 2
