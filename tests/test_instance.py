"""Instance segmentation end to end: Mask R-CNN builders, the instance task, train / evaluate / predict."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

import pixelwise
from pixelwise.cli.main import main
from pixelwise.errors import PixelwiseError
from pixelwise.modelfile.load import read_any
from pixelwise.models import create_model
from pixelwise.models.maskrcnn import anchor_generator
from pixelwise.models.registry import model_task
from pixelwise.tasks.instance import InstanceTask, without_crowd

TINY_MODEL = ["--model", "maskrcnn_r18", "--model-option", "min_size=96", "--model-option", "max_size=128",
              "--model-option", "fpn_channels=32", "--model-option", "mask_head_convs=1"]
TINY = ["--dataset", "shapes", "--dataset-option", "size=96", "--dataset-option", "length=6", *TINY_MODEL,
        "--batch-size", "2", "--eval-batch-size", "2", "--workers", "0", "--no-progress", "--no-tensorboard",
        "--log-every", "1"]


def tiny_detector(num_classes: int = 3, **options):
    torch.manual_seed(0)
    return create_model("maskrcnn_r18", num_classes=num_classes, min_size=64, max_size=96, fpn_channels=32,
                        mask_head_convs=1, **options)


def one_target(height: int = 64, width: int = 80) -> dict:
    masks = torch.zeros(2, height, width, dtype=torch.uint8)
    masks[0, 10:40, 5:30] = 1
    masks[1, 20:60, 40:75] = 1
    return {"boxes": torch.tensor([[5.0, 10, 30, 40], [40, 20, 75, 60]]), "labels": torch.tensor([1, 2]),
            "masks": masks, "iscrowd": torch.tensor([0, 1]), "area": masks.flatten(1).sum(1).float(), "image_id": 7}


def test_the_models_are_registered_as_instance_models():
    assert model_task("maskrcnn") == model_task("maskrcnn_r18") == "instance"
    assert model_task("unet") == "semantic"


def test_predictors_are_sized_for_the_classes_background_included():
    model = tiny_detector(num_classes=4)
    assert model.roi_heads.box_predictor.cls_score.out_features == 4
    assert model.roi_heads.box_predictor.bbox_pred.out_features == 16
    assert model.roi_heads.mask_predictor.mask_fcn_logits.out_channels == 4
    assert model.roi_heads.box_head.fc7.out_features == 1024  # the paper's box head ...
    narrow = tiny_detector(num_classes=4, box_head_size=256)  # ... or a narrower one for small images
    assert narrow.roi_heads.box_head.fc7.out_features == narrow.roi_heads.box_predictor.cls_score.in_features == 256


def test_small_maskrcnn_runs_on_any_pixelwise_encoder_and_its_proposal_counts_are_options():
    half = tiny_detector(backbone="resnet18", backbone_options={"channels": [32, 64, 128, 256], "stem_width": 32},
                         norm="batch", rpn_pre_nms_top_n_test=50, rpn_post_nms_top_n_test=20)
    full = tiny_detector(norm="batch")
    encoder = half.backbone.encoder  # pixelwise's (timm) ResNet-18 at half width, strides 4-32 into the FPN
    assert [encoder.out_channels[i] for i in half.backbone.levels] == [32, 64, 128, 256]
    assert sum(p.numel() for p in half.backbone.parameters()) < 0.3 * sum(p.numel() for p in full.backbone.parameters())
    assert half.rpn.pre_nms_top_n() == 2000 and half.rpn.post_nms_top_n() == 500  # training: the defaults
    half.eval()
    assert (half.rpn.pre_nms_top_n(), half.rpn.post_nms_top_n()) == (50, 20)
    with torch.inference_mode():
        features = half.backbone(torch.rand(1, 3, 64, 96))
        (output,) = half([torch.rand(3, 64, 96)])
    assert list(features) == ["0", "1", "2", "3", "pool"]  # P2-P5 and P6, as torchvision's FPN names them
    assert [tuple(f.shape[-2:]) for f in features.values()] == [(16, 24), (8, 12), (4, 6), (2, 3), (1, 2)]
    assert output["masks"].shape[-2:] == (64, 96) and len(output["boxes"]) <= 100
    grouped = tiny_detector(backbone="resnet10t")  # any timm name; GroupNorm reaches timm's layers too
    assert any(isinstance(m, torch.nn.GroupNorm) for m in grouped.backbone.encoder.modules())
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in grouped.backbone.modules())


def test_anchors_default_to_torchvisions_and_can_be_set():
    sizes = [s[0] for s in anchor_generator(anchor_sizes=None, aspect_ratios=(0.5, 1, 2)).sizes]
    assert sizes == [32, 64, 128, 256, 512]
    model = tiny_detector(anchor_sizes=[13, 26, 51, 102, 205], aspect_ratios=[1.0])
    assert [s[0] for s in model.rpn.anchor_generator.sizes] == [13, 26, 51, 102, 205]
    assert model.rpn.head.cls_logits.out_channels == 1  # one anchor per location
    with pytest.raises(PixelwiseError, match="one size per FPN level"):
        anchor_generator(anchor_sizes=[32, 64], aspect_ratios=(1,))


def test_torchvision_maskrcnn_builds_offline_and_loads_a_local_file(tmp_path):
    torch.manual_seed(0)
    coco_like = create_model("maskrcnn", num_classes=5, min_size=64, max_size=96)  # a "pretrained" 5-class model
    path = tmp_path / "coco.pth"
    torch.save(coco_like.state_dict(), path)
    fine_tune = create_model("maskrcnn", num_classes=3, pretrained=str(path), min_size=64, max_size=96)
    assert fine_tune.roi_heads.box_predictor.cls_score.out_features == 3  # predictors replaced ...
    backbone = "backbone.body.layer1.0.conv1.weight"
    torch.testing.assert_close(fine_tune.state_dict()[backbone], coco_like.state_dict()[backbone])  # ... the rest loaded
    with pytest.raises(PixelwiseError, match="does not exist"):
        create_model("maskrcnn", num_classes=3, pretrained=str(tmp_path / "missing.pth"))
    with pytest.raises(PixelwiseError, match="version"):
        create_model("maskrcnn", num_classes=3, version=3)
    with pytest.raises(PixelwiseError, match="in_channels=3"):
        create_model("maskrcnn_r18", num_classes=3, in_channels=1)


def test_a_run_of_this_model_loads_as_pretrained_weights(tmp_path):
    model = tiny_detector()
    torch.save(model.state_dict(), tmp_path / "w.pth")
    again = tiny_detector(pretrained=str(tmp_path / "w.pth"))
    for key, value in model.state_dict().items():
        torch.testing.assert_close(again.state_dict()[key], value)


def test_roi_align_and_nms_compute_in_fp32_under_cpu_autocast():
    """Mask R-CNN under CPU bf16 autocast relies on torchvision's autocast kernels for its two detection ops
    (they cast to fp32, compute, and cast back); without them RoIAlign would pool bf16 features."""
    from torchvision.ops import roi_align

    for op in ("torchvision::roi_align", "torchvision::nms"):
        assert torch._C._dispatch_has_kernel_for_dispatch_key(op, "AutocastCPU"), op
    features = torch.randn(1, 2, 16, 16).to(torch.bfloat16)
    boxes = torch.tensor([[0, 1.3, 2.1, 11.7, 9.2]])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        pooled = roi_align(features, boxes, output_size=3, sampling_ratio=2)
    expected = roi_align(features.float(), boxes, output_size=3, sampling_ratio=2)  # fp32 maths on the same inputs
    assert pooled.dtype == torch.bfloat16
    assert torch.equal(pooled, expected.to(torch.bfloat16))


def test_crowd_regions_are_left_out_of_training_targets():
    target = without_crowd(one_target())
    assert target["labels"].tolist() == [1] and target["masks"].shape[0] == 1 and target["boxes"].shape == (1, 4)
    assert target["image_id"] == 7


def test_the_task_trains_and_infers_a_detector():
    model = tiny_detector()
    task = InstanceTask(class_names=["background", "a", "b"])
    second = {**one_target(), "image_id": 8}
    batch = task.collate([(torch.rand(3, 64, 80), one_target()), (torch.rand(3, 64, 80), second)])
    batch = task.to_device(batch, torch.device("cpu"), channels_last=False)
    model.train()
    terms = task.losses(model, batch)
    assert {"loss_classifier", "loss_box_reg", "loss_mask", "loss_objectness", "loss_rpn_box_reg"} <= set(terms)
    sum(terms.values()).backward()
    model.eval()
    with torch.no_grad():
        outputs = task.infer(model, batch)
    evaluator = task.evaluator(device=torch.device("cpu"))
    evaluator.update(outputs, batch)
    evaluation = evaluator.compute()
    assert evaluation.primary_name == "mask_ap" and set(evaluation.summary) == {"mask_ap", "box_ap", "miou"}
    assert evaluation.scores.images == 2
    evaluator.update(outputs, batch)  # the same two images again: COCO would merge their objects
    with pytest.raises(PixelwiseError, match="used twice"):
        evaluator.compute()


def test_perfect_detections_score_ap_one_and_paint_the_truth():
    """The evaluator itself (truth -> COCO annotations, detections -> results) on detections equal to the truth."""
    task = InstanceTask(class_names=["background", "a", "b"])
    target = {**one_target(), "iscrowd": torch.tensor([0, 0])}
    output = {"boxes": target["boxes"], "labels": target["labels"], "scores": torch.tensor([0.9, 0.8]),
              "masks": target["masks"][:, None].float()}
    evaluator = task.evaluator(device=torch.device("cpu"))
    evaluator.update([output], ([torch.zeros(3, 64, 80)], [target]))
    evaluation = evaluator.compute()
    assert evaluation.summary["mask_ap"] == pytest.approx(1.0) and evaluation.summary["box_ap"] == pytest.approx(1.0)
    assert evaluation.summary["miou"] == pytest.approx(1.0)


@pytest.fixture(scope="module")
def instance_run(tmp_path_factory):
    """One epoch of a tiny Mask R-CNN on instance shapes through the CLI (shared by the tests below)."""
    run = tmp_path_factory.mktemp("instance") / "run"
    assert main(["train", *TINY, "--epochs", "1", "--out", str(run)]) == 0
    return run


def test_one_epoch_through_the_cli_writes_model_files_that_say_instance(instance_run):
    model = pixelwise.load_model(instance_run / "best.pt")
    assert model.roi_heads.box_predictor.cls_score.out_features == 4  # background + 3 shapes
    spec = read_any(instance_run / "best.pt").spec
    assert spec.task == "instance" and spec.labels.things == (1, 2, 3) and spec.labels.ignore_index is None
    assert spec.source["category_ids"] == [0, 1, 2, 3]
    metrics = json.loads((instance_run / "metrics.json").read_text())
    assert metrics["images"] == 6 and "mask" in metrics["summary"] and "semantic" in metrics
    assert "val_mask_ap" in (instance_run / "history.csv").read_text()


def test_evaluate_repeats_the_validation_and_writes_the_ap_files(instance_run, tmp_path, capsys):
    out = tmp_path / "eval"
    assert main(["evaluate", "--checkpoint", str(instance_run / "best.pt"), "--out", str(out), "--panels", "2"]) == 0
    printed = capsys.readouterr().out
    assert "mask  AP" in printed and "box   AP" in printed and "mIoU" in printed
    assert {"metrics.json", "ap.txt", "per_class_ap.csv", "pr_curves.png", "panels.png"} <= {p.name for p in out.iterdir()}
    logged = json.loads((instance_run / "metrics.json").read_text())
    evaluated = json.loads((out / "metrics.json").read_text())
    assert evaluated["summary"]["mask"]["AP"] == pytest.approx(logged["summary"]["mask"]["AP"], abs=1e-9)


def test_predict_writes_overlays_instance_ids_and_coco_results(instance_run, tmp_path):
    from pixelwise.data.instances import create_instance_dataset

    images = tmp_path / "images"
    images.mkdir()
    data = create_instance_dataset("shapes", split="test", size=96, length=2)
    for index in range(2):
        Image.fromarray(data[index][0].permute(1, 2, 0).numpy()).save(images / f"{index}.png")
    out = tmp_path / "pred"
    assert main(["predict", str(images), "--checkpoint", str(instance_run / "best.pt"), "--out", str(out),
                 "--score-threshold", "0", "--no-progress"]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"0.png", "0_instances.png", "0_overlay.png", "1_overlay.png", "results.json", "images.json"} <= names
    results = json.loads((out / "results.json").read_text())
    assert results and {"image_id", "category_id", "bbox", "score", "segmentation"} <= set(results[0])
    assert isinstance(results[0]["segmentation"]["counts"], str)
    ids = np.array(Image.open(out / "0_instances.png"))
    assert ids.shape == (96, 96) and ids.max() <= sum(r["image_id"] == 1 for r in results)


def test_an_instance_model_exports_to_onnx_and_runs_the_same_in_onnxruntime(instance_run, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    from pixelwise.data.instances import create_instance_dataset
    from pixelwise.inference.backends.onnxruntime import OnnxDetector

    exported = tmp_path / "model.onnx"
    assert main(["export", str(instance_run / "best.pt"), "--out", str(exported)]) == 0
    assert "objects in PyTorch" in capsys.readouterr().out
    data = create_instance_dataset("shapes", split="test", size=96, length=2)
    image = torch.cat([data[0][0], data[1][0]], dim=2)  # 96 x 192: another size than the export's 256 x 256
    eager = pixelwise.Predictor.from_file(instance_run / "best.pt", score_threshold=0.0)
    for runtime in (pixelwise.Predictor.from_file(exported, score_threshold=0.0),  # the file, read back
                    pixelwise.Predictor.from_file(instance_run / "best.pt", backend="onnxruntime", score_threshold=0.0)):
        assert isinstance(runtime.model, OnnxDetector)
        expected, actual = eager(image), runtime(image)
        assert len(actual) == len(expected) > 0
        torch.testing.assert_close(actual.boxes, expected.boxes, atol=1e-3, rtol=0)
        torch.testing.assert_close(actual.scores, expected.scores, atol=1e-4, rtol=0)
        assert torch.equal(actual.labels, expected.labels)
        assert (actual.masks == expected.masks).float().mean() > 0.999
    windowed = pixelwise.Predictor.from_file(exported, window=64, overlap=0.25, score_threshold=0.0)(image)
    assert windowed.size == (96, 192) and len(windowed) > 0
    with pytest.raises(PixelwiseError, match="onnxruntime"):
        pixelwise.Predictor.from_file(instance_run / "best.pt", backend="openvino")


def test_a_semantic_model_is_scored_as_instances_by_connected_components(tiny_run, tmp_path, capsys):
    """The baseline: a semantic shapes model's regions as objects, on the instance form of the same data."""
    assert main(["evaluate", "--checkpoint", str(tiny_run / "best.pt"), "--as-instances",
                 "--dataset-option", "length=4", "--dataset-option", "size=32"]) == 0
    assert "mask  AP" in capsys.readouterr().out


def test_progressive_resizing_is_refused_for_mask_rcnn(tmp_path, capsys):
    code = main(["train", *TINY, "--epochs", "1", "--crop-size", "64", "--resize-schedule", "0:0.5,0.5:1",
                 "--out", str(tmp_path / "r")])
    assert code != 0 and "min_size" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()  # nothing left behind


def test_torchrun_two_processes_count_every_val_image_once(tmp_path):
    run = tmp_path / "ddp"
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29571",
         "-m", "pixelwise", "train", *TINY, "--dataset-option", "length=5", "--epochs", "1", "--device", "cpu",
         "--out", str(run)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["images"] == 5  # 3 on rank 0, 2 on rank 1, none twice (COCO would refuse a repeated id)
