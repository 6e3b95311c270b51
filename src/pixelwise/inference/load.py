"""The predictor a model file describes, in the runtime its file type implies."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch

from pixelwise.errors import PixelwiseError
from pixelwise.inference.backends.registry import AUTO, BackendRequest, create_backend, list_backends
from pixelwise.inference.calibration import calibration_images, network_inputs
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
    backend: str = AUTO,
    calibration: str | os.PathLike[str] | None = None,
) -> Predictor:
    """See :meth:`pixelwise.Predictor.from_file`."""
    path = Path(path)
    if backend not in list_backends():
        raise PixelwiseError(f"unknown backend {backend!r}; valid names: {', '.join(list_backends())}")

    def strategy(spec: ModelSpec) -> Strategy:
        return strategy_for(spec, input_scale=input_scale, flip=flip, scales=scales, window=window, overlap=overlap,
                            window_batch=window_batch, blend=blend)  # fmt: skip

    def network_predictor(spec: ModelSpec, *, network, device, amp_dtype, onnx: Path | None = None) -> Predictor:
        def calibration_inputs():
            images = calibration_images(spec=spec, source=calibration)
            return network_inputs(spec=spec, strategy=strategy(spec), images=images)

        request = BackendRequest(network=network, in_channels=spec.preprocess.in_channels, device=device,
                                 amp_dtype=amp_dtype, calibration=calibration_inputs, onnx=onnx)  # fmt: skip
        name = backend if backend != AUTO else ("onnxruntime" if onnx is not None else "torch")
        return NetworkPredictor(backend=create_backend(name, request), spec=spec, strategy=strategy(spec))

    def instance_predictor(spec: ModelSpec, model, *, device, amp_dtype) -> Predictor:
        from pixelwise.inference.instance import InstancePredictor

        return InstancePredictor(model=model, spec=spec, device=device, amp_dtype=amp_dtype, score_threshold=score_threshold,
                                 window=window, overlap=overlap, window_batch=window_batch)  # fmt: skip

    if path.suffix == ".onnx":
        from pixelwise.inference.backends.onnxruntime import OnnxBackend, OnnxDetector

        session = OnnxBackend(path, threads=torch.get_num_threads())  # reads the spec from the file's metadata
        spec = session.spec()
        if spec.task == "instance":
            if backend not in (AUTO, "onnxruntime"):
                raise PixelwiseError(f"{path}: an exported instance model runs in onnxruntime (--backend onnxruntime)")
            return instance_predictor(spec, OnnxDetector(session), device=torch.device("cpu"), amp_dtype=None)
        if backend in (AUTO, "onnxruntime"):  # the session that read the spec runs the model: one load, not two
            return NetworkPredictor(backend=session, spec=spec, strategy=strategy(spec))
        return network_predictor(spec, network=None, device=torch.device("cpu"), amp_dtype=None, onnx=path)

    from pixelwise.classical.registry import is_classical
    from pixelwise.modelfile.load import model_from_file, read_any
    from pixelwise.utils.hardware import autocast_dtype, resolve_device

    run_device = resolve_device(device)
    contents = read_any(path, map_location=run_device)
    spec = contents.spec
    runtimes = (AUTO, "torch", "onnxruntime") if spec.task == "instance" else (AUTO, "torch")
    if (spec.task != "semantic" or is_classical(spec.model)) and backend not in runtimes:
        article = "an" if spec.task[0] in "aeiou" else "a"
        raise PixelwiseError(f"{path}: backend {backend!r} runs semantic networks; {article} {spec.task} {spec.model} "
                             f"model runs in {' or '.join(runtimes[1:])} (--backend {runtimes[1]})")
    if is_classical(spec.model):  # a method without a network: no device, precision or input scale
        from pixelwise.classical.predictor import ClassicalPredictor

        return ClassicalPredictor.from_model_file(contents)
    if spec.task in ("instance", "panoptic") and (flip or tuple(scales) != (1.0,)):
        raise PixelwiseError(f"{path}: test-time augmentation (--flip, --scales) is for semantic models; an "
                             f"{spec.task} model takes --window and --overlap")
    if spec.task == "panoptic":
        from pixelwise.inference.panoptic_network import PanopticNetworkPredictor

        return PanopticNetworkPredictor(model=model_from_file(contents).to(run_device), spec=spec, device=run_device,
                                        amp_dtype=autocast_dtype(run_device, precision), window=window, overlap=overlap,
                                        window_batch=window_batch)  # fmt: skip
    if spec.task == "instance" and backend == "onnxruntime":  # the network exported, then run in onnxruntime
        if run_device.type != "cpu":
            raise PixelwiseError(f"backend 'onnxruntime' runs on the CPU; pass --device cpu, or --backend torch on {run_device}")
        return instance_predictor(spec, _exported_detector(model_from_file(contents), spec=spec), device=torch.device("cpu"),
                                  amp_dtype=None)  # fmt: skip
    if spec.task == "instance":  # a detection network reads lists of [0, 1] images and resizes them itself
        return instance_predictor(spec, model_from_file(contents).to(run_device), device=run_device,
                                  amp_dtype=autocast_dtype(run_device, precision))  # fmt: skip
    return network_predictor(spec, network=model_from_file(contents).to(run_device).eval(), device=run_device,
                             amp_dtype=autocast_dtype(run_device, precision))


def _exported_detector(model: torch.nn.Module, *, spec: ModelSpec):
    """``model`` (a detection network) exported to ONNX and opened in onnxruntime."""
    from pixelwise.inference.backends.onnxruntime import OnnxBackend, OnnxDetector
    from pixelwise.inference.backends.registry import temporary_onnx

    with temporary_onnx(model, in_channels=spec.preprocess.in_channels) as path:
        return OnnxDetector(OnnxBackend(path, threads=torch.get_num_threads()))
