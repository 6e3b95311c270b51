"""Paired transforms: labels stay in the label set, image and mask stay aligned, padding is ignored."""

from __future__ import annotations

import pytest
import torch

from pixelwise.data.transforms import IMAGENET_MEAN, IMAGENET_STD, eval_transform, train_transform

STEP = 40  # label k is drawn with grey value STEP * (k + 1); 0 is left for padding


def labelled_pair(height: int, width: int, *, block: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A blocky mask with labels 0..4 and an image whose colour encodes each pixel's label."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.randint(0, 5, (height // block + 1, width // block + 1), generator=generator)
    mask = coarse.repeat_interleave(block, 0).repeat_interleave(block, 1)[:height, :width]  # (H, W)
    mask[0, : width // 2] = 255  # some ignored pixels too
    image = (STEP * (mask + 1)).clamp(max=255).to(torch.uint8).expand(3, height, width).clone()  # (3, H, W)
    image[:, mask == 255] = 250
    return image, mask


def decode_labels(image: torch.Tensor) -> torch.Tensor:
    """Invert the colour code of an un-normalised float image (mean 0, std 1)."""
    return (image[0] * 255 / STEP).round().long() - 1


def interior(mask: torch.Tensor) -> torch.Tensor:
    """Pixels whose 3x3 neighbourhood has one label (bilinear image resampling is exact there)."""
    padded = torch.nn.functional.pad(mask[None, None].float(), (1, 1, 1, 1), mode="replicate")
    high = torch.nn.functional.max_pool2d(padded, 3, stride=1)[0, 0]
    low = -torch.nn.functional.max_pool2d(-padded, 3, stride=1)[0, 0]
    return high == low


@pytest.mark.parametrize("seed", range(12))
def test_train_transform_keeps_labels_and_alignment(seed):
    torch.manual_seed(seed)
    height, width = [(40, 56), (24, 24), (64, 40)][seed % 3]  # includes images smaller than the crop
    image, mask = labelled_pair(height, width, seed=seed)
    transform = train_transform(crop_size=(32, 48), scale_range=(0.5, 2.0), color_jitter=0, mean=(0, 0, 0), std=(1, 1, 1))
    out_image, out_mask = transform(image, mask)
    assert out_image.dtype == torch.float32 and out_image.shape == (3, 32, 48)
    assert out_mask.dtype == torch.int64 and out_mask.shape == (32, 48)
    assert set(out_mask.unique().tolist()) <= {0, 1, 2, 3, 4, 255}
    padded = out_image.abs().sum(0) == 0  # image padding is 0 ...
    assert (out_mask[padded] == 255).all()  # ... and always ignored in the mask
    labelled = interior(out_mask) & (out_mask != 255)
    assert labelled.sum() > 100
    assert torch.equal(decode_labels(out_image)[labelled], out_mask[labelled])


def test_scale_one_crop_is_an_exact_aligned_crop():
    torch.manual_seed(3)
    image, mask = labelled_pair(30, 50)
    transform = train_transform(crop_size=16, scale_range=(1.0, 1.0), hflip=False, color_jitter=0, mean=(0, 0, 0), std=(1, 1, 1))
    out_image, out_mask = transform(image, mask)
    codes = (out_image[0] * 255).round().to(torch.uint8)
    # Find the crop in the original: it must be a verbatim window of both image and mask.
    hits = [
        (top, left)
        for top in range(30 - 16 + 1)
        for left in range(50 - 16 + 1)
        if torch.equal(image[0, top : top + 16, left : left + 16], codes) and torch.equal(mask[top : top + 16, left : left + 16], out_mask)
    ]
    assert hits


def test_small_image_is_padded_bottom_right_with_ignore():
    image = torch.full((3, 4, 5), 200, dtype=torch.uint8)
    mask = torch.ones(4, 5, dtype=torch.int64)
    transform = train_transform(crop_size=8, scale_range=(1.0, 1.0), hflip=False, color_jitter=0, ignore_index=77)
    out_image, out_mask = transform(image, mask)
    assert out_mask[:4, :5].unique().tolist() == [1]
    assert out_mask[4:].unique().tolist() == [77] and out_mask[:, 5:].unique().tolist() == [77]
    expected_pad = torch.tensor([(0 - m) / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD, strict=True)])
    assert torch.allclose(out_image[:, 7, 7], expected_pad, atol=1e-6)


def test_colour_jitter_changes_only_the_image():
    image, mask = labelled_pair(32, 32)
    torch.manual_seed(0)
    plain = train_transform(crop_size=32, scale_range=(1.0, 1.0), hflip=False, color_jitter=0)(image, mask)
    torch.manual_seed(0)
    jittered = train_transform(crop_size=32, scale_range=(1.0, 1.0), hflip=False, color_jitter=0.5)(image, mask)
    assert torch.equal(plain[1], jittered[1]) and torch.equal(plain[1], mask)
    assert not torch.allclose(plain[0], jittered[0])


def test_same_seed_same_augmentation():
    image, mask = labelled_pair(40, 40)
    transform = train_transform(crop_size=24)
    torch.manual_seed(5)
    first = transform(image, mask)
    torch.manual_seed(5)
    second = transform(image, mask)
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])


def test_eval_transform_normalises_exactly_and_resizes_masks_nearest():
    image = torch.tensor([0, 255], dtype=torch.uint8).repeat(3, 20, 15)  # (3, 20, 30)
    mask = torch.tensor([0, 3], dtype=torch.int64).repeat(20, 15)
    out_image, out_mask = eval_transform(mean=(0.5, 0.5, 0.5), std=(0.25, 0.5, 1.0))(image, mask)
    assert out_image[:, 0, 0].tolist() == [-2.0, -1.0, -0.5]
    assert out_image[:, 0, 1].tolist() == [2.0, 1.0, 0.5]
    assert torch.equal(out_mask, mask)
    small_image, small_mask = eval_transform(resize=10)(image, mask)
    assert small_image.shape == (3, 10, 15) and small_mask.shape == (10, 15)  # shorter side 10
    assert set(small_mask.unique().tolist()) <= {0, 3}
    exact_image, _ = eval_transform(resize=(8, 12))(image, mask)
    assert exact_image.shape == (3, 8, 12)


def test_greyscale_images_use_the_mean_statistics():
    image = torch.full((1, 4, 4), 255, dtype=torch.uint8)
    out_image, _ = eval_transform(mean=(0.2, 0.4, 0.6), std=(0.5, 0.5, 0.5))(image, torch.zeros(4, 4, dtype=torch.int64))
    assert out_image.shape == (1, 4, 4)
    assert torch.allclose(out_image, torch.full((1, 4, 4), (1 - 0.4) / 0.5))


def test_crop_size_none_keeps_the_whole_image():
    image, mask = labelled_pair(20, 28)
    out_image, out_mask = train_transform(crop_size=None, hflip=False, color_jitter=0, mean=(0, 0, 0), std=(1, 1, 1))(image, mask)
    assert out_image.shape == (3, 20, 28) and torch.equal(out_mask, mask)
