"""Classical methods: known answers on tiny synthetic images, the class-mapping rule, the front door, model files."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

pytest.importorskip("skimage")
pytest.importorskip("sklearn")

import pixelwise  # noqa: E402
from pixelwise.classical import create_method, fit_method, fit_predictor, list_methods  # noqa: E402
from pixelwise.classical.forest import TreeEnsemble  # noqa: E402
from pixelwise.classical.mapping import fit_mapping, region_confusion  # noqa: E402
from pixelwise.cli.main import main  # noqa: E402
from pixelwise.data.base import DatasetInfo, SegmentationDataset  # noqa: E402
from pixelwise.data.shapes import ShapesDataset  # noqa: E402
from pixelwise.errors import PixelwiseError  # noqa: E402

TINY_SHAPES = {"size": 32, "length": 4}
FAST = {  # small enough that every method fits and runs in about a second on 32 px images
    "superpixel_forest": {"fit_images": 4, "trees": 5, "segments": 40},
    "superpixel_merging": {"segments": 40},
}


def iou(prediction: np.ndarray, truth: np.ndarray) -> float:
    return float((prediction & truth).sum() / (prediction | truth).sum())


def disc(shape: tuple[int, int], centre: tuple[float, float], radius: float) -> np.ndarray:
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
    return (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 <= radius**2


def as_image(values: np.ndarray) -> np.ndarray:
    """Grey values ``(H, W)`` in 0..255 -> ``uint8 (H, W, 3)``."""
    return np.repeat(np.clip(values, 0, 255).round().astype(np.uint8)[..., None], 3, axis=2)


class ArrayDataset(SegmentationDataset):
    """Images and masks held in memory: ``uint8 (H, W, 3)`` arrays and ``int64 (H, W)`` masks."""

    info = DatasetInfo(class_names=("smooth", "textured"), palette=((0, 0, 0), (255, 255, 255)))

    def __init__(self, pairs: list[tuple[np.ndarray, np.ndarray]]) -> None:
        super().__init__()
        self.pairs = pairs

    def __len__(self) -> int:
        return len(self.pairs)

    def load(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image, mask = self.pairs[index]
        return torch.from_numpy(image).permute(2, 0, 1).contiguous(), torch.from_numpy(mask)


def test_otsu_on_a_noisy_two_level_image():
    rng = np.random.default_rng(0)
    truth = disc((64, 64), (32, 32), 18)
    image = as_image(np.where(truth, 170.0, 80.0) + rng.normal(0, 20, truth.shape))
    regions = create_method("otsu").regions(image)
    assert iou(regions == 1, truth) >= 0.95


@pytest.mark.parametrize("name", [n for n in list_methods() if n not in ("otsu", "superpixel_forest")])
def test_each_unsupervised_method_finds_a_bright_disc(name):
    """One region id covers a disc on a dark background (the mapping rule picks which). The bar is below Otsu's:
    smoothing blurs the rim into low thresholds (Li, Yen), Sobel's edges are a few pixels thick, and flooding
    from the centre stops short of the rim."""
    rng = np.random.default_rng(1)
    truth = disc((64, 64), (32, 32), 22)
    image = as_image(np.where(truth, 200.0, 40.0) + rng.normal(0, 5, truth.shape))
    regions = create_method(name).regions(image)
    best = max(iou(regions == r, truth) for r in np.unique(regions))
    assert best >= 0.75, (name, best)


def test_watershed_splits_two_touching_discs():
    first, second = disc((64, 96), (32, 34), 14), disc((64, 96), (32, 60), 14)
    image = as_image(np.where(first | second, 200.0, 30.0))
    instances = create_method("watershed", markers="distance").instances(image)
    assert sorted(np.unique(instances).tolist()) == [0, 1, 2]
    for truth in (first, second):
        ids, counts = np.unique(instances[truth], return_counts=True)
        assert counts.max() / truth.sum() >= 0.9 and ids[counts.argmax()] != 0
    assert np.unique(instances[first & ~second]).size != np.unique(instances[first | second]).size


def test_watershed_instance_predictor_splits_two_touching_discs():
    """As an instance method (``evaluate --model watershed --as-instances``) the fitted watershed gives the two
    touching discs as two objects, boxed by their extent, where connected components see one."""
    from pixelwise.data.instances.base import mask_boxes
    from pixelwise.engine.evaluate import semantic_as_instances

    first, second = disc((64, 96), (32, 34), 14), disc((64, 96), (32, 60), 14)
    image = as_image(np.where(first | second, 200.0, 30.0))
    semantic = fit_method(create_method("watershed"), ArrayDataset([(image, (first | second).astype(np.int64))]))
    found = semantic_as_instances(semantic, split=True, where="test")(image)
    assert len(found) == 2 and found.labels.tolist() == [1, 1]
    masks = found.masks.numpy()
    assert not (masks[0] & masks[1]).any()
    matches = [[iou(mask, truth) for mask in masks] for truth in (first, second)]  # (disc, instance)
    assert int(np.argmax(matches[0])) != int(np.argmax(matches[1])) and min(map(max, matches)) >= 0.9
    assert torch.equal(found.boxes, mask_boxes(found.masks))
    assert len(semantic_as_instances(semantic, split="components", where="test")(image)) == 1
    with pytest.raises(PixelwiseError, match="choose components or watershed"):
        semantic_as_instances(semantic, split="blobs", where="test")


def test_watershed_threshold_markers_keep_the_objects():
    truth = disc((64, 64), (32, 32), 15)
    image = as_image(np.where(truth, 190.0, 50.0))
    regions = create_method("watershed", markers="threshold").regions(image)
    assert iou(regions == 1, truth) >= 0.9


def textured_pairs(count: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Two halves of equal mean grey, one striped and one smooth, split at a random column, on a random side."""
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(count):
        boundary = int(rng.integers(20, 44))
        cols = np.arange(64)[None, :].repeat(64, axis=0)
        textured = cols < boundary if rng.random() < 0.5 else cols >= boundary
        stripes = 128 + 70 * np.sign(np.sin(np.arange(64) * np.pi / 2))[None, :]  # period 4 px
        values = np.where(textured, stripes, 128.0) + rng.normal(0, 4, (64, 64))
        pairs.append((as_image(values), textured.astype(np.int64)))
    return pairs


def test_forest_learns_a_texture_boundary():
    method = create_method("superpixel_forest", max_side=None, fit_images=0, segments=60, trees=20)
    predictor = fit_method(method, ArrayDataset(textured_pairs(6, seed=0)))
    held_out = ArrayDataset(textured_pairs(3, seed=1))
    confusion = sum(
        region_confusion(predictor.label_map(image).numpy(), mask.numpy(), num_regions=2, num_classes=2, ignore_index=None)
        for image, mask in (held_out.load(i) for i in range(len(held_out)))
    )  # rows: prediction
    assert pixelwise.scores_from_confusion(confusion.T).mean_iou >= 0.85


def test_tree_ensemble_matches_scikit_learn():
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 5)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int) + 2 * (x[:, 2] > 1)  # classes 0, 1, 2, 3
    forest = RandomForestClassifier(n_estimators=7, max_depth=6, random_state=0).fit(x, y)
    ensemble = TreeEnsemble.from_sklearn(forest)
    np.testing.assert_allclose(ensemble.predict_proba(x, num_classes=4), forest.predict_proba(x), atol=1e-12)


def test_mapping_rule_by_hand():
    assert fit_mapping(np.array([[10, 90], [80, 20]])).tolist() == [1, 0]  # polarity flips
    # Three regions, two classes: the Hungarian pair (0 -> 1, 2 -> 0), then region 1 joins its majority class.
    assert fit_mapping(np.array([[5, 50], [30, 40], [60, 0]])).tolist() == [1, 1, 0]
    # Two regions, three classes: class 2 is never predicted.
    assert sorted(fit_mapping(np.array([[9, 1, 5], [1, 9, 5]])).tolist()) == [0, 1]
    confusion = region_confusion(np.array([[0, 1], [1, 1]]), np.array([[1, 0], [255, 1]]), num_regions=2, num_classes=2,
                                 ignore_index=255)
    assert confusion.tolist() == [[0, 1], [1, 1]]


@pytest.mark.parametrize("name", list_methods())
def test_every_method_runs_through_evaluate(name, tmp_path):
    options = {"fit_images": 2, **FAST.get(name, {})}
    scores = pixelwise.evaluate(model=name, model_options=options, dataset="shapes", dataset_options=TINY_SHAPES,
                                split="val", out=tmp_path if name == "otsu" else None)
    assert scores.confusion.sum() == 4 * 32 * 32
    assert 0.0 <= scores.mean_iou <= 1.0
    if name == "otsu":
        assert (tmp_path / "metrics.json").is_file() and (tmp_path / "panels.png").is_file()


def test_the_mapping_never_reads_the_evaluated_truth(monkeypatch):
    """Fitting loads the train split alone, and the predictions do not move when the evaluated truth is changed."""
    loaded: list[str] = []
    original = ShapesDataset.load

    def spying(self, index):
        loaded.append(self.split)
        return original(self, index)

    monkeypatch.setattr(ShapesDataset, "load", spying)
    fit_predictor("otsu", dataset="shapes", dataset_options=TINY_SHAPES, options={"fit_images": 4})
    assert set(loaded) == {"train"}

    def predicted_pixels() -> list[int]:
        scores = pixelwise.evaluate(model="otsu", model_options={"fit_images": 4}, dataset="shapes",
                                    dataset_options=TINY_SHAPES, split="val")
        return scores.confusion.sum(axis=0).tolist()  # pixels predicted per class

    before = predicted_pixels()

    def inverted_val_truth(self, index):
        image, mask = original(self, index)
        return image, (mask == 0).long() * 2 if self.split == "val" else mask  # background <-> square

    monkeypatch.setattr(ShapesDataset, "load", inverted_val_truth)
    assert predicted_pixels() == before


@pytest.mark.parametrize("name", ["otsu", "superpixel_forest"])
def test_model_file_round_trip(name, tmp_path):
    predictor = fit_predictor(name, dataset="shapes", dataset_options=TINY_SHAPES, options={"fit_images": 4, **FAST.get(name, {})})
    path = predictor.save(tmp_path / f"{name}.pt")
    loaded = pixelwise.Predictor.from_file(path)
    assert type(loaded) is type(predictor) and loaded.spec.model == name
    assert loaded.spec.model_options == predictor.method.options()
    images = torch.stack([ShapesDataset(split="val", size=32, length=3).load(i)[0] for i in range(3)])
    assert torch.equal(loaded.class_scores(images), predictor.class_scores(images))
    scores = pixelwise.evaluate(checkpoint=path, split="val")  # the dataset comes from the file
    assert scores.confusion.sum() == 4 * 32 * 32


def test_train_fits_a_classical_method(tmp_path):
    config = pixelwise.TrainConfig(dataset="shapes", dataset_options=TINY_SHAPES, model="superpixel_forest",
                                   model_options=FAST["superpixel_forest"], out=str(tmp_path / "run"), progress=False)
    result = pixelwise.train(config)
    assert (tmp_path / "run" / "best.pt").is_file() and (tmp_path / "run" / "metrics.json").is_file()
    assert math.isfinite(result.best_score) and result.scores is not None
    assert pixelwise.Predictor.from_file(tmp_path / "run" / "best.pt").method.options()["seed"] == config.seed


def test_command_line_front_door(tmp_path, capsys):
    argv = ["evaluate", "--model", "otsu", "--model-option", "fit_images=2", "--dataset", "shapes",
            "--dataset-option", "size=32", "--dataset-option", "length=4", "--out", str(tmp_path)]
    assert main(argv) == 0
    assert "mIoU" in capsys.readouterr().out and (tmp_path / "metrics.json").is_file()
    run = tmp_path / "run"
    assert main(["train", "--model", "otsu", "--model-option", "fit_images=2", "--dataset", "shapes", "--dataset-option",
                 "size=32", "--dataset-option", "length=4", "--out", str(run), "--no-progress"]) == 0
    assert "best validation mIoU" in capsys.readouterr().out and (run / "best.pt").is_file()
    assert main(["models", "otsu", "watershed"]) == 0
    listing = capsys.readouterr().out
    assert "Classical methods" in listing and "markers=distance" in listing


def test_command_line_scores_watershed_as_instances(capsys):
    tiny = ["--dataset", "shapes", "--dataset-option", "size=32", "--dataset-option", "length=4"]
    for model, split in (("watershed", []), ("otsu", ["watershed"])):  # the method's own split; a split named
        assert main(["evaluate", "--model", model, "--model-option", "fit_images=2", "--as-instances", *split, *tiny]) == 0
        assert "mask  AP" in capsys.readouterr().out


def test_unknown_option_names_the_valid_ones():
    with pytest.raises(PixelwiseError, match="its options are .*sigma"):
        create_method("otsu", sigmaa=2)
    with pytest.raises(PixelwiseError, match="needs a dataset"):
        pixelwise.evaluate(model="otsu")


def test_pennfudan_maps_every_pedestrian_to_one_class(tmp_path):
    from PIL import Image

    for folder in ("PNGImages", "PedMasks"):
        (tmp_path / folder).mkdir()
    for index in range(4):
        Image.new("RGB", (20, 10), (index * 40, 0, 0)).save(tmp_path / "PNGImages" / f"Ped{index}.png")
        mask = np.zeros((10, 20), dtype=np.uint8)
        mask[2:5, 2:5], mask[6:9, 10:15] = 1, 2
        Image.fromarray(mask).save(tmp_path / "PedMasks" / f"Ped{index}_mask.png")
    train = pixelwise.create_dataset("pennfudan", root=str(tmp_path), split="train", val_fraction=0.25)
    val = pixelwise.create_dataset("pennfudan", root=str(tmp_path), split="val", val_fraction=0.25)
    assert (len(train), len(val)) == (3, 1) and train.class_names == ("background", "pedestrian")
    _, mask = train[0]
    assert mask.unique().tolist() == [0, 1] and int(mask.sum()) == 9 + 15
