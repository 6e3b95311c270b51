"""The web app and the HTML report for instance and panoptic models.

The API is checked twice: against hand-made predictions (exact boxes, masks, scores, segment colours) and
against tiny Mask R-CNN and Panoptic FPN models trained for one epoch through the CLI (what the server
returns is what the predictor predicts). The reports of both evaluations must hold their AP / PQ tables;
one ``browser`` test drops an image on the page of the instance model and reads the drawing and the list.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("fastapi", reason="needs the web extra: pip install -e '.[web]'")

from fastapi.testclient import TestClient  # noqa: E402
from test_web import _upload_and_read_sizes, _wait_for_state, chrome, png_bomb, png_bytes, random_image  # noqa: E402, F401 (fixture)

import pixelwise  # noqa: E402
from pixelwise.apps.web import ServeLimits, create_app, running_in_thread  # noqa: E402
from pixelwise.cli.main import main  # noqa: E402
from pixelwise.errors import PixelwiseError  # noqa: E402
from pixelwise.inference import InstancePrediction, PanopticPrediction, Predictor  # noqa: E402
from pixelwise.metrics.rle import decode_masks  # noqa: E402
from pixelwise.modelfile.spec import Labels  # noqa: E402
from pixelwise.visual.instances import instance_colors  # noqa: E402
from pixelwise.visual.panoptic import segment_colors  # noqa: E402

COMMON = ["--dataset", "shapes", "--dataset-option", "size=64", "--dataset-option", "length=4",
          "--model-option", "min_size=64", "--model-option", "max_size=64", "--model-option", "fpn_channels=32",
          "--model-option", "mask_head_convs=1", "--batch-size", "2", "--eval-batch-size", "2", "--workers", "0",
          "--no-progress", "--no-tensorboard", "--log-every", "1", "--epochs", "1"]  # fmt: skip
SCORE_THRESHOLD = 0.05  # after one epoch, Mask R-CNN's scores are below 0.1: low enough to see some
LIMITS = ServeLimits(max_upload_bytes=2 * 2**20, max_pixels=1_000_000)


def decoded_png(data: str) -> np.ndarray:
    return np.array(Image.open(io.BytesIO(base64.b64decode(data))))


def post(client: TestClient, image: np.ndarray, **params) -> dict:
    response = client.post("/api/predict", params=params, files={"image": ("photo.png", png_bytes(image), "image/png")})
    assert response.status_code == 200, response.text
    return response.json()


# ---------------------------------------------------------------- hand-made predictions: exact JSON


class _FixedPredictor(Predictor):
    """Returns the same prediction, cut to the image's size, for every image (no network)."""

    def __init__(self, task: str, labels: Labels, prediction) -> None:
        self.task, self.labels, self.prediction = task, labels, prediction  # type: ignore[misc]

    def predict_batch(self, images: torch.Tensor) -> list:
        return [self.prediction for _ in images]


def hand_instances() -> InstancePrediction:
    masks = torch.zeros(2, 32, 48, dtype=torch.bool)
    masks[0, 4:12, 6:20] = True  # 8 x 14
    masks[1, 16:30, 30:40] = True  # 14 x 10
    return InstancePrediction(boxes=torch.tensor([[6.0, 4, 20, 12], [30, 16, 40, 30]]), labels=torch.tensor([2, 1]),
                              scores=torch.tensor([0.9, 0.6]), masks=masks, class_names=("background", "cat", "dog"))


def hand_panoptic() -> PanopticPrediction:
    segments = torch.zeros(32, 48, dtype=torch.int32)
    segments[:16] = 1  # sky, stuff
    segments[20:30, 5:15] = 7  # a person
    segments[20:30, 25:35] = 9  # another person
    info = [{"id": 1, "category_id": 0, "isthing": False, "iscrowd": 0, "area": 16 * 48},
            {"id": 7, "category_id": 1, "isthing": True, "iscrowd": 0, "area": 100, "score": 0.875},
            {"id": 9, "category_id": 1, "isthing": True, "iscrowd": 0, "area": 100, "score": 0.5}]  # fmt: skip
    return PanopticPrediction(segments=segments, segments_info=info, class_names=("sky", "person"), things=(1,))


def test_instances_travel_with_boxes_scores_rle_masks_and_colours():
    prediction = hand_instances()
    labels = Labels(class_names=prediction.class_names, ignore_index=None, things=(1, 2))
    client = TestClient(create_app(_FixedPredictor("instance", labels, prediction), limits=LIMITS))
    model = client.get("/api/model").json()
    assert model["task"] == "instance" and model["things"] == [1, 2] and model["classes"][0] == "background"

    body = post(client, random_image(32, 48))
    assert body["task"] == "instance"
    first, second = body["instances"]
    colours = instance_colors(2)
    assert first == {"id": 1, "index": 2, "class": "dog", "score": 0.9, "box": [6.0, 4.0, 20.0, 12.0], "area": 112,
                     "mask": first["mask"], "color": list(colours[0])}  # fmt: skip
    assert (second["class"], second["score"], second["area"], second["color"]) == ("cat", 0.6, 140, list(colours[1]))
    assert isinstance(first["mask"]["counts"], str) and first["mask"]["size"] == [32, 48]
    np.testing.assert_array_equal(decode_masks([first["mask"], second["mask"]]), prediction.masks.numpy())
    shares = {area["name"]: area["fraction"] for area in body["areas"]}
    assert shares == pytest.approx({"background": 1 - 252 / 1536, "cat": 140 / 1536, "dog": 112 / 1536})

    drawing = decoded_png(body["drawing"]["data"])  # (H, W, 4): the instances drawn, transparent elsewhere
    assert drawing.shape == (32, 48, 4)
    assert (drawing[..., 3][prediction.masks.any(0).numpy()] == 255).all()
    assert drawing[0, 47, 3] == 0 and drawing[31, 0, 3] == 0  # corners far from every box and caption
    np.testing.assert_array_equal(drawing[20, 35, :3], colours[1])  # inside the second mask, its colour


def test_segments_travel_with_ids_classes_scores_and_the_id_map():
    prediction = hand_panoptic()
    palette = ((135, 206, 235), (220, 20, 60))
    labels = Labels(class_names=prediction.class_names, palette=palette, things=(1,))
    client = TestClient(create_app(_FixedPredictor("panoptic", labels, prediction), limits=LIMITS))
    assert client.get("/api/model").json()["things"] == [1]

    body = post(client, random_image(32, 48), encoding="rle")
    colours = segment_colors(prediction.segments_info, things=(1,), palette=palette)
    assert body["segments"] == [
        {"id": 1, "index": 0, "class": "sky", "isthing": False, "area": 768, "color": list(palette[0])},
        {"id": 7, "index": 1, "class": "person", "isthing": True, "area": 100, "color": list(colours[7]), "score": 0.875},
        {"id": 9, "index": 1, "class": "person", "isthing": True, "area": 100, "color": list(colours[9]), "score": 0.5},
    ]
    assert colours[7] != colours[9]  # a shade per person
    runs = body["segment_map"]
    np.testing.assert_array_equal(np.repeat(runs["values"], runs["lengths"]).reshape(32, 48), prediction.segments.numpy())
    classes = body["class_map"]  # void pixels hold 255, the ignore index
    assert set(np.repeat(classes["values"], classes["lengths"]).tolist()) == {0, 1, 255}
    assert body["void"] == pytest.approx(1 - 968 / 1536)
    assert sum(area["fraction"] for area in body["areas"]) + body["void"] == pytest.approx(1.0)
    alpha = decoded_png(body["drawing"]["data"])[..., 3]
    np.testing.assert_array_equal(alpha == 255, prediction.segments.numpy() != 0)


def test_upload_limits_are_the_same_for_instance_models():
    prediction = hand_instances()
    labels = Labels(class_names=prediction.class_names, ignore_index=None, things=(1, 2))
    client = TestClient(create_app(_FixedPredictor("instance", labels, prediction), limits=LIMITS))

    def send(data: bytes):
        return client.post("/api/predict", files={"image": ("x.png", data, "image/png")})

    assert send(b"not an image").status_code == 400
    assert send(png_bomb(30_000)).status_code == 413
    assert send(b"\0" * (LIMITS.max_upload_bytes + 1)).status_code == 413
    assert client.get("/healthz").json()["refused"] == 3


def test_an_unknown_task_is_refused():
    with pytest.raises(PixelwiseError, match="semantic, instance, panoptic"):
        create_app(_FixedPredictor("depth", Labels(class_names=("a",)), None))


# ---------------------------------------------------------------- tiny trained models through the CLI


@pytest.fixture(scope="module")
def instance_run(tmp_path_factory, one_cpu_thread) -> Path:
    """One epoch of a tiny Mask R-CNN on 64 px shapes, evaluated into ``eval/`` with ``--html``."""
    run = tmp_path_factory.mktemp("web-instance") / "run"
    assert main(["train", *COMMON, "--model", "maskrcnn_r18", "--out", str(run)]) == 0
    assert main(["evaluate", "--checkpoint", str(run / "best.pt"), "--out", str(run / "eval"), "--panels", "2",
                 "--html"]) == 0  # fmt: skip
    return run


@pytest.fixture(scope="module")
def panoptic_run(tmp_path_factory, one_cpu_thread) -> Path:
    """One epoch of a tiny Panoptic FPN on 64 px panoptic shapes (not evaluated: its run folder has scores only)."""
    run = tmp_path_factory.mktemp("web-panoptic") / "run"
    assert main(["train", *COMMON, "--model", "panoptic_fpn", "--model-option", "semantic_channels=16",
                 "--out", str(run)]) == 0  # fmt: skip
    return run


@pytest.fixture(scope="module")
def shapes_image() -> np.ndarray:
    from pixelwise.data.instances import create_instance_dataset

    image, _ = create_instance_dataset("shapes", split="val", size=64, length=1)[0]
    return image.permute(1, 2, 0).numpy()  # (H, W, 3) uint8


@pytest.fixture(scope="module")
def instance_predictor(instance_run):
    return pixelwise.Predictor.from_file(instance_run / "best.pt", device="cpu", precision="fp32",
                                         score_threshold=SCORE_THRESHOLD)  # fmt: skip


def test_instance_model_api_returns_what_the_predictor_predicts(instance_predictor, shapes_image):
    client = TestClient(create_app(instance_predictor, limits=LIMITS))
    model = client.get("/api/model").json()
    assert model["task"] == "instance" and model["name"] == "maskrcnn_r18"
    assert model["classes"] == ["background", "circle", "square", "triangle"] and model["score_threshold"] == SCORE_THRESHOLD

    body = post(client, shapes_image)
    expected = instance_predictor(shapes_image)
    assert len(body["instances"]) == len(expected) > 0
    assert [i["score"] for i in body["instances"]] == pytest.approx(expected.scores.tolist(), abs=1e-4)
    assert all(i["score"] >= SCORE_THRESHOLD for i in body["instances"])
    assert [i["class"] for i in body["instances"]] == [expected.class_names[k] for k in expected.labels]
    np.testing.assert_allclose([i["box"] for i in body["instances"]], expected.boxes.numpy(), atol=0.06)
    np.testing.assert_array_equal(decode_masks([i["mask"] for i in body["instances"]]), expected.masks.numpy())
    np.testing.assert_array_equal(decoded_png(body["class_map"]["data"]), expected.label_map.numpy())
    assert sum(area["fraction"] for area in body["areas"]) == pytest.approx(1.0)
    assert decoded_png(body["drawing"]["data"]).shape == (64, 64, 4)


def test_panoptic_model_api_returns_segments_and_their_map(panoptic_run, shapes_image):
    predictor = pixelwise.Predictor.from_file(panoptic_run / "best.pt", device="cpu", precision="fp32")
    client = TestClient(create_app(predictor, limits=LIMITS))
    model = client.get("/api/model").json()
    assert model["task"] == "panoptic" and model["things"] == [3, 4, 5]

    body = post(client, shapes_image)
    expected = predictor(shapes_image)
    assert [(s["id"], s["index"], s["isthing"], s["area"]) for s in body["segments"]] == [
        (s["id"], s["category_id"], s["isthing"], s["area"]) for s in expected.segments_info]
    assert all(("score" in s) == s["isthing"] for s in body["segments"])
    runs = body["segment_map"]
    np.testing.assert_array_equal(np.repeat(runs["values"], runs["lengths"]).reshape(64, 64), expected.segments.numpy())
    assert sum(area["fraction"] for area in body["areas"]) + body["void"] == pytest.approx(1.0)


# ---------------------------------------------------------------- the HTML report


def test_instance_report_holds_the_ap_tables_curves_and_panels(instance_run):
    text = (instance_run / "eval" / "report.html").read_text(encoding="utf-8")
    assert 'id="metrics"' in text and "Average precision (COCO)" in text
    summary = text.split('<table class="ap-summary">')[1].split("</table>")[0]
    for column in ("AP50", "AP75", "APs", "APm", "APl", "AR100"):
        assert f"<th>{column}</th>" in summary
    assert "<td>box</td>" in summary and "<td>mask</td>" in summary
    per_class = text.split('<table class="per-class-ap">')[1].split("</table>")[0]
    assert all(f"{name}</td>" in per_class for name in ("circle", "square", "triangle"))
    metrics = json.loads((instance_run / "eval" / "metrics.json").read_text())
    assert f"<td>{metrics['summary']['mask']['AP']:.3f}</td>" in summary
    for section in ("pr_curves", "panels", "curves", "painted", "config"):
        assert f'id="{section}"' in text
    assert text.count('src="data:image/png;base64,') == 3  # PR curves, panels, training curves
    assert "http://" not in text and "https://" not in text and "<script" not in text

    assert main(["report", str(instance_run)]) == 0  # the run folder's report uses its eval/
    again = (instance_run / "report.html").read_text(encoding="utf-8")
    assert 'class="ap-summary"' in again and 'id="panels"' in again


def test_panoptic_reports_hold_the_pq_tables(panoptic_run, tmp_path):
    assert main(["report", str(panoptic_run), "--out", str(tmp_path / "run.html")]) == 0  # the training's scores
    text = (tmp_path / "run.html").read_text(encoding="utf-8")
    assert "Panoptic quality" in text and 'class="per-class-pq"' in text
    assert "panels: evaluate the model" in text  # and how to get them

    out = tmp_path / "eval"
    pixelwise.evaluate(checkpoint=panoptic_run / "best.pt", out=out, dataset_options={"length": 2}, num_panels=1,
                       device="cpu", html=True)  # fmt: skip
    text = (out / "report.html").read_text(encoding="utf-8")
    groups = text.split('<table class="pq-summary">')[1].split("</table>")[0]
    assert all(f"<td>{group}</td>" in groups for group in ("All", "Things", "Stuff"))
    per_class = text.split('<table class="per-class-pq">')[1].split("</table>")[0]
    assert per_class.count("<tr>") == 1 + 6 and per_class.count("<td>thing</td>") == 3
    scores = json.loads((out / "scores.json").read_text())
    assert f"<td>{scores['all']['n']}</td>" in groups
    assert 'id="panel_0"' in text and 'id="curves"' in text
    assert "<script" not in text and "https://" not in text


# ---------------------------------------------------------------- in a real browser


@pytest.mark.browser
def test_page_draws_the_instances_of_a_dropped_image(chrome, instance_predictor, shapes_image, tmp_path):  # noqa: F811
    from selenium.webdriver.common.by import By

    photo = tmp_path / "shapes.png"
    Image.fromarray(shapes_image).save(photo)
    expected = instance_predictor(shapes_image)
    with running_in_thread(create_app(instance_predictor, limits=LIMITS)) as url:
        chrome.get(f"{url}/")
        assert _wait_for_state(chrome, ("ready",)) == "ready"
        assert chrome.execute_script("return document.body.dataset.task") == "instance"
        sizes = _upload_and_read_sizes(chrome, photo)
        assert sizes == [[True, 64, 64]] * 4
        assert chrome.find_element(By.ID, "objects-card").is_displayed()
        assert chrome.find_element(By.ID, "objects-title").text == f"Instances ({len(expected)})"
        rows = chrome.find_elements(By.CSS_SELECTOR, "#objects tbody tr")
        assert [row.get_attribute("data-class") for row in rows] == [expected.class_names[k] for k in expected.labels]
        scores = [float(row.get_attribute("data-score")) for row in rows]
        assert scores == pytest.approx(expected.scores.tolist(), abs=1e-4)
        legend = chrome.find_elements(By.CSS_SELECTOR, "#legend tbody tr")
        assert [row.get_attribute("data-class") for row in legend] == list(expected.class_names)
        assert chrome.find_element(By.ID, "legend-total").text == "100.0%"
        screenshot = tmp_path / "instances.png"
        assert chrome.save_screenshot(str(screenshot)) and screenshot.stat().st_size > 10_000
