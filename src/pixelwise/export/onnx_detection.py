"""Export a Mask R-CNN-style detection model to ONNX: one image in, its detections out, at any image size.

torchvision's detection models export through the TorchScript-based exporter (``dynamo=False``), the
route torchvision itself tests (``test/test_onnx.py``, opset 11 and later): the model's own resizing,
RPN, NMS and RoIAlign become ONNX operators, and the graph reads one ``(C, H, W)`` image of any size.
The dynamo exporter (``torch.export``) stops at the data-dependent shapes of proposals and detections
(tried with torch 2.14).

Two parts of torchvision's traced graph are slow in onnxruntime, and the export leaves them out:

- **Pasting the masks.** torchvision pastes each ``28 x 28`` mask into the image inside an ONNX ``Loop``
  (with a ``Concat`` per detection): on a random ``maskrcnn_r18`` at 320 px with 100 detections, a third of
  onnxruntime's time. The graph returns the small masks with boxes already in the input image's pixels, and
  :class:`~pixelwise.inference.backends.onnxruntime.OnnxDetector` pastes them with torchvision's own
  ``paste_masks_in_image``, as torchvision's postprocessing does.
- **Merging RoIAlign's levels.** ``MultiScaleRoIAlign`` puts each level's pooled RoIs back in order with a
  ``ScatterElements`` of the whole ``(N, C, 7, 7)`` result per level (``poolers._onnx_merge_levels``), which
  onnxruntime runs slowly: 18% of its time in the same case. The export swaps in the same reordering as
  one concatenation and a ``Gather`` (:func:`merge_levels_by_gather`).

With both, that model's export ran in 0.90 s against eager PyTorch's 0.83 s per image (one thread),
where the plain export took 1.71 s.
"""

from __future__ import annotations

import contextlib
import io
import warnings

import torch
from torch import Tensor, nn
from torchvision.models.detection.transform import resize_boxes

IMAGE_NAME = "image"
DETECTION_OUTPUTS = ("boxes", "labels", "scores", "masks")
"""The graph's outputs, as torchvision's model returns them for one image."""
DETECTION_OPSET = 17


class _OneImage(nn.Module):
    """``model([image])[0]`` as a tuple of tensors, up to the mask paste: boxes in the input image's pixels,
    masks at the mask head's resolution."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        model = self.model
        original = image.shape[-2:]
        images, _ = model.transform([image])
        features = model.backbone(images.tensors)
        proposals, _ = model.rpn(images, features)
        detections, _ = model.roi_heads(features, proposals, images.image_sizes)
        found = detections[0]
        boxes = resize_boxes(found["boxes"], images.image_sizes[0], original)
        return boxes, found["labels"], found["scores"], found["masks"]


def merge_levels_by_gather(levels: Tensor, unmerged_results: list[Tensor]) -> Tensor:
    """``torchvision.ops.poolers._onnx_merge_levels`` without ``ScatterElements``: the RoIs pooled per FPN
    level, in level order, put back in the RoIs' order by one gather."""
    order = torch.cat([torch.where(levels == level)[0] for level in range(len(unmerged_results))])
    return torch.cat(unmerged_results)[torch.argsort(order)]


@contextlib.contextmanager
def _gather_merge():
    """Trace ``MultiScaleRoIAlign`` with :func:`merge_levels_by_gather` (unchanged where torchvision has no
    ``_onnx_merge_levels``: then the graph is only slower)."""
    from torchvision.ops import poolers

    original = getattr(poolers, "_onnx_merge_levels", None)
    if original is None:
        yield
        return
    poolers._onnx_merge_levels = merge_levels_by_gather
    try:
        yield
    finally:
        poolers._onnx_merge_levels = original


def detection_proto(model: nn.Module, *, height: int, width: int, in_channels: int, opset: int = DETECTION_OPSET):
    """Trace ``model`` (eval mode) on one ``(in_channels, height, width)`` image; the ONNX ``ModelProto``.

    Input ``"image"`` float32 ``(C, H, W)`` in ``[0, 1]``, any ``H`` and ``W``; outputs ``"boxes"``
    ``(N, 4)`` xyxy in the image's pixels, ``"labels"`` ``(N,)`` int64, ``"scores"`` ``(N,)``, ``"masks"``
    ``(N, 1, M, M)`` probabilities of the mask head (``M`` = 28), to paste into the boxes.
    """
    import onnx

    example = torch.rand(in_channels, height, width, generator=torch.Generator().manual_seed(0))
    axes = {IMAGE_NAME: {1: "height", 2: "width"}, **{name: {0: "detections"} for name in DETECTION_OUTPUTS}}
    buffer = io.BytesIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), torch.no_grad(), _gather_merge():
        warnings.simplefilter("ignore")  # tracer warnings about Python values in the graph, which torchvision expects
        torch.onnx.export(_OneImage(model), (example,), buffer, dynamo=False, opset_version=max(opset, 11),
                          input_names=[IMAGE_NAME], output_names=list(DETECTION_OUTPUTS), dynamic_axes=axes)  # fmt: skip
    return onnx.load_model_from_string(buffer.getvalue())
