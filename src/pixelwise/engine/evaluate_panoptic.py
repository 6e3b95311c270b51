"""``pixelwise evaluate`` for panoptic predictors: Panoptic Quality, the COCO panoptic PNGs + JSON, drawings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pixelwise.errors import PixelwiseError
from pixelwise.inference import Predictor
from pixelwise.metrics.panoptic_quality import PanopticQuality
from pixelwise.utils.atomic import atomic_write_text


def evaluate_panoptic(
    predictor: Predictor,
    *,
    name: str,
    data: Any,
    out: Path | None,
    panel_indices: set[int],
    where: str,
):
    """Score a panoptic predictor on a panoptic dataset (``data[i] -> (uint8 image, target)``).

    Writes into ``out`` (when given): ``scores.json`` and ``per_class.csv`` (PQ, SQ, RQ for All / Things /
    Stuff and per class), ``pq.txt`` (the table ``evaluate`` prints), ``panoptic/NAME.png`` +
    ``panoptic.json`` (the predictions in the COCO panoptic format, the dataset's own category ids, so
    ``pixelwise score --panoptic-*`` or panopticapi read them) and ``panel_K.png`` drawings
    (image | truth | prediction with a legend) for the images in ``panel_indices``.

    Returns:
        The :class:`~pixelwise.metrics.panoptic_scores.PanopticScores`.
    """
    from pixelwise.data.panoptic_format import write_panoptic, write_panoptic_json
    from pixelwise.metrics.panoptic_report import format_panoptic_table, write_panoptic_outputs

    if list(data.class_names) != list(predictor.labels.class_names):
        raise PixelwiseError(f"{where}: the model's classes {list(predictor.labels.class_names)} are not {name}'s "
                             f"{list(data.class_names)}; pass the dataset options it was trained with")
    things = set(data.things)
    categories = [{"id": index, "name": n, "isthing": index in things} for index, n in enumerate(data.class_names)]
    quality = PanopticQuality(categories=categories)
    dataset_ids = list(getattr(data, "category_ids", range(len(categories))))
    written = [{**c, "id": dataset_ids[c["id"]]} for c in categories]
    annotations, images = [], []
    for index in range(len(data)):
        image, target = data[index]
        prediction = predictor.predict_batch(image[None])[0]
        quality.update(pred=prediction.segments, pred_segments=prediction.segments_info, truth=target["segments"],
                       truth_segments=target["segments_info"])
        if out is None:
            continue
        info = data.image_info(index) if hasattr(data, "image_info") else {"id": index, "file_name": f"{index}.png"}
        stem = Path(str(info.get("file_name", index))).stem
        segments_info = [{**s, "category_id": dataset_ids[s["category_id"]]} for s in prediction.segments_info]
        annotations.append(write_panoptic(out / "panoptic", file_name=f"{stem}.png", segments=prediction.numpy(),
                                          segments_info=segments_info, image_id=int(info.get("id", index)),
                                          categories=written))
        images.append({"id": int(info.get("id", index)), "file_name": str(info.get("file_name", stem)),
                       "height": int(image.shape[-2]), "width": int(image.shape[-1])})
        if index in panel_indices:
            _panel(out / f"panel_{index}.png", image=image, target=target, prediction=prediction, data=data)
    scores = quality.compute()
    if out is not None:
        write_panoptic_outputs(scores, out)
        write_panoptic_json(out / "panoptic.json", annotations=annotations, categories=written, images=images)
        atomic_write_text(out / "pq.txt", format_panoptic_table(scores) + "\n")
    return scores


def _panel(path: Path, *, image, target, prediction, data) -> None:
    from pixelwise.visual.panoptic import save_panoptic_panel

    save_panoptic_panel(path, image=image, segments=prediction.segments, segments_info=prediction.segments_info,
                        class_names=list(data.class_names), things=list(data.things), palette=list(data.palette),
                        truth=(target["segments"], target["segments_info"]))
