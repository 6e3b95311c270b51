"""Property-based tests (Hypothesis): the readers and parsers that take user input give either a result or
a :class:`PixelwiseError` on any input, never another exception.

The default suite runs a few hundred examples per target; ``-m slow`` runs ten times as many.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
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
from pixelwise.data.panoptic_format import id_to_rgb, rgb_to_id
from pixelwise.engine.config import TrainConfig
from pixelwise.errors import PixelwiseError
from pixelwise.metrics.rle import decode_masks, encode_masks, rle_area, rle_to_box, segmentation_to_rle
from pixelwise.metrics.rle_check import compressed_runs
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


def _runs(mask: np.ndarray) -> list[int]:
    """COCO's uncompressed RLE of one ``(H, W)`` mask: runs in column-major order, background first."""
    flat = mask.ravel(order="F").astype(np.int64)
    edges = np.flatnonzero(np.diff(flat)) + 1
    runs = np.diff(np.concatenate([[0], edges, [flat.size]])).tolist()
    return [0, *runs] if flat.size and flat[0] else runs


def _tight_box(mask: np.ndarray) -> list[float]:
    """The xyxy box of a mask's foreground, one past its last pixel; zeros when it is empty."""
    rows, cols = np.nonzero(mask)
    return [float(cols.min()), float(rows.min()), float(cols.max() + 1), float(rows.max() + 1)] if rows.size else [0.0] * 4


@st.composite
def binary_masks(draw) -> np.ndarray:
    """``(N, H, W)`` or ``(H, W)`` masks of any size down to 1 x N, N x 1 and 0 x N; random, empty or full;
    bool or uint8 (1 or 255 as foreground); C-ordered, Fortran-ordered or a strided view."""
    count, height, width = draw(st.integers(1, 3)), draw(st.integers(0, 24)), draw(st.integers(0, 24))
    kind = draw(st.sampled_from(["random", "random", "empty", "full"]))
    bits = draw(arrays(np.bool_, (count, height, width))) if kind == "random" else np.full((count, height, width), kind == "full")
    masks = bits if draw(st.booleans()) else bits.astype(np.uint8) * draw(st.sampled_from([1, 255]))
    layout = draw(st.sampled_from(["C", "F", "strided"]))
    if layout == "strided":  # every other column of a wider array: neither C- nor F-contiguous
        wide = np.zeros((count, height, 2 * width), masks.dtype)
        wide[:, :, ::2] = masks
        masks = wide[:, :, ::2]
    else:
        masks = np.array(masks, order=layout)
    return masks[0] if count == 1 and draw(st.booleans()) else masks


def _rle_round_trips(masks: np.ndarray) -> None:
    truth = (masks if masks.ndim == 3 else masks[None]) != 0  # (N, H, W)
    rles = encode_masks(masks)
    assert [r["size"] for r in rles] == [list(truth.shape[1:])] * len(truth)
    assert all(isinstance(r["counts"], str) for r in rles)
    decoded = decode_masks(rles)
    assert decoded.dtype == np.uint8 and np.array_equal(decoded, truth)
    as_bytes = [{"size": r["size"], "counts": r["counts"].encode("ascii")} for r in rles]
    assert np.array_equal(decode_masks(as_bytes), decoded)
    uncompressed = [{"size": r["size"], "counts": _runs(mask)} for r, mask in zip(rles, truth, strict=True)]
    assert np.array_equal(decode_masks(uncompressed), decoded)  # through pycocotools' frPyObjects
    for rle, mask in zip(rles, truth, strict=True):  # the parser that checks counts reads what pycocotools wrote
        assert compressed_runs(rle["counts"].encode("ascii")).tolist() == (_runs(mask) if mask.size else [0])
    assert rle_area(rles).tolist() == truth.sum(axis=(1, 2)).tolist() and rle_area(rles[0]) == int(truth[0].sum())
    boxes = rle_to_box(rles)
    assert boxes.tolist() == [_tight_box(mask) for mask in truth]
    xywh = rle_to_box(rles, fmt="xywh")
    assert np.array_equal(xywh[:, :2], boxes[:, :2]) and np.array_equal(xywh[:, 2:], boxes[:, 2:] - boxes[:, :2])


def _edited(counts: str, where: int, edit: str, character: str) -> str:
    """``counts`` with a character replaced, inserted, or everything from ``where`` on cut off."""
    if edit == "cut":
        return counts[:where]
    return counts[:where] + character + counts[where + (edit == "replace") :]


@st.composite
def segmentations(draw) -> tuple[object, int, int]:
    """``(segmentation, height, width)``: RLEs of the image's size, valid or with a character changed, cut or
    added; arbitrary counts and sizes; arbitrary polygons; other values."""
    height, width = draw(st.integers(0, 8)), draw(st.integers(0, 8))
    mask = draw(arrays(np.bool_, (height, width)))
    valid = encode_masks(mask)[0]["counts"]
    edit = st.tuples(st.integers(0, len(valid)), st.sampled_from(["replace", "cut", "insert"]),
                     st.characters(min_codepoint=40, max_codepoint=120))
    counts = draw(st.one_of(
        st.just(valid), st.just(valid.encode("ascii")), st.just(_runs(mask)), edit.map(lambda e: _edited(valid, *e)),
        st.binary(max_size=40), st.text(max_size=40), st.text(st.characters(min_codepoint=48, max_codepoint=111), max_size=12),
        st.lists(st.integers(-5, 80), max_size=8),
        st.lists(st.one_of(st.integers(-(2**70), 2**70), st.floats(), st.booleans(), st.text(max_size=2)), max_size=4),
        st.none(), st.integers(), st.floats(),
    ))  # fmt: skip
    size = draw(st.one_of(
        st.just([height, width]), st.just((height, width)),
        st.lists(st.one_of(st.integers(-3, 10), st.floats(), st.booleans(), st.text(max_size=2), st.none()), max_size=3),
        st.none(), st.text(max_size=3),
    ))  # fmt: skip
    coordinate = st.one_of(st.floats(), st.integers(-(10**12), 10**12), st.floats(-20, 20), st.booleans(), st.text(max_size=2))
    segmentation = draw(st.one_of(
        st.fixed_dictionaries({"size": st.just(size), "counts": st.just(counts)}),
        st.lists(st.lists(coordinate, max_size=12), max_size=3), st.lists(coordinate, max_size=8), st.none(),
        st.text(max_size=5), st.dictionaries(st.text(max_size=6), st.integers(), max_size=2),
    ))  # fmt: skip
    return segmentation, height, width


def _segmentation_decodes_or_refuses(case: tuple[object, int, int]) -> None:
    segmentation, height, width = case
    try:
        masks = decode_masks([segmentation], height=height, width=width)
    except PixelwiseError as error:
        assert "\n" not in str(error)
        return
    assert masks.shape == (1, height, width) and masks.dtype == np.uint8 and set(np.unique(masks).tolist()) <= {0, 1}
    assert np.array_equal(decode_masks([segmentation], height=height, width=width), masks)  # not uninitialised memory
    rle = segmentation_to_rle(segmentation, height=height, width=width)
    assert rle_area(rle) == int(masks.sum()) and rle_to_box(rle).tolist() == _tight_box(masks[0])


def arbitrary_segmentations_decode_or_refuse(examples: int) -> None:
    """Run by :func:`_in_child`: any segmentation gives a 0/1 mask or a :class:`PixelwiseError`."""
    given(segmentations())(settings(max_examples=examples, **SETTINGS)(_segmentation_decodes_or_refuses))()


CHILD_MEMORY = 8 * 2**30
"""Address space of :func:`_in_child`'s process: a polygon coordinate of 1e12 makes pycocotools ask for
21 GB, which must fail in the child, not bring the machine's out-of-memory killer."""


def _in_child(call: str) -> None:
    """Run ``test_properties.<call>`` in a fresh Python: pycocotools' C code can end a process (a polygon
    coordinate of 1e9 is a segmentation fault), and that must fail one test, not end the suite."""
    import resource

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY, CHILD_MEMORY))

    code = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import test_properties; test_properties.{call}"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, preexec_fn=limit_memory)
    assert done.returncode == 0, f"exit {done.returncode} (negative: killed by that signal)\n{done.stdout[-3000:]}{done.stderr[-3000:]}"


def _panoptic_ids_round_trip(ids: np.ndarray, rgb: np.ndarray) -> None:
    colours = id_to_rgb(ids)
    assert colours.dtype == np.uint8 and colours.shape == (*ids.shape, 3)
    assert np.array_equal(rgb_to_id(colours), ids)
    assert np.array_equal(id_to_rgb(rgb_to_id(rgb)), rgb)


panoptic_cases = array_shapes(min_dims=2, max_dims=2, min_side=0, max_side=8).flatmap(
    lambda shape: st.tuples(arrays(np.int64, shape, elements=st.integers(0, 256**3 - 1)), arrays(np.uint8, (*shape, 3)))
)  # (segment ids (H, W) in 0 .. 256**3 - 1, colours (H, W, 3))


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

    def test_rle_round_trip_area_and_box(self, examples):
        given(binary_masks())(settings(max_examples=examples, **SETTINGS)(_rle_round_trips))()

    def test_rle_readers_on_arbitrary_input(self, examples):
        _in_child(f"arbitrary_segmentations_decode_or_refuse({examples})")

    def test_panoptic_id_colours_round_trip(self, examples):
        given(panoptic_cases)(settings(max_examples=examples, **SETTINGS)(lambda case: _panoptic_ids_round_trip(*case)))()
