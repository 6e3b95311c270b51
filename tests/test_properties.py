"""Property-based tests (Hypothesis): the readers and parsers that take user input give either a result or
a :class:`PixelwiseError` on any input, never another exception.

The default suite runs a few hundred examples per target; ``-m slow`` runs ten times as many.
"""

from __future__ import annotations

import io
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays
from PIL import Image

import pixelwise
from pixelwise.data.decode import read_image, read_mask
from pixelwise.data.labels import ColorTable, LabelMap, check_labels
from pixelwise.engine.config import TrainConfig
from pixelwise.errors import PixelwiseError
from pixelwise.modelfile import read_model_file

FAST, SLOW = 300, 3000
SETTINGS = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]}


def _png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.arange(48, dtype=np.uint8).reshape(6, 8)).save(buffer, format="PNG")
    return buffer.getvalue()


PNG = _png_bytes()
# random bytes, and a valid PNG with bytes flipped, cut short or appended (closer to what breaks decoders)
file_bytes = st.one_of(
    st.binary(max_size=300),
    st.tuples(st.integers(0, len(PNG) - 1), st.integers(0, 255)).map(lambda c: PNG[: c[0]] + bytes([c[1]]) + PNG[c[0] + 1 :]),
    st.integers(0, len(PNG)).map(lambda n: PNG[:n]),
    st.binary(max_size=50).map(lambda tail: PNG + tail),
)


def _decoders_return_or_refuse(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.png"
        path.write_bytes(data)
        for read in (read_image, read_mask):
            try:
                result = read(path)
            except PixelwiseError:
                continue
            assert result.ndim == 3 and result.dtype in (torch.uint8, torch.uint16, torch.int32)


def _label_readers_return_or_refuse(values: np.ndarray, mapping: dict[int, int], num_classes: int) -> None:
    stored = torch.from_numpy(values)
    labels = LabelMap(mapping)(stored)
    assert labels.shape == stored.shape and labels.dtype == torch.int64
    rgb = torch.from_numpy(np.stack([values.astype(np.uint8)] * 3))  # (3, H, W)
    colours = ColorTable([(0, 0, 0), (1, 1, 1), (2, 2, 2)])(rgb)
    assert colours.shape == stored.shape
    for candidate in (labels, colours, stored.to(torch.int64)):
        try:
            check_labels(candidate, num_classes=num_classes, source="mask m.png", fix="fix it")
        except PixelwiseError as error:
            assert "\n" not in str(error)


FIELDS = [f for f in TrainConfig.__dataclass_fields__ if f != "out"]
values = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 50), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8), st.lists(st.one_of(st.integers(-2, 5), st.floats(-2, 5)), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)  # fmt: skip


def _config_parses_or_refuses(changes: dict) -> None:
    try:
        config = TrainConfig.from_dict({**changes, "out": "runs/x"})
    except PixelwiseError as error:
        assert "\n" not in str(error)
        return
    assert TrainConfig.from_dict(config.to_dict()) == config  # what it accepted, it writes back faithfully


def _list_file_reads_or_refuses(root: Path, text: str) -> None:
    (root / "train.txt").write_text(text, encoding="utf-8", errors="replace")
    try:
        data = pixelwise.create_dataset("camvid", root=str(root), split="train")
        for index in range(min(len(data), 3)):
            data[index]
    except PixelwiseError as error:
        assert "\n" not in str(error)


def _model_file_reads_or_refuses(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.pt"
        path.write_bytes(data)
        with pytest.raises(PixelwiseError):
            read_model_file(path)


@pytest.fixture(scope="module")
def camvid_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("camvid")
    for folder in ("train", "trainannot"):
        (root / folder).mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(root / "train" / "f.png")
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(root / "trainannot" / "f.png")
    yield root
    shutil.rmtree(root, ignore_errors=True)


list_lines = st.lists(
    st.one_of(
        st.sampled_from(["train/f.png trainannot/f.png", "/SegNet/CamVid/train/f.png /SegNet/CamVid/trainannot/f.png",
                         "../x.png ../y.png", "/etc/passwd /etc/hosts", "train/f.png", "# comment", "", "a b c"]),
        st.text(max_size=30),
    ),
    max_size=4,
).map("\n".join)  # fmt: skip
label_cases = st.tuples(
    st.sampled_from([np.uint8, np.uint16, np.int32, np.int64]).flatmap(
        lambda dtype: arrays(dtype, array_shapes(min_dims=2, max_dims=2, max_side=6))
    ),
    st.dictionaries(st.integers(0, 300), st.integers(0, 255), max_size=5),
    st.integers(1, 12),
)


@pytest.mark.parametrize("examples", [FAST, pytest.param(SLOW, marks=pytest.mark.slow)], ids=["fast", "long"])
class TestNothingButResultsOrPixelwiseErrors:
    def test_decoders(self, examples):
        given(file_bytes)(settings(max_examples=examples, **SETTINGS)(_decoders_return_or_refuse))()

    def test_label_readers(self, examples):
        given(label_cases)(settings(max_examples=examples, **SETTINGS)(lambda case: _label_readers_return_or_refuse(*case)))()

    def test_config_parser(self, examples):
        changes = st.dictionaries(st.sampled_from(FIELDS), values, max_size=4)
        given(changes)(settings(max_examples=examples, **SETTINGS)(_config_parses_or_refuses))()

    def test_list_file_reader(self, examples, camvid_root):
        run = settings(max_examples=examples, **SETTINGS)(lambda text: _list_file_reads_or_refuses(camvid_root, text))
        given(list_lines)(run)()

    def test_model_file_reader(self, examples):
        given(file_bytes)(settings(max_examples=examples, **SETTINGS)(_model_file_reads_or_refuses))()
