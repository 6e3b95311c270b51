"""Classical segmentation — thresholds, region growing, edges, watershed, clustering, features + a forest —
scored by the same harness as the networks.

Each method is a :class:`ClassicalMethod` in the file of its family, registered by name; wrapped in a
:class:`ClassicalPredictor` it is a :class:`pixelwise.Predictor` that ``evaluate``, ``predict`` and the
reports take like any model::

    predictor = fit_predictor("otsu", dataset="isbi2012-em", root="data/isbi2012-em")   # mapping fitted on train
    scores = pixelwise.evaluate(predictor=predictor, dataset="isbi2012-em", root="data/isbi2012-em", split="val")

or ``pixelwise evaluate --model otsu --dataset isbi2012-em --root ...``. How regions become classes is the
stated rule of :mod:`pixelwise.classical.mapping`, fitted on the train split only.

Importing this package registers every method; scikit-image, scikit-learn and SciPy are imported only
when a method runs (``pip install -e '.[classical]'``).
"""

from pixelwise.classical import clustering, edges, forest, region, thresholds, watershed  # noqa: F401  (registers)
from pixelwise.classical.base import ClassicalMethod
from pixelwise.classical.fit import fit_classical, fit_method, fit_predictor
from pixelwise.classical.predictor import ClassicalPredictor
from pixelwise.classical.registry import (
    METHODS,
    create_method,
    describe_method,
    is_classical,
    list_methods,
    method_options,
    register_method,
)

__all__ = [
    "METHODS",
    "ClassicalMethod",
    "ClassicalPredictor",
    "create_method",
    "describe_method",
    "fit_classical",
    "fit_method",
    "fit_predictor",
    "is_classical",
    "list_methods",
    "method_options",
    "register_method",
]
