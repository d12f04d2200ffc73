"""``percontrast train``: PerCE (or CE, LossCE, EntCE) training of a causal LM.

    percontrast train --model smollm2-135m-instruct --data train.jsonl --loss perce --output_dir runs/x \
        [any Hugging Face TrainingArguments flag] [--config x.yaml]

Flags come from `PerCEConfig` (our fields and every `transformers.TrainingArguments` field, as
``--name`` or ``--name-with-dashes``). ``--config x.yaml`` gives values for the same fields; flags on
the command line win over the file; unknown keys in the file are an error. ``percontrast train
--help`` lists every flag. The command parses its own arguments so that the rest of the CLI does
not import transformers.
"""

from __future__ import annotations

import argparse
import logging

logger = logging.getLogger(__name__)


def config_classes() -> dict[type, tuple[str, ...]]:
    """The dataclass the flags come from (`build_parser`), without transformers' own fields."""
    from dataclasses import fields

    from transformers import TrainingArguments

    from percontrast.training.config import PerCEConfig

    return {PerCEConfig: tuple(item.name for item in fields(TrainingArguments))}


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    # '+' as the prefix: every token after `train` (flags included) is handed to `main` unparsed.
    parser = subparsers.add_parser(
        "train",
        help="train with PerCE (token weights from PIR) or a baseline loss; `percontrast train --help` for flags",
        add_help=False,
        prefix_chars="+",
    )
    parser.add_argument("train_argv", nargs="*", help=argparse.SUPPRESS)
    return parser


def build_parser():
    """The `transformers.HfArgumentParser` over `PerCEConfig`, plus ``--config``."""
    from transformers import HfArgumentParser

    from percontrast.training.config import PerCEConfig

    parser = HfArgumentParser(PerCEConfig, prog="percontrast train", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--config", default=None, help="YAML file of config values; command-line flags win over it"
    )
    return parser


def parse_config(argv: list[str]):
    """Parse ``argv`` (YAML first, then flags) into a validated `PerCEConfig`."""
    from percontrast.training.config import check_value_types, load_yaml_values

    parser = build_parser()
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config", default=None)
    known, _ = pre.parse_known_args(argv)
    if known.config:
        # YAML values become the parser's defaults, so explicit flags override them.
        values = load_yaml_values(known.config)
        check_value_types(parser, values, known.config)
        parser.set_defaults(**values)
    # Returns the config, a namespace holding --config, and the strings no flag took.
    outputs = parser.parse_args_into_dataclasses(args=argv, return_remaining_strings=True)
    config, extra = outputs[0], outputs[-1]
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return config


def main(argv: list[str]) -> int:
    """Parse the flags, train, and save the model in ``--output_dir``; returns the exit code."""
    from percontrast.training.trainer import train

    config = parse_config(argv)
    try:
        run = train(config)
    except KeyboardInterrupt:
        from percontrast.training.checkpoints import last_checkpoint
        from percontrast.utils.errors import Interrupted

        checkpoint = last_checkpoint(config.output_dir)
        if checkpoint is None:
            raise Interrupted(
                f"no checkpoint was saved in {config.output_dir} (every --save_steps {config.save_steps:g} steps); "
                "rerun with --overwrite_output_dir to start again"
            ) from None
        raise Interrupted(
            f"the last checkpoint is {checkpoint}; add --resume_from_checkpoint latest to the same command to resume"
        ) from None
    finished, steps = run.already_finished, run.trainer.state.global_step
    examples, skipped = len(run.dataset), len(run.dataset.skipped)
    del run  # the trainer (and its DDP model) goes before the process group does
    leave_process_group()
    if finished:
        logger.info(
            "the run in %s had already finished (step %d): nothing trained; its model is saved there",
            config.output_dir,
            steps,
        )
        return 0
    logger.info(
        "trained %d steps on %d examples (%d skipped); model saved in %s",
        steps,
        examples,
        skipped,
        config.output_dir,
    )
    return 0


def leave_process_group() -> None:
    """End a launched run (``torchrun``, ``accelerate launch``) with every rank together: what is no longer
    referenced (the trainer, its DDP model) is freed while the group exists, then a barrier, then the group
    is destroyed. Left alive to interpreter teardown, a rank was aborted there (SIGABRT, "terminate called
    without an active exception", torch 2.11), failing a run whose model was already saved; destroyed while
    a trainer was still referenced, its later teardown could hang (tests/trl_worker.py: once in 15 launches on
    loaded cores; none in 40 in this order). Nothing to do in a single process."""
    import gc

    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        gc.collect()
        dist.barrier()
        dist.destroy_process_group()


def run(args: argparse.Namespace) -> int:
    return main(list(args.train_argv))
