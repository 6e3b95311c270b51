"""Classical methods against a small U-Net on four foreground/background tasks, scored by the same evaluate.

    python3 benchmarks/classical.py --data ../shared/data [--unet-budget 2] [--val-images 30]

Each classical method is fitted on the dataset's train split (the forest, or the rule that maps its regions
to classes: :mod:`pixelwise.classical.mapping`) and scored on its val split with ``pixelwise.evaluate``;
the U-Net is trained on the same train split by ``pixelwise.train`` for ``--unet-budget`` minutes (0: no
U-Net column). Writes ``benchmarks/CLASSICAL.md``, ``CLASSICAL.json`` and ``classical.png``.

Tasks: ISBI 2012 EM (membrane vs cell; the foreground is the membrane), Oxford-IIIT Pet (``mode=binary``:
pet vs background, the trimap border counted as pet), Penn-Fudan (every pedestrian vs background) and
``shapes`` with every shape class mapped to one "shape" class (``shapes-foreground``, registered below).
"""

from __future__ import annotations

import argparse
import datetime
import platform
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

import pixelwise
from pixelwise.classical import fit_predictor
from pixelwise.data import DatasetInfo, register_dataset
from pixelwise.data.shapes import ShapesDataset
from pixelwise.inference import Predictor
from pixelwise.utils.atomic import atomic_write_json, atomic_write_text

HERE = Path(__file__).resolve().parent


class ForegroundShapes(ShapesDataset):
    """``shapes`` with circle, square and triangle all mapped to class 1, "shape"."""

    info = DatasetInfo(class_names=("background", "shape"), palette=((0, 0, 0), (230, 25, 75)))

    def load(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image, mask = super().load(index)
        return image, (mask > 0).long()


@register_dataset("shapes-foreground")
def shapes_foreground(*, root=None, split="train", transform=None, val_length: int = 30, size: int = 64, seed: int = 0,
                      cache: bool = False) -> ForegroundShapes:
    return ForegroundShapes(split=split, length=val_length if split == "val" else None, size=size, seed=seed,
                            transform=transform, cache=cache)


@dataclass(frozen=True)
class Task:
    title: str
    dataset: str
    folder: str | None
    foreground: str
    options: dict[str, Any] = field(default_factory=dict)
    unet: dict[str, Any] = field(default_factory=dict)  # TrainConfig fields of the U-Net run


TASKS = (
    Task("ISBI 2012 EM", "isbi2012-em", "isbi2012-em", "membrane", unet={"input_size": 256, "crop_size": 192}),
    Task("Oxford Pet", "pets", "pets", "pet", {"mode": "binary"}, unet={"input_size": 160, "crop_size": 160}),
    Task("Penn-Fudan", "pennfudan", "pennfudan", "pedestrian", unet={"input_size": 192, "crop_size": 192}),
    Task("shapes", "shapes-foreground", None, "shape", unet={"crop_size": None}),
)
METHODS: tuple[tuple[str, str, dict[str, Any]], ...] = (  # (row label, method, options other than the defaults)
    ("Otsu", "otsu", {}),
    ("multi-Otsu (3 levels)", "multi_otsu", {}),
    ("Li", "li", {}),
    ("Yen", "yen", {}),
    ("adaptive (local)", "adaptive", {}),
    ("region growing (flood fill)", "region_growing", {}),
    ("region merging (superpixels)", "superpixel_merging", {}),
    ("Canny, closed + filled", "canny", {}),
    ("Sobel, closed + filled", "sobel", {}),
    ("watershed, distance markers", "watershed", {"markers": "distance"}),
    ("watershed, threshold markers", "watershed", {"markers": "threshold"}),
    ("k-means, colour", "kmeans", {}),
    ("k-means, colour + position", "kmeans", {"clusters": 3, "position_weight": 1.0}),
    ("superpixels + HOG/LBP/filters + forest", "superpixel_forest", {}),
)


class Timed(Predictor):
    """Any predictor, with the seconds spent in its ``predict_batch`` counted."""

    def __init__(self, inner: Predictor) -> None:
        self.inner, self.task, self.labels, self.in_channels = inner, inner.task, inner.labels, inner.in_channels
        self.seconds, self.images = 0.0, 0

    def predict_batch(self, images):
        start = time.perf_counter()
        predictions = self.inner.predict_batch(images)
        self.seconds += time.perf_counter() - start
        self.images += len(images)
        return predictions


def score(task: Task, predictor: Predictor, *, root: str | None) -> dict[str, float]:
    """mIoU, foreground Dice and seconds per image of a predictor on the task's val split (after one warm-up
    image, so that first-call costs — imports, allocator — are not counted)."""
    image, _ = pixelwise.create_dataset(task.dataset, root=root, split="val", **task.options)[0]
    predictor.predict_batch(image[None])
    timed = Timed(predictor)
    scores = pixelwise.evaluate(predictor=timed, dataset=task.dataset, root=root, split="val", dataset_options=task.options)
    foreground = scores.class_names.index(task.foreground)
    return {"miou": scores.mean_iou, "dice": float(scores.per_class["dice"][foreground]),
            "seconds_per_image": timed.seconds / max(timed.images, 1), "images": timed.images}


def run_classical(task: Task, *, root: str | None) -> dict[str, dict[str, float]]:
    rows = {}
    for label, name, options in METHODS:
        start = time.perf_counter()
        predictor = fit_predictor(name, dataset=task.dataset, options=options, root=root, dataset_options=task.options)
        fit_seconds = time.perf_counter() - start
        rows[label] = {**score(task, predictor, root=root), "fit_seconds": fit_seconds,
                       "mapping": predictor.mapping.tolist() if not predictor.method.supervised else None}
        print(f"{task.title:14s} {label:40s} mIoU {rows[label]['miou']:.3f}  Dice {rows[label]['dice']:.3f}  "
              f"{rows[label]['seconds_per_image']:.3f} s/img  fit {fit_seconds:.1f} s", flush=True)
    return rows


def run_unet(task: Task, *, root: str | None, budget: float, workdir: Path) -> dict[str, float]:
    out = workdir / f"unet-{task.dataset}"
    config = pixelwise.TrainConfig(
        dataset=task.dataset, root=root, dataset_options={**task.options, "cache": True}, model="unet",
        model_options={"base_channels": 16}, epochs=None, budget_minutes=budget, batch_size=8, lr=0.003, warmup=0.02,
        loss="ce_dice", scale_range=(0.75, 1.25), workers=0, eval_every=3, progress=False, tensorboard=False,
        out=str(out), **task.unet,
    )  # fmt: skip
    result = pixelwise.train(config)
    row = score(task, Predictor.from_file(out / "best.pt"), root=root)
    print(f"{task.title:14s} {'U-Net':40s} mIoU {row['miou']:.3f}  Dice {row['dice']:.3f}  "
          f"{row['seconds_per_image']:.3f} s/img  ({result.epochs_run} epochs)", flush=True)
    return {**row, "fit_seconds": budget * 60, "epochs": result.epochs_run}


def machine() -> str:
    try:
        lines = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout.splitlines()
        model = next(line.split(":", 1)[1].strip() for line in lines if line.startswith("Model name"))
    except (OSError, subprocess.CalledProcessError, StopIteration):
        model = platform.processor() or "unknown CPU"
    return f"{model}; {torch.get_num_threads()} torch threads; Python {platform.python_version()}, torch {torch.__version__}"


def write_markdown(results: dict[str, dict[str, dict[str, float]]], *, command: str, budget: float, path: Path) -> None:
    titles = [task.title for task in TASKS]
    labels = [label for label, _, _ in METHODS] + (["U-Net"] if budget else [])
    images = {t.title: next(iter(results[t.title].values()))["images"] for t in TASKS}

    def table(key: str, fmt: str, best=max) -> list[str]:
        lines = ["| method | " + " | ".join(titles) + " |", "| --- |" + " --- |" * len(titles)]
        for label in labels:
            cells = []
            for title in titles:
                value = results[title][label][key]
                top = best(row[key] for row in results[title].values())
                text = format(value, fmt)
                cells.append(f"**{text}**" if key != "seconds_per_image" and text == format(top, fmt) else text)
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        return lines

    classical_best = {t: max((r for k, r in results[t].items() if k != "U-Net"), key=lambda r: r["miou"]) for t in titles}
    best_names = {t: next(k for k, r in results[t].items() if r is classical_best[t]) for t in titles}
    wins = [f"{t} ({best_names[t]}, {classical_best[t]['miou']:.3f} vs {results[t]['U-Net']['miou']:.3f}, "
            f"{results[t]['U-Net']['epochs']} U-Net epochs)"
            for t in titles if budget and classical_best[t]["miou"] > results[t]["U-Net"]["miou"]]
    parameters = sum(p.numel() for p in pixelwise.create_model("unet", num_classes=2, base_channels=16).parameters())
    sizes = "; ".join(f"{t.title}: " + ", ".join(f"{k} {v}" for k, v in t.unet.items() if v) if any(t.unet.values())
                      else f"{t.title}: whole images" for t in TASKS)
    unet_text = (
        f"The U-Net is `unet` with `base_channels=16` ({parameters / 1e6:.1f} M parameters), trained by `pixelwise.train` "
        f"on the same train split for **{budget:g} minutes per dataset** on this CPU (AdamW, lr 0.003, CE + Dice, "
        f"batch 8, the Pet recipe's augmentation; {sizes}), keeping the checkpoint with the best val mIoU. A short "
        "budget on a shared CPU: the column is what the U-Net reaches here, not what it can reach."
        if budget else
        "No U-Net column: run with `--unet-budget MINUTES` to train one per dataset."
    )
    lines = [
        "# Classical segmentation vs a U-Net, one harness",
        "",
        f"Date: {datetime.date.today().isoformat()}  ",
        f"Machine: {machine()}  ",
        f"Command: `{command}`",
        "",
        "Every method is scored by `pixelwise.evaluate` on the val split (the same confusion matrix, the same splits "
        "as a network). Images per val split: " + ", ".join(f"{t} {n}" for t, n in images.items()) + ". "
        "Classical methods run with their default options (`pixelwise models` lists them) except the variants "
        "named in the row; each runs on the image shrunk to at most 512 px a side and its labels are brought back "
        "to full size, so every original pixel is scored.",
        "",
        "How unsupervised regions become classes (`pixelwise.classical.mapping`): on 16 train images, count the "
        "pixels of each region id in each true class, match ids to classes with the Hungarian algorithm (for two "
        "regions: the foreground/background polarity), and send any id left over to its majority class. The val "
        "truth is never read for it. The forest learns from 40 train images (superpixel majority labels).",
        "",
        unet_text,
        "",
        "Tasks: ISBI 2012 EM, membrane vs cell (foreground: membrane); Oxford-IIIT Pet `mode=binary`, pet vs "
        "background (the trimap border counted as pet); Penn-Fudan, every pedestrian vs background; `shapes` with "
        "circle, square and triangle mapped to one class `shape` (`shapes-foreground`, registered by this script).",
        "",
        "## mIoU (val)",
        "",
        *table("miou", ".3f"),
        "",
        "## Dice of the foreground class (val)",
        "",
        *table("dice", ".3f"),
        "",
        "## Seconds per image (prediction only, after one warm-up image; fitting not included; a CPU shared with other work)",
        "",
        *table("seconds_per_image", ".3f", best=min),
        "",
        "## Best classical method per task",
        "",
        *[f"- {t}: {best_names[t]}, mIoU {classical_best[t]['miou']:.3f}"
          + (f" (U-Net {results[t]['U-Net']['miou']:.3f})" if budget else "") for t in titles],
        "",
        *(["Where a classical method beats this U-Net: " + (", ".join(wins) if wins else "nowhere") + "."] if budget else []),
        "",
        "## Reading the table",
        "",
        "- A global threshold assumes the foreground is consistently brighter (or darker) than the background. "
        "That roughly holds for EM membranes; not for pets or pedestrians, nor for `shapes`, whose object and "
        "background colours are drawn from one distribution, so one polarity fitted on train is wrong on about half "
        "the images.",
        "- The watershed rows are within a few thousandths of Otsu's by construction: the markers split Otsu's "
        "foreground into objects (their purpose: instances) but hardly move the foreground/background boundary.",
        "- Edges closed and filled find compact objects on plain backgrounds; on EM the membrane network "
        "encloses every cell, so filling turns nearly everything into foreground.",
        "- The forest classifies superpixels of about 30 px: it can use colour, texture and position priors (pets "
        "and pedestrians sit near the image centre), but it cannot draw EM membranes 2-5 px thick.",
        "- The U-Net learns shape and context from pixels; given too few epochs (a short CPU budget, a first epoch "
        "that decodes and caches every training image) it can lose to the forest on small photo datasets.",
        "",
        "![mIoU per method and task](classical.png)",
        "",
    ]
    atomic_write_text(path, "\n".join(lines))


def plot(results: dict[str, dict[str, dict[str, float]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    titles = list(results)
    labels = list(next(iter(results.values())))
    figure, axis = plt.subplots(figsize=(12, 5.5))
    width = 0.8 / len(titles)
    for i, title in enumerate(titles):
        axis.bar([k + i * width for k in range(len(labels))], [results[title][label]["miou"] for label in labels],
                 width=width, label=title)
    axis.set_xticks([k + 0.4 - width / 2 for k in range(len(labels))], labels, rotation=35, ha="right", fontsize=8)
    axis.set_ylabel("val mIoU")
    axis.set_ylim(0, 1)
    axis.legend(fontsize=8)
    axis.set_title("Classical methods and a U-Net, foreground vs background")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data", help="folder holding isbi2012-em/, pets/, pennfudan/")
    parser.add_argument("--unet-budget", type=float, default=2.0, metavar="MINUTES",
                        help="U-Net training minutes per dataset (0: no U-Net column)")
    parser.add_argument("--val-images", type=int, default=30, help="val images of shapes (the others have fewer)")
    parser.add_argument("--out", default=str(HERE), help="folder for CLASSICAL.md, CLASSICAL.json, classical.png")
    args = parser.parse_args()
    command = f"python3 benchmarks/classical.py --data {args.data} --unet-budget {args.unet_budget:g} --val-images {args.val_images}"
    results: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as workdir:
        for task in TASKS:
            if task.dataset == "shapes-foreground":
                task = Task(task.title, task.dataset, None, task.foreground, {"val_length": args.val_images}, task.unet)
            root = None if task.folder is None else str(Path(args.data) / task.folder)
            results[task.title] = run_classical(task, root=root)
            if args.unet_budget:
                results[task.title]["U-Net"] = run_unet(task, root=root, budget=args.unet_budget, workdir=Path(workdir))
    out = Path(args.out)
    atomic_write_json(out / "CLASSICAL.json", {"command": command, "machine": machine(), "results": results})
    plot(results, out / "classical.png")
    write_markdown(results, command=command, budget=args.unet_budget, path=out / "CLASSICAL.md")
    print(f"wrote {out / 'CLASSICAL.md'}, CLASSICAL.json, classical.png")


if __name__ == "__main__":
    main()
