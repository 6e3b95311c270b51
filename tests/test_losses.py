"""Losses against cases computed by hand, plus the properties every loss must have.

Most hand cases use two pixels and two classes with logits chosen so that the softmax
gives round probabilities:
    logits (0, 0)    -> p = (1/2, 1/2)
    logits (ln3, 0)  -> p = (3/4, 1/4)
and sigmoid(0) = 1/2, sigmoid(ln3) = 3/4, sigmoid(-ln3) = 1/4.
"""

from __future__ import annotations

import inspect
import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from pixelwise.constants import IGNORE_INDEX
from pixelwise.errors import PixelwiseError
from pixelwise.losses import (
    LOSSES,
    bce_dice_loss,
    binary_cross_entropy,
    binary_dice_loss,
    class_pixel_statistics,
    create_loss,
    cross_entropy,
    dice_loss,
    focal_loss,
    inverse_frequency_weights,
    list_losses,
    lovasz_softmax,
    median_frequency_weights,
    ohem_cross_entropy,
    soft_dice_scores,
)
from pixelwise.registry import UnknownNameError

LN2, LN3 = math.log(2.0), math.log(3.0)


def two_pixels() -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel A: logits (0, 0), truth 0 (p_true = 1/2). Pixel B: logits (ln3, 0), truth 1 (p_true = 1/4)."""
    logits = torch.tensor([[0.0, LN3], [0.0, 0.0]], dtype=torch.float64).view(1, 2, 1, 2)  # (N=1, C=2, H=1, W=2)
    target = torch.tensor([[[0, 1]]])  # (1, 1, 2)
    return logits, target


def with_ignored_pixel(logits: torch.Tensor, target: torch.Tensor, ignored_logits: list[float]):
    """Append a third pixel labelled 255 with the given logits."""
    extra = torch.tensor(ignored_logits, dtype=logits.dtype).view(1, -1, 1, 1)
    return torch.cat([logits, extra], dim=3), torch.cat([target, torch.tensor([[[255]]])], dim=2)


# --- cross-entropy ---------------------------------------------------------------------------


def test_cross_entropy_by_hand():
    logits, target = two_pixels()
    # -ln(1/2) = ln2 and -ln(1/4) = 2 ln2; mean = 1.5 ln2
    assert cross_entropy(logits, target).item() == pytest.approx(1.5 * LN2)
    # weights (1, 3): (1 * ln2 + 3 * 2 ln2) / (1 + 3) = 7/4 ln2
    weighted = cross_entropy(logits, target, weight=torch.tensor([1.0, 3.0]))
    assert weighted.item() == pytest.approx(7 / 4 * LN2)
    # smoothing eps=0.2 over C=2: l = 0.8 * (-ln p_y) + 0.1 * (-ln p_0 - ln p_1)
    # A: 0.8 ln2 + 0.1 (ln2 + ln2) = ln2;  B: 0.8 * 2ln2 + 0.1 (ln(4/3) + 2 ln2) = 1.8 ln2 + 0.1 ln(4/3)
    smoothed = cross_entropy(logits, target, label_smoothing=0.2)
    assert smoothed.item() == pytest.approx((LN2 + 1.8 * LN2 + 0.1 * math.log(4 / 3)) / 2)


def test_cross_entropy_ignores_the_ignore_index_and_matches_torch():
    logits, target = with_ignored_pixel(*two_pixels(), ignored_logits=[-50.0, 80.0])
    assert cross_entropy(logits, target).item() == pytest.approx(1.5 * LN2)
    weight = torch.tensor([1.0, 3.0], dtype=torch.float64)
    for smoothing in (0.0, 0.2):
        expected = F.cross_entropy(logits, target, weight=weight, ignore_index=255, label_smoothing=smoothing)
        assert torch.allclose(cross_entropy(logits, target, weight=weight, label_smoothing=smoothing), expected)


def test_class_weights_change_cross_entropy_as_the_weighted_formula_says():
    torch.manual_seed(0)
    logits, target = torch.randn(2, 3, 4, 4), torch.randint(0, 3, (2, 4, 4))
    target[0, 0] = 255
    weight = torch.tensor([0.5, 2.0, 1.0])
    per_pixel = -F.log_softmax(logits, 1).gather(1, target.clamp(max=2).unsqueeze(1)).squeeze(1)  # -ln p_y
    valid = target != 255
    w = weight[target.clamp(max=2)] * valid
    expected = (w * per_pixel).sum() / w.sum()  # sum w_y l / sum w_y over counted pixels
    assert torch.allclose(create_loss("ce", class_weights=weight)(logits, target), expected)
    assert not torch.allclose(create_loss("ce")(logits, target), expected)


# --- Dice ------------------------------------------------------------------------------------


def test_multiclass_dice_by_hand():
    logits, target = two_pixels()
    # p0 = (1/2, 3/4), p1 = (1/2, 1/4); truth0 = (1, 0), truth1 = (0, 1)
    # class 0: inter 1/2, |P| 5/4, |T| 1 -> dice 1 / (9/4) = 4/9
    # class 1: inter 1/4, |P| 3/4, |T| 1 -> dice (1/2) / (7/4) = 2/7
    assert dice_loss(logits, target, smooth=0.0).item() == pytest.approx(1 - (4 / 9 + 2 / 7) / 2)
    # smooth 1: (1 + 1) / (9/4 + 1) = 8/13 and (1/2 + 1) / (7/4 + 1) = 6/11
    assert dice_loss(logits, target, smooth=1.0).item() == pytest.approx(1 - (8 / 13 + 6 / 11) / 2)


def test_multiclass_dice_averages_only_the_classes_present():
    # three classes, class 2 absent from the truth. A: logits (0, 0, 0) -> p = (1/3, 1/3, 1/3), truth 0
    # B: logits (ln2, 0, 0) -> p = (1/2, 1/4, 1/4), truth 1
    logits = torch.tensor([[0.0, LN2], [0.0, 0.0], [0.0, 0.0]], dtype=torch.float64).view(1, 3, 1, 2)
    target = torch.tensor([[[0, 1]]])
    # class 0: inter 1/3, |P| 1/3 + 1/2 = 5/6, |T| 1 -> (2/3) / (11/6) = 4/11
    # class 1: inter 1/4, |P| 1/3 + 1/4 = 7/12, |T| 1 -> (1/2) / (19/12) = 6/19
    assert dice_loss(logits, target, smooth=0.0).item() == pytest.approx(1 - (4 / 11 + 6 / 19) / 2)


def test_multiclass_dice_equals_the_one_hot_formula():
    from pixelwise.losses.targets import one_hot

    generator = torch.Generator().manual_seed(4)
    logits = torch.randn(2, 4, 5, 7, dtype=torch.float64, generator=generator).requires_grad_()
    target = torch.randint(0, 4, (2, 5, 7), generator=generator)
    target[target == 3] = 2  # class 3 absent
    target[0, :2] = 255
    valid = (target != 255).unsqueeze(1)
    scores = soft_dice_scores(logits.softmax(1), one_hot(target, num_classes=4), valid, smooth=1.0)
    expected = (1 - scores[:3]).mean()  # the mean over the three classes present
    loss = dice_loss(logits, target)
    assert loss.item() == pytest.approx(expected.item())
    (grad,) = torch.autograd.grad(loss, logits)
    (expected_grad,) = torch.autograd.grad(expected, logits)
    torch.testing.assert_close(grad, expected_grad)


def test_binary_dice_bce_and_their_sum_by_hand():
    # one channel, logits (0, ln3, -ln3) -> p = (1/2, 3/4, 1/4); truth (1, 0, 1)
    logits = torch.tensor([0.0, LN3, -LN3], dtype=torch.float64).view(1, 1, 1, 3)
    target = torch.tensor([[[1, 0, 1]]])
    # inter 1/2 + 1/4 = 3/4, |P| 3/2, |T| 2; smooth 1: (3/2 + 1) / (7/2 + 1) = 5/9
    assert binary_dice_loss(logits, target, smooth=1.0).item() == pytest.approx(4 / 9)
    # BCE: -ln(1/2), -ln(1 - 3/4), -ln(1/4) = ln2, 2 ln2, 2 ln2 -> mean 5/3 ln2
    assert binary_cross_entropy(logits, target).item() == pytest.approx(5 / 3 * LN2)
    assert bce_dice_loss(logits, target, smooth=1.0).item() == pytest.approx(5 / 3 * LN2 + 4 / 9)
    weighted = bce_dice_loss(logits, target, smooth=1.0, bce_weight=0.5, dice_weight=2.0)
    assert weighted.item() == pytest.approx(0.5 * 5 / 3 * LN2 + 2 * 4 / 9)


def test_one_vs_all_bce_dice_by_hand():
    # two channels, each its own sigmoid problem against the one-hot truth (0, 1)
    # channel 0: logits (0, ln3) -> p (1/2, 3/4), truth (1, 0); channel 1: (ln3, -ln3) -> (3/4, 1/4), truth (0, 1)
    logits = torch.tensor([[0.0, LN3], [LN3, -LN3]], dtype=torch.float64).view(1, 2, 1, 2)
    target = torch.tensor([[[0, 1]]])
    # BCE terms: ln2, 2ln2 | 2ln2, 2ln2 -> mean 7/4 ln2
    assert binary_cross_entropy(logits, target).item() == pytest.approx(7 / 4 * LN2)
    # dice (smooth 0): ch0 inter 1/2, |P| 5/4, |T| 1 -> 4/9; ch1 inter 1/4, |P| 1, |T| 1 -> 1/4
    assert binary_dice_loss(logits, target, smooth=0.0).item() == pytest.approx(1 - (4 / 9 + 1 / 4) / 2)
    assert create_loss("bce_dice", smooth=0.0)(logits, target).item() == pytest.approx(
        7 / 4 * LN2 + 1 - (4 / 9 + 1 / 4) / 2
    )


def test_dice_module_switches_to_sigmoid_for_one_channel():
    logits = torch.tensor([0.0, LN3, -LN3], dtype=torch.float64).view(1, 1, 1, 3)
    target = torch.tensor([[[1, 0, 1]]])
    assert create_loss("dice", smooth=1.0)(logits, target).item() == pytest.approx(4 / 9)


def test_ce_dice_is_the_sum():
    logits, target = two_pixels()
    loss = create_loss("ce_dice", smooth=0.0, dice_weight=2.0)(logits, target)
    assert loss.item() == pytest.approx(1.5 * LN2 + 2 * (1 - (4 / 9 + 2 / 7) / 2))


# --- focal -----------------------------------------------------------------------------------


def test_focal_by_hand():
    logits, target = two_pixels()
    # gamma 2: A (1 - 1/2)^2 ln2 = ln2 / 4;  B (1 - 1/4)^2 * 2 ln2 = 9/8 ln2;  mean 11/16 ln2
    assert focal_loss(logits, target, gamma=2.0).item() == pytest.approx(11 / 16 * LN2)
    # alpha (1, 3): (ln2 / 4 + 3 * 9/8 ln2) / 2 = 29/16 ln2
    alpha = torch.tensor([1.0, 3.0])
    assert focal_loss(logits, target, gamma=2.0, alpha=alpha).item() == pytest.approx(29 / 16 * LN2)
    # gamma 0 is cross-entropy
    assert focal_loss(logits, target, gamma=0.0).item() == pytest.approx(1.5 * LN2)


# --- OHEM cross-entropy ----------------------------------------------------------------------


def four_pixels() -> tuple[torch.Tensor, torch.Tensor]:
    """Truth 0 everywhere; true-class probabilities 0.9, 0.5, 0.2 and 0.6 (losses -ln p)."""
    p = torch.tensor([0.9, 0.5, 0.2, 0.6], dtype=torch.float64)
    logits = torch.stack([torch.log(p), torch.log(1 - p)]).view(1, 2, 1, 4)  # (N=1, C=2, H=1, W=4)
    return logits, torch.zeros(1, 1, 4, dtype=torch.long)


def test_ohem_keeps_the_pixels_below_the_threshold():
    logits, target = four_pixels()
    ln = math.log
    # threshold 0.7: the hard pixels are p = 0.5, 0.2, 0.6 (three >= the one that min_kept 1/4 asks for)
    assert ohem_cross_entropy(logits, target, threshold=0.7, min_kept=0.25).item() == pytest.approx(-(ln(0.5) + ln(0.2) + ln(0.6)) / 3)
    # threshold 0.3: only p = 0.2 is hard, but min_kept 1/2 asks for two pixels: the two of highest loss
    assert ohem_cross_entropy(logits, target, threshold=0.3, min_kept=0.5).item() == pytest.approx(-(ln(0.5) + ln(0.2)) / 2)
    # threshold 1 keeps every pixel: plain cross-entropy
    assert ohem_cross_entropy(logits, target, threshold=1.0).item() == pytest.approx(cross_entropy(logits, target).item())


def test_ohem_class_weights_average_the_kept_pixels():
    logits, target = four_pixels()
    target = torch.tensor([[[0, 1, 0, 0]]])  # pixel 2 is now class 1 with p_true = 0.5 (logits ln .5, ln .5)
    weight = torch.tensor([1.0, 3.0])
    # threshold 0.7 keeps p = 0.5 (class 1, weight 3), 0.2 and 0.6 (class 0, weight 1)
    expected = -(3 * math.log(0.5) + math.log(0.2) + math.log(0.6)) / (3 + 1 + 1)
    assert ohem_cross_entropy(logits, target, threshold=0.7, min_kept=0.25, weight=weight).item() == pytest.approx(expected)
    # an ignored pixel is never kept, however wrong
    logits, target = with_ignored_pixel(*four_pixels(), ignored_logits=[-30.0, 30.0])
    assert ohem_cross_entropy(logits, target, threshold=0.3, min_kept=0.4).item() == pytest.approx(-(math.log(0.5) + math.log(0.2)) / 2)


def test_ce_dice_can_mine_its_cross_entropy_term():
    logits, target = four_pixels()
    mined = create_loss("ce_dice", ohem_threshold=0.3, ohem_min_kept=0.5, dice_weight=0.0)(logits, target)
    assert mined.item() == pytest.approx(-(math.log(0.5) + math.log(0.2)) / 2)
    with pytest.raises(ValueError, match="ohem_threshold and label_smoothing"):
        create_loss("ce_dice", ohem_threshold=0.7, label_smoothing=0.1)


# --- Lovász-softmax --------------------------------------------------------------------------


def test_lovasz_by_hand():
    # 1x3 pixels, 2 classes; class-1 probabilities (0.6, 0.7, 0.2) from logits (0, ln(p / (1 - p))); truth (1, 0, 1)
    p1 = torch.tensor([0.6, 0.7, 0.2], dtype=torch.float64)
    logits = torch.stack([torch.zeros(3, dtype=torch.float64), torch.log(p1 / (1 - p1))]).view(1, 2, 1, 3)
    target = torch.tensor([[[1, 0, 1]]])
    # Jaccard loss of mistake set M against foreground F: |M| / |F u M|.
    # class 1: errors (0.4, 0.7, 0.8), F = {1, 3}; by decreasing error the prefixes {3}, {3,2}, {3,2,1}
    #   give 1/2, 2/3, 3/3 -> increments 1/2, 1/6, 1/3 -> 0.8/2 + 0.7/6 + 0.4/3 = 0.65
    # class 0: errors (0.4, 0.7, 0.8), F = {2}: prefixes give 1/2, 2/2, 3/3 -> 0.8/2 + 0.7/2 + 0 = 0.75
    assert lovasz_softmax(logits, target).item() == pytest.approx((0.65 + 0.75) / 2)
    # an ignored pixel with any logits changes nothing
    logits, target = with_ignored_pixel(logits, target, ignored_logits=[30.0, -30.0])
    assert lovasz_softmax(logits, target).item() == pytest.approx((0.65 + 0.75) / 2)


def brute_force_lovasz(probs: torch.Tensor, labels: torch.Tensor, *, classes: str) -> float:
    """Lovász extension from its definition, with explicit sets: sum_i m_(i) (J(first i) - J(first i-1))."""
    losses = []
    for c in range(probs.shape[0]):
        fg = {i for i in range(len(labels)) if labels[i] == c}
        if classes == "present" and not fg:
            continue
        errors = [abs(float(i in fg) - float(probs[c, i])) for i in range(len(labels))]
        order = sorted(range(len(labels)), key=lambda i: -errors[i])
        jaccard = [len(set(order[:k])) / len(fg | set(order[:k])) if k else 0.0 for k in range(len(order) + 1)]
        losses.append(sum(errors[order[k]] * (jaccard[k + 1] - jaccard[k]) for k in range(len(order))))
    return sum(losses) / len(losses)


@pytest.mark.parametrize("per_image, classes", list(itertools.product([False, True], ["present", "all"])))
def test_lovasz_matches_brute_force(per_image, classes):
    generator = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 3, 3, 4, dtype=torch.float64, generator=generator) * 2
    target = torch.randint(0, 3, (2, 3, 4), generator=generator)
    target[target == 2] = 1  # class 2 absent: "present" and "all" differ
    target[0, 0, :2] = 255
    probs = logits.softmax(1)
    groups = [(p, t) for p, t in zip(probs, target, strict=True)] if per_image else [(probs.transpose(0, 1), target)]
    expected = []
    for p, t in groups:
        p, t = p.reshape(3, -1), t.reshape(-1)  # (C, P), (P,)
        keep = t != 255
        expected.append(brute_force_lovasz(p[:, keep], t[keep], classes=classes))
    loss = lovasz_softmax(logits, target, per_image=per_image, classes=classes)
    assert loss.item() == pytest.approx(sum(expected) / len(expected))


def test_lovasz_of_hard_predictions_is_one_minus_iou():
    # the Lovász extension equals the set function on 0/1 errors: loss = mean over present classes of 1 - IoU
    generator = torch.Generator().manual_seed(2)
    target = torch.randint(0, 3, (1, 5, 5), generator=generator)
    pred = torch.randint(0, 3, (1, 5, 5), generator=generator)
    logits = F.one_hot(pred, 3).permute(0, 3, 1, 2).double() * 60.0  # softmax = one-hot up to e^-60
    ious = [((pred == c) & (target == c)).sum() / ((pred == c) | (target == c)).sum() for c in range(3)]
    assert lovasz_softmax(logits, target).item() == pytest.approx(1 - sum(ious).item() / 3, abs=1e-9)


# --- properties of every registered loss ----------------------------------------------------


@pytest.mark.parametrize("name", list_losses())
def test_ignored_pixels_change_neither_loss_nor_gradient(name):
    generator = torch.Generator().manual_seed(3)
    logits = torch.randn(2, 3, 6, 6, generator=generator)
    target = torch.randint(0, 3, (2, 6, 6), generator=generator)
    ignored = torch.rand(2, 6, 6, generator=generator) < 0.3
    target[ignored] = 255
    loss_fn = create_loss(name)
    results = []
    for scale in (1.0, 25.0):
        x = torch.where(ignored.unsqueeze(1), logits * scale + 5.0, logits).requires_grad_()
        loss = loss_fn(x, target)
        loss.backward()
        results.append((loss.detach(), x.grad))
    (loss_a, grad_a), (loss_b, grad_b) = results
    assert torch.allclose(loss_a, loss_b, atol=1e-6)
    assert torch.allclose(grad_a, grad_b, atol=1e-7)
    assert grad_a.masked_select(ignored.unsqueeze(1)).abs().max() == 0  # no gradient to ignored pixels
    assert grad_a.masked_select(~ignored.unsqueeze(1)).abs().max() > 0  # gradient flows to the rest
    assert torch.isfinite(grad_a).all()


@pytest.mark.parametrize("name", list_losses())
def test_a_batch_of_only_ignored_pixels_gives_zero_not_nan(name):
    logits = torch.randn(1, 3, 4, 4, requires_grad=True)
    loss = create_loss(name)(logits, torch.full((1, 4, 4), 255))
    loss.backward()
    assert loss.item() == 0.0
    assert torch.equal(logits.grad, torch.zeros_like(logits))


@pytest.mark.parametrize("name", list_losses())
def test_losses_accept_half_precision_logits_and_are_computed_in_float32(name):
    logits32 = torch.randn(1, 3, 4, 4)
    target = torch.randint(0, 3, (1, 4, 4))
    loss_fn = create_loss(name)
    loss16 = loss_fn(logits32.half(), target)
    assert loss16.dtype == torch.float32
    assert loss16.item() == pytest.approx(loss_fn(logits32.half().float(), target).item())


def test_ignore_index_none_counts_every_pixel():
    logits, target = two_pixels()
    assert cross_entropy(logits, target, ignore_index=None).item() == pytest.approx(1.5 * LN2)
    # with ignore_index=0, only pixel B (-ln(1/4) = 2 ln2) counts
    assert create_loss("ce", ignore_index=0)(logits, target).item() == pytest.approx(2 * LN2)


def test_every_loss_defaults_to_the_one_ignore_index():
    functions = [bce_dice_loss, binary_cross_entropy, binary_dice_loss, class_pixel_statistics, create_loss,
                 cross_entropy, dice_loss, focal_loss, lovasz_softmax, ohem_cross_entropy]
    for loss in functions + [LOSSES.get(name) for name in list_losses()]:
        assert inspect.signature(loss).parameters["ignore_index"].default == IGNORE_INDEX, loss


# --- registry --------------------------------------------------------------------------------


def test_registry_names_and_errors():
    assert {"ce", "dice", "ce_dice", "bce_dice", "focal", "lovasz"} <= set(list_losses())
    with pytest.raises(UnknownNameError, match="valid names: bce_dice, ce, ce_dice"):
        create_loss("cross_entropyy")
    with pytest.raises(PixelwiseError, match="does not use class weights.*ce, ce_dice, focal"):
        create_loss("dice", class_weights=[1.0, 2.0])
    with pytest.raises(PixelwiseError, match="no option 'gama'; its options are: class_weights, gamma"):
        create_loss("focal", gama=2.0)
    with pytest.raises(ValueError, match="2 class weights given for logits with 3 classes"):
        create_loss("ce", class_weights=[1.0, 2.0])(torch.zeros(1, 3, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long))


def test_shape_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match=r"logits \(1, 3, 4, 4\) and target \(1, 4, 5\) do not match"):
        dice_loss(torch.zeros(1, 3, 4, 4), torch.zeros(1, 4, 5, dtype=torch.long))


def test_class_weight_buffers_follow_the_module():
    loss = create_loss("ce", class_weights=[1.0, 3.0]).double()
    assert loss.class_weights.dtype == torch.float64
    assert "class_weights" not in loss.state_dict()  # derived from the data, not a learned state


# --- class weights ---------------------------------------------------------------------------


def hand_masks() -> list[torch.Tensor]:
    return [
        torch.tensor([[0, 0], [0, 1]]),  # class 0: 3 px, class 1: 1 px; 4 labelled
        torch.tensor([[0, 0], [2, 2]]),  # class 0: 2 px, class 2: 2 px; 4 labelled
        torch.tensor([[1, 255], [1, 1]]),  # class 1: 3 px; 3 labelled (void left out)
    ]


def test_class_pixel_statistics_by_hand():
    stats = class_pixel_statistics(hand_masks(), num_classes=4, ignore_index=255)
    assert stats.pixel_counts.tolist() == [5, 4, 2, 0]
    assert stats.image_pixel_counts.tolist() == [8, 7, 4, 0]  # class 1: images 1 and 3 -> 4 + 3
    assert stats.image_counts.tolist() == [2, 2, 1, 0]
    assert stats.num_images == 3


def test_median_frequency_weights_by_hand():
    stats = class_pixel_statistics(hand_masks(), num_classes=4)
    weights = median_frequency_weights(pixel_counts=stats.pixel_counts, image_pixel_counts=stats.image_pixel_counts)
    # freq = 5/8, 4/7, 2/4 (class 3 never occurs); median 4/7 -> weights 32/35, 1, 8/7, and 0 for class 3
    assert weights.tolist() == pytest.approx([32 / 35, 1.0, 8 / 7, 0.0])
    assert median_frequency_weights(
        pixel_counts=stats.pixel_counts, image_pixel_counts=stats.image_pixel_counts, absent_weight=1.0
    )[3].item() == pytest.approx(1.0)
    # an even number of classes takes the mean of the two middle frequencies: (0.2 + 0.3) / 2 = 0.25
    even = median_frequency_weights(pixel_counts=torch.tensor([1, 2, 3, 4]), image_pixel_counts=torch.full((4,), 10))
    assert even.tolist() == pytest.approx([2.5, 1.25, 0.25 / 0.3, 0.625])
    # power 0.5: the square roots, so the spread between classes shrinks
    soft = median_frequency_weights(pixel_counts=stats.pixel_counts, image_pixel_counts=stats.image_pixel_counts, power=0.5)
    assert soft.tolist() == pytest.approx([(32 / 35) ** 0.5, 1.0, (8 / 7) ** 0.5, 0.0])


def test_inverse_frequency_weights_by_hand():
    # 11 labelled pixels, 3 classes occur: 11 / (3 * count)
    weights = inverse_frequency_weights(pixel_counts=torch.tensor([5, 4, 2, 0]))
    assert weights.tolist() == pytest.approx([11 / 15, 11 / 12, 11 / 6, 0.0])


def test_class_pixel_statistics_rejects_bad_labels_and_batches():
    with pytest.raises(ValueError, match=r"mask 1 has value\(s\) 7, not a class \(0\.\.2 or the ignore index 255\)"):
        class_pixel_statistics([torch.zeros(2, 2, dtype=torch.long), torch.tensor([[7, 0]])], num_classes=3)
    with pytest.raises(ValueError, match="one \\(H, W\\) mask per image"):
        class_pixel_statistics([torch.zeros(4, 2, 2, dtype=torch.long)], num_classes=3)
