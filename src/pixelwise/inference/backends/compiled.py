"""``torch.compile``: the eager model's graph compiled by inductor with its weights frozen into it.

Freezing (``torch._inductor.config.freezing``) treats the parameters as constants, so inductor folds
them into the graph and pre-packs the convolution weights for oneDNN; it only applies under
``no_grad``, which is how predictors run. The first call of each new input shape compiles (tens of
seconds for a ResNet); later calls of that shape reuse it.
"""

from __future__ import annotations

import torch

from pixelwise.inference.backends.registry import BackendRequest, register_backend
from pixelwise.inference.backends.torch import TorchBackend, prepare_for_inference


@register_backend("compile")
def compiled_backend(request: BackendRequest) -> TorchBackend:
    """The eager backend's model (folded, channels_last), compiled by inductor with frozen weights."""
    model = prepare_for_inference(request.eager_network("compile"), in_channels=request.in_channels)
    compiled = torch.compile(model, backend="inductor", options={"freezing": True})
    return TorchBackend(compiled, device=request.device, amp_dtype=request.amp_dtype)
