"""TrainConfig's rules hold the same through the Python API (TrainConfig, from_dict, replace, load_config)
and through ``pixelwise train``'s flags, and the flags' help lists what the registries hold."""

from __future__ import annotations

import argparse

import pytest
import yaml

from pixelwise.cli.main import build_parser, main
from pixelwise.cli.train import config_from_args
from pixelwise.engine.config import (
    CLASS_WEIGHTINGS,
    OPTIMIZERS,
    PRECISIONS,
    SCHEDULES,
    TrainConfig,
    load_config,
)
from pixelwise.errors import PixelwiseError
from pixelwise.losses import list_losses
from pixelwise.losses.registry import LOSSES
from pixelwise.models import list_models


def parse(*flags: str) -> TrainConfig:
    return config_from_args(build_parser().parse_args(["train", *flags]))


def train_parser() -> argparse.ArgumentParser:
    subparsers = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return subparsers.choices["train"]


def flag_action(flag: str) -> argparse.Action:
    return next(a for a in train_parser()._actions if flag in a.option_strings)


def write_yaml(tmp_path, data: dict) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


# --- val_split: "none" in any case means no validation --------------------------------------------------------

@pytest.mark.parametrize("text", ["none", "None", "NONE", " none "])
def test_val_split_none_is_no_validation(text, tmp_path):
    assert TrainConfig(val_split=text).val_split is None
    assert TrainConfig.from_dict({"val_split": text}).val_split is None
    assert load_config(write_yaml(tmp_path, {"val_split": text})).val_split is None
    assert parse("--val-split", text).val_split is None


def test_val_split_names_are_kept():
    assert TrainConfig(val_split="test").val_split == "test"
    assert TrainConfig(val_split=None).val_split is None
    assert parse().val_split == "val"


# --- class_weights: a name, a list, or "1,2,3" ----------------------------------------------------------------

@pytest.mark.parametrize(("given", "expected"), [
    ("1,2,3", [1.0, 2.0, 3.0]),
    (" 0.5, 2 ", [0.5, 2.0]),
    ([1, 2.5], [1.0, 2.5]),
    ((1, 0), [1.0, 0.0]),
    ("median_frequency", "median_frequency"),
    ("sqrt_median_frequency", "sqrt_median_frequency"),
    (None, None),
])
def test_class_weights_are_parsed(given, expected, tmp_path):
    assert TrainConfig(class_weights=given).class_weights == expected
    assert TrainConfig.from_dict({"class_weights": given}).class_weights == expected
    assert load_config(write_yaml(tmp_path, {"class_weights": given})).class_weights == expected


@pytest.mark.parametrize("bad", ["abc", "", "1,,2", "1,-2", "nan", "balanced", 3, {"a": 1}])
def test_bad_class_weights_name_the_field_value_and_what_is_allowed(bad):
    with pytest.raises(PixelwiseError) as caught:
        TrainConfig(class_weights=bad)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"class_weights {bad!r}")
    assert all(name in message for name in CLASS_WEIGHTINGS) and "list of numbers" in message


def test_class_weights_flag():
    assert parse("--class-weights", "1,2,3,4").class_weights == [1.0, 2.0, 3.0, 4.0]
    assert parse("--class-weights", "median_frequency").class_weights == "median_frequency"


def test_bad_class_weights_flag_is_one_line_and_exit_code_2(capsys):
    assert main(["train", "--class-weights", "abc", "--out", "never-written"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "class_weights 'abc'" in err and "sqrt_median_frequency" in err


# --- encoder: a shortcut for model_options["encoder"] ----------------------------------------------------------

def test_encoder_folds_into_model_options():
    config = TrainConfig(encoder="resnet18", model_options={"depth": 3})
    assert config.model_options == {"depth": 3, "encoder": "resnet18"}
    assert config.encoder is None  # named once, in model_options
    assert config == TrainConfig(model_options={"depth": 3, "encoder": "resnet18"})
    assert TrainConfig(encoder="vgg16", model_options={"encoder": "vgg16"}).model_options == {"encoder": "vgg16"}


def test_encoder_does_not_touch_the_callers_dict():
    options = {"depth": 3}
    TrainConfig(encoder="resnet18", model_options=options)
    assert options == {"depth": 3}


def test_conflicting_encoders_are_refused():
    with pytest.raises(PixelwiseError, match=r"encoder 'resnet18' and model_options\['encoder'\] 'vgg16' disagree"):
        TrainConfig(encoder="resnet18", model_options={"encoder": "vgg16"})
    with pytest.raises(PixelwiseError, match="disagree"):
        parse("--encoder", "resnet18", "--model-option", "encoder=vgg16")


def test_replace_encoder_replaces_the_one_in_model_options():
    config = TrainConfig(encoder="resnet18", model_options={"depth": 3})
    assert config.replace(encoder="vgg16").model_options == {"depth": 3, "encoder": "vgg16"}
    assert config.replace(model_options={"depth": 2}).model_options == {"depth": 2}


def test_encoder_over_a_file(tmp_path):
    with_options = write_yaml(tmp_path, {"model_options": {"encoder": "resnet18", "depth": 3}})
    assert load_config(with_options, overrides={"encoder": "vgg16"}).model_options == {"encoder": "vgg16", "depth": 3}
    assert parse("--config", with_options, "--encoder", "vgg16").model_options == {"encoder": "vgg16", "depth": 3}
    shortcut = write_yaml(tmp_path, {"encoder": "resnet18"})
    assert load_config(shortcut).model_options == {"encoder": "resnet18"}
    assert parse("--config", shortcut, "--model-option", "encoder=vgg16").model_options == {"encoder": "vgg16"}
    assert parse("--encoder", "resnet34").model_options == {"encoder": "resnet34"}


def test_option_overrides_merge_with_the_file(tmp_path):
    path = write_yaml(tmp_path, {"model_options": {"depth": 3, "base_channels": 8}, "loss_options": {"gamma": 2}})
    config = load_config(path, overrides={"model_options": {"depth": 2}})
    assert config.model_options == {"depth": 2, "base_channels": 8} and config.loss_options == {"gamma": 2}
    flags = parse("--config", path, "--model-option", "depth=2", "--loss-option", "smooth=1")
    assert flags.model_options == {"depth": 2, "base_channels": 8} and flags.loss_options == {"gamma": 2, "smooth": 1}


# --- epochs and budget_minutes: exactly one; the upper layer's choice wins -------------------------------------

def test_budget_over_a_file_with_epochs_clears_them(tmp_path):
    path = write_yaml(tmp_path, {"epochs": 40})
    config = load_config(path, overrides={"budget_minutes": 5})
    assert (config.epochs, config.budget_minutes) == (None, 5)
    assert (parse("--config", path, "--budget", "5").epochs, parse("--budget", "5").epochs) == (None, None)


def test_epochs_over_a_file_with_a_budget_clear_it(tmp_path):
    path = write_yaml(tmp_path, {"budget_minutes": 30, "epochs": None})
    assert load_config(path).budget_minutes == 30
    config = load_config(path, overrides={"epochs": 3})
    assert (config.epochs, config.budget_minutes) == (3, None)
    assert parse("--config", path, "--epochs", "3").budget_minutes is None


def test_a_file_with_a_budget_alone_clears_the_default_epochs(tmp_path):
    config = load_config(write_yaml(tmp_path, {"budget_minutes": 30}))
    assert (config.epochs, config.budget_minutes) == (None, 30)


def test_replace_budget_clears_epochs():
    config = TrainConfig(epochs=10).replace(budget_minutes=2)
    assert (config.epochs, config.budget_minutes) == (None, 2)
    assert config.replace(epochs=4).budget_minutes is None


def test_epochs_and_budget_together_are_refused(tmp_path):
    with pytest.raises(PixelwiseError, match="exactly one.*epochs=None"):
        TrainConfig(budget_minutes=5)  # epochs defaults to 10
    with pytest.raises(PixelwiseError, match="exactly one"):
        load_config(write_yaml(tmp_path, {"epochs": 4, "budget_minutes": 5}))
    with pytest.raises(PixelwiseError, match="exactly one"):
        parse("--epochs", "4", "--budget", "5")
    with pytest.raises(PixelwiseError, match="neither"):
        TrainConfig(epochs=None)


# --- optimizer, schedule, precision: one tuple for validation and help ----------------------------------------

@pytest.mark.parametrize(("field", "allowed", "flag"), [
    ("optimizer", OPTIMIZERS, "--optimizer"),
    ("schedule", SCHEDULES, "--schedule"),
    ("precision", PRECISIONS, "--precision"),
])
def test_choices_come_from_one_tuple(field, allowed, flag, capsys):
    for value in allowed:
        assert getattr(TrainConfig(**{field: value}), field) == value
        assert getattr(parse(flag, value), field) == value
    with pytest.raises(PixelwiseError, match=f"unknown {field} 'nope'") as caught:
        TrainConfig(**{field: "nope"})
    assert all(value in str(caught.value) for value in allowed)
    action = flag_action(flag)
    assert tuple(action.choices) == allowed and all(value in action.help for value in allowed)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", flag, "nope"])
    assert "invalid choice" in capsys.readouterr().err


# --- the resolved config survives to_dict/from_dict and the YAML written beside checkpoints -------------------

def test_to_dict_round_trips():
    config = TrainConfig(
        val_split="NONE", class_weights="1,2", encoder="resnet18", model_options={"depth": 3}, epochs=None,
        budget_minutes=1.5, crop_size=32, resize_schedule=[[0, 0.5], [0.5, 1]], precision="bf16",
    )
    data = config.to_dict()
    assert data["encoder"] is None and data["model_options"] == {"depth": 3, "encoder": "resnet18"}
    assert data["class_weights"] == [1.0, 2.0] and data["val_split"] is None
    assert TrainConfig.from_dict(data) == config
    assert TrainConfig.from_dict(yaml.safe_load(yaml.safe_dump(data))) == config


def test_load_config_without_a_file_is_the_defaults():
    assert load_config() == TrainConfig()
    assert load_config(overrides={"lr": 0.5}) == TrainConfig(lr=0.5)
    with pytest.raises(PixelwiseError, match="overrides: unknown key"):
        load_config(overrides={"learning_rate": 0.5})


def test_options_must_be_mappings(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model_options:\n")  # an empty key is no options
    assert load_config(path).model_options == {}
    with pytest.raises(PixelwiseError, match="model_options .* is not a mapping"):
        TrainConfig(model_options=["depth=3"])


# --- help generated from the registries ------------------------------------------------------------------------

def test_loss_help_lists_every_registered_loss(monkeypatch):
    action = flag_action("--loss")
    assert "ohem_ce" in list_losses()
    assert all(name in action.help for name in list_losses()) and list(action.choices) == list_losses()
    monkeypatch.setitem(LOSSES._entries, "zz_added_loss", LOSSES.get("ce"))  # registered after import
    assert "zz_added_loss" in flag_action("--loss").help


def test_model_and_dataset_flags_list_the_registries():
    from pixelwise.classical import list_methods

    assert list(flag_action("--model").choices) == [*list_models(), *list_methods()]  # networks, then classical
    assert all(name in flag_action("--model").help for name in list_models())
    assert all(name in flag_action("--dataset").help for name in flag_action("--dataset").choices)
    assert "default: unet" in flag_action("--model").help
