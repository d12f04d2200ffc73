"""`DataConfig`: the one definition of how ``percontrast data`` builds a benchmark's examples.

``percontrast data`` builds its flags from these fields (defaults and help text), `data.build.
build_benchmark` takes this dataclass instead of one parameter per setting, and an experiment's
task section maps onto it (`experiments.config.TaskConfig.data_config`), so the CLI, the library and
the experiment runner cannot drift apart. The defaults are the paper's: Contriever, k = 4, and
LongLaMP's ``test`` split.

    config = DataConfig("longlamp", "product_review", input="rows.jsonl", retriever="bm25")
    examples, summary = build_benchmark(config, tokenizer)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from percontrast.data.retrieval import CONTRIEVER, DEFAULT_RETRIEVER, RETRIEVERS
from percontrast.utils.errors import ConfigError

BENCHMARKS = ("lamp", "longlamp")


@dataclass
class DataConfig:
    """Which benchmark file to read and how to turn its records into examples."""

    benchmark: str = field(
        metadata={"help": "which benchmark the files come from", "choices": BENCHMARKS, "flag": "benchmark"}
    )
    task: str = field(
        metadata={
            "help": "LaMP: LaMP_2..LaMP_7; LongLaMP: abstract_generation, product_review, topic_writing"
        }
    )
    input: str | None = field(
        default=None,
        metadata={
            "help": "LaMP questions JSON; LongLaMP rows (.json, .jsonl, .parquet); LongLaMP without it: the hub"
        },
    )
    outputs: str | None = field(default=None, metadata={"help": "LaMP outputs JSON (the golds)"})
    hub_config: str | None = field(
        default=None,
        metadata={
            "help": "LongLaMP hub dataset config, e.g. product_review_temporal (default: <task>_user); "
            "--config is the old spelling (in `train`, --config is a YAML file of settings)",
            "flag": "--hub-config",
            "aliases": ("--config",),
        },
    )
    split: str = field(
        default="test",
        metadata={
            "help": "LongLaMP hub split: train, val or test (default: test, where the paper's test "
            "examples come from)"
        },
    )
    retriever: str = field(
        default=DEFAULT_RETRIEVER,
        metadata={
            "help": f"how the profile is ranked (default: {DEFAULT_RETRIEVER}, the paper's; needs the hub or "
            "--dense-model DIR; offline: minilm or bm25)",
            "choices": RETRIEVERS,
        },
    )
    dense_model: str | None = field(
        default=None,
        metadata={
            "help": f"contriever: a local copy of {CONTRIEVER} (a directory); dense: the encoder (a "
            "directory, a hub id, or minilm/contriever)"
        },
    )
    random_with_replacement: bool = field(
        default=False,
        metadata={
            "help": "random: draw k items with replacement, as the official random.choices (default: k distinct)"
        },
    )
    device: str = field(default="cpu", metadata={"help": "where a dense encoder runs (default: cpu)"})
    k: int = field(default=4, metadata={"help": "profile items per example (default: 4, as the paper)"})
    template: str | None = field(
        default=None, metadata={"help": "prompt template (default: the task's, see docs)"}
    )
    max_length: int | None = field(
        default=None, metadata={"help": "truncate the persona so prompt + response fit"}
    )
    sample: int | None = field(
        default=None, metadata={"help": "keep a seeded sample of N records (paper: 2000 train, 500 test)"}
    )
    seed: int = field(default=0, metadata={"help": "seed of --sample and of the random retriever"})
    skip_invalid: bool = field(
        default=False, metadata={"help": "skip and count bad records instead of stopping"}
    )

    def __post_init__(self) -> None:
        if self.benchmark not in BENCHMARKS:
            raise ConfigError(f"unknown benchmark {self.benchmark!r}; use 'lamp' or 'longlamp'")
