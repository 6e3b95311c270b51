"""``pixelwise models``: the model zoo as a table — parameters, GFLOPs and measured CPU latency."""

from __future__ import annotations

import argparse

from pixelwise.classical.registry import METHODS, describe_method, list_methods, method_options
from pixelwise.models import list_encoders, list_models
from pixelwise.models.profile import format_profiles, profile_models


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list the architectures with parameters, GFLOPs and (with --measure) CPU latency, then the classical methods",
        description=(
            "Print every registered architecture with its default encoder, parameter count and forward GFLOPs "
            "at SIZE x SIZE (FlopCounterMode: 2 FLOPs per multiply-add, 21 classes). With --measure, also time "
            "one-image CPU inference on this machine in fp32 and, where the CPU has bf16 units (AMX or "
            "AVX512-BF16) or --bf16 is given, under bf16 autocast; without bf16 units bf16 is emulated and "
            "hundreds of times slower, so it is shown as 'n/a (no bf16 units)'. Any model runs on other "
            "encoders: see --encoders. Then the classical methods (no network), with their options and defaults."
        ),
    )
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"only these models, from: {', '.join(list_models() + list_methods())} (default: all)")
    parser.add_argument("--measure", action="store_true", help="time CPU inference (takes a minute or more)")
    parser.add_argument("--bf16", action="store_true", help="with --measure, time bf16 even without bf16 units (slow)")
    parser.add_argument("--size", type=int, default=512, metavar="PX", help="square input side (default 512)")
    parser.add_argument("--repeats", type=int, default=3, metavar="N", help="timed passes per model; median shown (default 3)")
    parser.add_argument("--encoders", action="store_true", help="list the named encoders instead (any timm model also works)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.encoders:
        print("\n".join(list_encoders()))
        print("(and any timm model name: python -c \"import timm; print(timm.list_models())\")")
        return 0
    classical = [name for name in args.names if name in list_methods()] if args.names else list_methods()
    names = [name for name in args.names if name not in classical] if args.names else list_models()
    if names:
        rows = profile_models(
            names, size=args.size, measure=args.measure, bf16=True if args.bf16 else None, repeats=args.repeats
        )
        print(format_profiles(rows, size=args.size))
    if classical:
        print(("\n" if names else "") + format_methods(classical))
    return 0


def format_methods(names: list[str]) -> str:
    """The classical methods: what each does, how its regions become classes, and its options with defaults."""
    lines = [
        "Classical methods (no network): pixelwise evaluate --model NAME [--model-option KEY=VALUE] --dataset ... --root ...",
        "  unsupervised: regions mapped to classes by Hungarian matching fitted on the train split (pixelwise.classical.mapping)",
        "  supervised: learns the classes from the train split; pixelwise train --model NAME writes best.pt",
    ]
    width = max(len(name) for name in names)
    for name in names:
        kind = "supervised" if METHODS.get(name).supervised else "unsupervised"
        lines.append(f"  {name:<{width}}  {kind:<12}  {describe_method(name)}")
        options = " ".join(f"{key}={value}" for key, value in method_options(name).items())
        lines.append(f"  {'':<{width}}  {'':<12}  options: {options}")
    return "\n".join(lines)
