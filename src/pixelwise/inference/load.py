"""The predictor a model file describes, in the runtime its file type implies."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from pixelwise.inference.network import NetworkPredictor
from pixelwise.inference.predictor import Predictor
from pixelwise.inference.strategies import OVERLAP, WINDOW_BATCH, Strategy
from pixelwise.modelfile.spec import ModelSpec


def strategy_for(
    spec: ModelSpec,
    *,
    input_scale: float | None = None,
    flip: bool = False,
    scales: Sequence[float] = (1.0,),
    window: int | tuple[int, int] | None = None,
    overlap: float = OVERLAP,
    window_batch: int = WINDOW_BATCH,
    blend: str = "gaussian",
) -> Strategy:
    """The file's working scale (or short side), unless ``input_scale`` overrides it, with the test-time
    augmentation and sliding windows asked for (see :class:`~pixelwise.inference.Strategy`)."""
    options = {"flip": flip, "scales": tuple(scales), "window": window, "overlap": overlap, "window_batch": window_batch,
               "blend": blend}  # fmt: skip
    if input_scale is not None:
        return Strategy(scale=input_scale, **options)
    return Strategy(scale=spec.preprocess.input_scale, short_side=spec.preprocess.input_size, **options)


def load_predictor(
    path: str | os.PathLike[str],
    *,
    device: str = "auto",
    precision: str = "auto",
    input_scale: float | None = None,
    flip: bool = False,
    scales: Sequence[float] = (1.0,),
    window: int | tuple[int, int] | None = None,
    overlap: float = OVERLAP,
    window_batch: int = WINDOW_BATCH,
    blend: str = "gaussian",
    score_threshold: float = 0.5,
) -> Predictor:
    """See :meth:`pixelwise.Predictor.from_file`."""
    path = Path(path)

    def strategy(spec: ModelSpec) -> Strategy:
        return strategy_for(spec, input_scale=input_scale, flip=flip, scales=scales, window=window, overlap=overlap,
                            window_batch=window_batch, blend=blend)  # fmt: skip

    if path.suffix == ".onnx":
        from pixelwise.inference.backends.onnxruntime import OnnxBackend

        backend = OnnxBackend(path)
        spec = backend.spec()
        return NetworkPredictor(backend=backend, spec=spec, strategy=strategy(spec))

    from pixelwise.inference.backends.torch import TorchBackend, prepare_for_inference
    from pixelwise.modelfile.load import model_from_file, read_any
    from pixelwise.utils.hardware import autocast_dtype, resolve_device

    run_device = resolve_device(device)
    contents = read_any(path, map_location=run_device)
    spec = contents.spec
    from pixelwise.classical.registry import is_classical

    if is_classical(spec.model):  # a method without a network: no device, precision or input scale
        from pixelwise.classical.predictor import ClassicalPredictor

        return ClassicalPredictor.from_model_file(contents)
    if spec.task == "panoptic":
        from pixelwise.inference.panoptic_network import PanopticNetworkPredictor

        return PanopticNetworkPredictor(model=model_from_file(contents).to(run_device), spec=spec, device=run_device,
                                        amp_dtype=autocast_dtype(run_device, precision))
    if spec.task == "instance":  # a detection network reads lists of [0, 1] images and resizes them itself
        from pixelwise.inference.instance import InstancePredictor

        return InstancePredictor(model=model_from_file(contents).to(run_device), spec=spec, device=run_device,
                                 amp_dtype=autocast_dtype(run_device, precision), score_threshold=score_threshold)
    model = prepare_for_inference(model_from_file(contents).to(run_device), in_channels=spec.preprocess.in_channels)
    backend = TorchBackend(model, device=run_device, amp_dtype=autocast_dtype(run_device, precision))
    return NetworkPredictor(backend=backend, spec=spec, strategy=strategy(spec))
