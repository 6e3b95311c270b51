"""ONNX export with dynamic batch, height and width, checked against PyTorch in onnxruntime.

The dynamo exporter takes 7-20 s per model on two CPU cores, so the default suite exports
PSPNet only — the architecture whose adaptive pooling breaks with dynamic sizes when written
with ``nn.AdaptiveAvgPool2d`` — and ``-m slow`` exports every architecture.
"""

from __future__ import annotations

from typing import Any

import onnx
import pytest
import torch

from pixelwise.errors import PixelwiseError
from pixelwise.export import export_onnx, verify_onnx
from pixelwise.models import create_model, list_models
from pixelwise.models.registry import model_task

TINY_VGG = {"base_channels": 4}

# One small model per architecture; every registered name must appear here.
EXPORT_CASES: dict[str, dict[str, Any]] = {
    "fcn32s": {"encoder_options": TINY_VGG, "fc_channels": 16},
    "fcn16s": {"encoder_options": TINY_VGG, "head": "light"},
    "fcn8s": {"encoder_options": TINY_VGG, "fc_channels": 16},
    "unet": {"base_channels": 4, "depth": 3},
    "unet_pix2pix": {"encoder": "test_efficientnet", "decoder_channels": (16, 16, 8, 8)},
    "segnet": {"encoder_options": TINY_VGG},
    "pspnet": {"encoder": "test_efficientnet", "channels": 16},
    "deeplabv3": {"encoder": "test_efficientnet", "channels": 16},
    "deeplabv3plus": {"encoder": "test_efficientnet", "channels": 16, "low_level_channels": 8},
    "lraspp": {"encoder": "mobilenetv3_small_050", "channels": 16},
}


def _export_and_compare(name: str, tmp_path) -> None:
    torch.manual_seed(0)
    model = create_model(name, num_classes=3, **EXPORT_CASES[name])
    path = export_onnx(model, path=tmp_path / f"{name}.onnx", height=64, width=96)
    graph_input = onnx.load(str(path)).graph.input[0]
    dims = [d.dim_param or d.dim_value for d in graph_input.type.tensor_type.shape.dim]
    assert dims[1] == 3 and all(isinstance(d, str) for d in (dims[0], dims[2], dims[3]))  # N, H, W symbolic
    # Neither size is the export size, and 97 x 131 is not a multiple of the model's stride.
    worst = verify_onnx(model, path, sizes=((97, 131), (40, 200)), batch_size=2)
    assert worst < 1e-4


def test_export_cases_cover_every_semantic_model() -> None:
    assert set(EXPORT_CASES) == {name for name in list_models() if model_task(name) == "semantic"}


def test_panoptic_models_are_refused_with_one_line(tmp_path) -> None:
    # instance models export (tests/test_instance.py); a panoptic network does not yet
    model = create_model("panoptic_fpn", num_classes=4, things=[2, 3], fpn_channels=32, min_size=64, max_size=64)
    with pytest.raises(PixelwiseError, match="not supported yet"):
        export_onnx(model, path=tmp_path / "m.onnx")
    assert not list(tmp_path.iterdir())


def test_pspnet_exports_with_dynamic_sizes(tmp_path) -> None:
    _export_and_compare("pspnet", tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["pspnet.onnx"]  # weights inside, no temporary left


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(set(EXPORT_CASES) - {"pspnet"}))
def test_every_architecture_exports_with_dynamic_sizes(name: str, tmp_path) -> None:
    _export_and_compare(name, tmp_path)


def test_roi_levels_merged_by_gather_equal_torchvisions_scatter() -> None:
    poolers = pytest.importorskip("torchvision.ops.poolers")
    from pixelwise.export.onnx_detection import merge_levels_by_gather

    levels = torch.tensor([2, 0, 3, 0, 3, 2, 0])  # level 1 holds no RoI
    generator = torch.Generator().manual_seed(0)
    pooled = [torch.randn(int((levels == level).sum()), 3, 2, 2, generator=generator) for level in range(4)]
    assert torch.equal(merge_levels_by_gather(levels, pooled), poolers._onnx_merge_levels(levels, pooled))
