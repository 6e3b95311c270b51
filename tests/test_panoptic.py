"""Panoptic FPN and the panoptic task: one network for stuff and things, trained and scored through the engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from pixelwise.cli.main import main
from pixelwise.errors import PixelwiseError
from pixelwise.models import create_model
from pixelwise.models.registry import model_task

TINY = ["--dataset", "shapes", "--dataset-option", "size=64", "--dataset-option", "length=4",
        "--model", "panoptic_fpn", "--model-option", "min_size=64", "--model-option", "max_size=64",
        "--model-option", "fpn_channels=32", "--model-option", "semantic_channels=16", "--model-option", "mask_head_convs=1",
        "--batch-size", "2", "--eval-batch-size", "2", "--workers", "0", "--no-progress", "--no-tensorboard", "--log-every", "1"]


def tiny_panoptic():
    torch.manual_seed(0)
    return create_model("panoptic_fpn", num_classes=5, things=[2, 4], fpn_channels=32, semantic_channels=16,
                        mask_head_convs=1, min_size=64, max_size=64)


def target(size: int = 64) -> dict:
    masks = torch.zeros(2, size, size, dtype=torch.uint8)
    masks[0, 5:30, 5:25] = 1
    masks[1, 30:60, 30:60] = 1
    semantic = torch.ones(size, size, dtype=torch.int64)  # stuff class 1 ...
    semantic[: size // 4] = 0  # ... and stuff class 0 on top
    semantic[masks[0].bool()], semantic[masks[1].bool()] = 2, 4  # the two things
    return {"boxes": torch.tensor([[5.0, 5, 25, 30], [30, 30, 60, 60]]), "labels": torch.tensor([2, 4]), "masks": masks,
            "iscrowd": torch.tensor([0, 0]), "area": masks.flatten(1).sum(1).float(), "semantic": semantic, "image_id": 1}


def test_panoptic_fpn_is_a_panoptic_model_and_needs_its_things():
    assert model_task("panoptic_fpn") == "panoptic"
    with pytest.raises(PixelwiseError, match="things"):
        create_model("panoptic_fpn", num_classes=5)
    with pytest.raises(PixelwiseError, match="things"):
        create_model("panoptic_fpn", num_classes=5, things=[2, 7])


def test_the_detector_sees_things_only_and_outputs_speak_panoptic_classes():
    model = tiny_panoptic()
    assert model.detector.roi_heads.box_predictor.cls_score.out_features == 3  # background + 2 things
    assert model.to_detector.tolist() == [0, 0, 1, 0, 2] and model.to_panoptic.tolist() == [0, 2, 4]
    model.train()
    losses = model([torch.rand(3, 64, 64), torch.rand(3, 64, 64)], [target(), target()])
    assert {"loss_semantic", "loss_mask", "loss_classifier", "loss_objectness"} <= set(losses)
    sum(losses.values()).backward()
    assert model.semantic_head.classifier.weight.grad is not None
    model.eval()
    with torch.no_grad():
        output = model([torch.rand(3, 48, 80)])[0]
    assert output["semantic"].shape == (5, 48, 80)  # logits at the input's size
    assert set(output["labels"].tolist()) <= {2, 4}  # detector labels mapped back to panoptic classes


def test_the_semantic_branch_learns_a_fixed_map():
    """Twenty steps on one image bring the semantic loss well down: the branch and its target resizing line up."""
    model = tiny_panoptic()
    image, truth = torch.rand(3, 64, 64), target()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    first = None
    for _ in range(20):
        loss = model([image], [truth])["loss_semantic"]
        first = first if first is not None else float(loss.detach())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert float(loss) < 0.5 * first


@pytest.fixture(scope="module")
def panoptic_run(tmp_path_factory):
    """One epoch of a tiny Panoptic FPN on panoptic shapes through the CLI."""
    run = tmp_path_factory.mktemp("panoptic") / "run"
    assert main(["train", *TINY, "--epochs", "1", "--out", str(run)]) == 0
    return run


def test_one_epoch_writes_a_panoptic_model_file_and_pq(panoptic_run):
    from pixelwise.modelfile.load import read_any

    spec = read_any(panoptic_run / "best.pt").spec
    assert spec.task == "panoptic" and spec.labels.things == (3, 4, 5)
    assert spec.model_options["things"] == [3, 4, 5]  # the network is rebuilt with the data's things
    scores = json.loads((panoptic_run / "metrics.json").read_text())
    assert {"all", "things", "stuff", "per_class"} <= set(scores) and scores["num_images"] == 4
    assert "val_pq" in (panoptic_run / "history.csv").read_text()


def test_evaluate_and_predict_write_the_coco_panoptic_format(panoptic_run, tmp_path, capsys):
    from pixelwise.data.panoptic_format import read_panoptic_json

    out = tmp_path / "eval"
    assert main(["evaluate", "--checkpoint", str(panoptic_run / "best.pt"), "--dataset-option", "length=2",
                 "--out", str(out), "--panels", "1"]) == 0
    assert "Things" in capsys.readouterr().out
    written = read_panoptic_json(out / "panoptic.json")
    assert len(written["annotations"]) == 2 and len(list((out / "panoptic").glob("*.png"))) == 2
    assert {"scores.json", "per_class.csv", "pq.txt", "panel_0.png"} <= {p.name for p in out.iterdir()}
    # the written predictions score the same through `pixelwise score` as evaluate scored them
    truth = tmp_path / "truth"
    from pixelwise.data.panoptic import create_panoptic_dataset
    from pixelwise.data.panoptic_format import write_panoptic, write_panoptic_json

    data = create_panoptic_dataset("shapes", split="val", size=64, length=2)
    annotations = []
    for index in range(2):
        _, target = data[index]
        name = written["annotations"][index]["file_name"]
        annotations.append(write_panoptic(truth, file_name=name, segments=target["segments"].numpy(),
                                          segments_info=target["segments_info"],
                                          image_id=written["annotations"][index]["image_id"], categories=data.categories()))
    write_panoptic_json(tmp_path / "truth.json", annotations=annotations, categories=data.categories())
    assert main(["score", "--panoptic-gt", str(tmp_path / "truth.json"), "--panoptic-gt-dir", str(truth),
                 "--panoptic-pred", str(out / "panoptic.json"), "--panoptic-pred-dir", str(out / "panoptic"),
                 "--json", str(tmp_path / "s.json")]) == 0
    rescored = json.loads((tmp_path / "s.json").read_text())
    evaluated = json.loads((out / "scores.json").read_text())
    assert [rescored[g] for g in ("all", "things", "stuff")] == [evaluated[g] for g in ("all", "things", "stuff")]


PENNFUDAN = next((p for p in (Path("/work/shared/data/pennfudan"), Path(__file__).resolve().parents[2] / "shared" / "data" / "pennfudan")
                  if p.is_dir()), Path("missing"))


@pytest.mark.skipif(not PENNFUDAN.is_dir(), reason="needs ../shared/data/pennfudan")
def test_a_semantic_and_an_instance_model_fuse_into_panoptic(tmp_path, capsys):
    """The two-model path end to end on Penn-Fudan's val split (untrained tiny models: the plumbing, not a score)."""
    from pixelwise.modelfile import save_model
    from pixelwise.modelfile.spec import spec_for_model

    names = ["background", "pedestrian"]
    dataset = {"name": "pennfudan", "root": str(PENNFUDAN), "options": {}}
    torch.manual_seed(0)
    unet = create_model("unet", num_classes=2, base_channels=4, depth=2)
    detector = create_model("maskrcnn_r18", num_classes=2, fpn_channels=32, min_size=64, max_size=96)
    save_model(unet, tmp_path / "semantic.pt", spec=spec_for_model(unet, class_names=names, source={"dataset": dataset}))
    save_model(detector, tmp_path / "instance.pt",
               spec=spec_for_model(detector, class_names=names, ignore_index=None, things=[1]))
    assert main(["evaluate", "--checkpoint", str(tmp_path / "semantic.pt"), "--instance-checkpoint",
                 str(tmp_path / "instance.pt"), "--out", str(tmp_path / "eval"), "--panels", "1"]) == 0
    printed = capsys.readouterr().out
    assert "pedestrian" in printed and "Stuff" in printed
    scores = json.loads((tmp_path / "eval" / "scores.json").read_text())
    assert scores["num_images"] == 12  # Penn-Fudan's seeded val split
    assert main(["evaluate", "--checkpoint", str(tmp_path / "instance.pt"), "--instance-checkpoint",
                 str(tmp_path / "instance.pt")]) == 2
    assert "semantic --checkpoint" in capsys.readouterr().err
