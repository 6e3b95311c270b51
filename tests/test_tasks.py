"""The Task contract: the loop sums the terms a task returns and asks its evaluator for scores; the
semantic task trains exactly as the loop did before tasks existed."""

from __future__ import annotations

import math

import pytest
import torch
from torch.utils.data import DataLoader

import pixelwise
from pixelwise.data.transforms import eval_transform
from pixelwise.engine.loop import StepContext, train_one_epoch
from pixelwise.losses import create_loss
from pixelwise.tasks import Evaluation, Evaluator, SemanticTask


def _setup(seed: int):
    torch.manual_seed(seed)
    model = pixelwise.create_model("pspnet", num_classes=4, encoder="test_resnet", aux=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    return model, optimizer


def test_semantic_task_trains_bit_identically_to_the_loop_before_tasks():
    """The reference is the pre-Task loop written out: main loss on float logits + aux_weight x the aux loss."""
    data = pixelwise.create_dataset("shapes", split="train", size=32, length=8, transform=eval_transform())
    criterion = create_loss("ce_dice")
    loader = DataLoader(data, batch_size=4, generator=torch.Generator().manual_seed(0), shuffle=True)

    model, optimizer = _setup(0)
    task = SemanticTask(criterion=criterion, num_classes=4, ignore_index=255, class_names=list(data.class_names),
                        aux_weight=0.4)
    ctx = StepContext(model=model, task=task, optimizer=optimizer, scaler=torch.amp.GradScaler("cpu", enabled=False),
                      device=torch.device("cpu"), amp_dtype=None)
    logged = []
    mean_loss, images = train_one_epoch(ctx, loader, before_step=lambda: True, log_every=1,
                                        on_log=lambda loss, speed, batches, terms: logged.append((loss, terms)))

    reference, reference_optimizer = _setup(0)
    reference.train()
    reference_losses = []
    for image, mask in DataLoader(data, batch_size=4, generator=torch.Generator().manual_seed(0), shuffle=True):
        logits, aux = reference(image, return_aux=True)
        loss = criterion(logits.float(), mask) + 0.4 * criterion(aux.float(), mask)
        reference_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        reference_optimizer.step()
        reference_losses.append(float(loss.detach()))

    assert images == 8 and [loss for loss, _ in logged] == reference_losses
    assert mean_loss == sum(reference_losses) / 2
    assert set(logged[0][1]) == {"loss", "aux"}  # each term is logged when there are several
    for (name, a), b in zip(model.state_dict().items(), reference.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


class CountingTask(SemanticTask):
    """A semantic model trained on two terms, one of them a constant, scored by a fake evaluator."""

    evaluated: list[int] = []

    def losses(self, model, batch):
        terms = super().losses(model, batch)
        return {**terms, "constant": torch.tensor(1.5)}

    def evaluator(self, *, device):
        task = self

        class Counter(Evaluator):
            def __init__(self):
                self.images = 0

            def update(self, outputs, batch):
                assert outputs.shape[1] == 4  # infer's logits
                self.images += batch[0].shape[0]

            def all_reduce(self):
                pass

            def compute(self):
                task.evaluated.append(self.images)
                return Evaluation(primary=-len(task.evaluated), primary_name="score", summary={"images": self.images})

        return Counter()


def test_the_loop_sums_the_terms_and_asks_the_evaluator(tmp_path):
    config = pixelwise.TrainConfig(
        dataset="shapes", dataset_options={"size": 32, "length": 8}, model="unet",
        model_options={"base_channels": 4, "depth": 2}, epochs=3, batch_size=4, workers=0, progress=False,
        tensorboard=False, log_every=1, out=str(tmp_path),
    )  # fmt: skip
    model = pixelwise.create_model("unet", num_classes=4, base_channels=4, depth=2)
    train_set = pixelwise.create_dataset("shapes", split="train", size=32, length=8)
    val_set = pixelwise.create_dataset("shapes", split="val", size=32, length=5, transform=eval_transform())
    task = CountingTask(criterion=create_loss("ce"), num_classes=4, ignore_index=255, class_names=list(train_set.class_names))
    from pixelwise.engine.builders import build_train_transform

    train_set.transform = build_train_transform(config, train_set)
    result = pixelwise.train(config, model=model, train_set=train_set, val_set=val_set, task=task)

    assert task.evaluated == [5, 5, 5]  # every validation image once per epoch
    assert [row["val_images"] for row in result.history] == [5, 5, 5]
    assert all(row["train_loss"] > 1.5 for row in result.history)  # the constant term is in the sum
    assert result.metric == "score" and result.best_score == -1  # the first epoch scored best
    assert pixelwise.load_model(tmp_path / "best.pt").pixelwise_spec.source["epoch"] == 1
    assert not math.isinf(result.best_score)


def test_task_registry_names_the_semantic_task():
    assert "semantic" in pixelwise.list_tasks()
    with pytest.raises(pixelwise.PixelwiseError, match="semantic"):
        from pixelwise.tasks import TASKS

        TASKS.get("no-such-task")
