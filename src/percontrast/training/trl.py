"""PerCE in TRL: `PerCESFTConfig` and `PerCESFTTrainer`, drop-in replacements of TRL's `SFTConfig` and `SFTTrainer`.

A TRL script moves from cross-entropy to PerCE (paper, Eq. 5 with the weight of Eq. 6: ``(1/n) sum_i w_i
NLL_i``, ``w_i = clip(PIR_i, m, M)``, PIR recomputed by the model being trained at every step) by changing
two names (docs/trl.md)::

    from percontrast.training.trl import PerCESFTConfig, PerCESFTTrainer
    trainer = PerCESFTTrainer(model=model, args=PerCESFTConfig(output_dir="runs/perce"), train_dataset=dataset)
    trainer.train()

Rows are TRL's prompt-completion rows, standard (``prompt`` and ``completion`` strings) or conversational
(lists of ``{"role", "content"}`` messages; a ``messages`` row counts as prompt = every message but the last,
completion = the last), plus the persona, found as ``persona_from`` says:

- ``"field"`` (default): the column ``persona_field`` (default ``persona``), a string or a list of facts,
  rendered into the prompt by the project's template ``persona_template``. Defaults: ``persona_prefix`` for
  standard rows (the facts, one a line, and a blank line before the prompt) and ``messages_chat`` for
  conversational ones (the facts as the system message, after the row's own system message if it has one).
  The persona-free prompt is the row's prompt as it is.
- ``"system"`` (conversational rows): the first message of the prompt, which must be a system message, *is*
  the persona; the persona-free prompt is the same conversation with that message removed.

Each row becomes an `Example`, encoded by the project's one policy (`percontrast.prompts.encoding.fit_examples`):
the completion is tokenized once, followed by EOS, and shared by both prompts; ``max_length`` is met by
cutting the persona only; a row whose persona would be cut away entirely is skipped, logged and counted
(``PerCESFTTrainer.skipped_examples``), never trained as CE. The batches are `PairedCollator`'s and the loss
is `PerCETrainer`'s, through the same `PerCELossMixin`: the online E-step (or ``pir_source='frozen'``),
CE / LossCE / EntCE, and the normalisation over the optimizer step's completion tokens under gradient
accumulation and data parallelism. Packing and padding-free batches are refused: they cannot keep each
completion's two prompts aligned.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from torch import nn
from transformers import Trainer
from transformers.tokenization_utils_base import PreTrainedTokenizerBase

try:
    import trl
    from trl import SFTConfig, SFTTrainer
except ImportError as error:  # an optional extra
    raise ImportError("percontrast.training.trl needs TRL: pip install 'percontrast[trl]'") from error
from datasets import Dataset

from percontrast.data.schema import PERSONA_SOURCES, Example, example_from_messages
from percontrast.data.schema import TEMPLATE as CHAT_TEMPLATE
from percontrast.modeling.response_forward import enable_response_forward, unwrap_model
from percontrast.prompts.encoding import SkippedExample
from percontrast.prompts.registry import get_template
from percontrast.scoring.pir import pad_token_id
from percontrast.training.collator import EncodedDataset, PairedCollator, encode_training_examples
from percontrast.training.config import PerCESettings
from percontrast.training.trainer import (
    PerCELossMixin,
    _max_length,
    _refuse_ignored_mixed_precision,
    _use_frozen_pir,
    drawn_examples,
)
from percontrast.utils.errors import ConfigError, DataError

TEXT_TEMPLATE = "persona_prefix"  # the default persona template of standard (text) rows


@dataclass
class PerCESFTConfig(PerCESettings, SFTConfig):
    """TRL's `SFTConfig` with PerCE's settings (`PerCESettings`) and where the persona is.

    SFTConfig's fields keep their meaning and defaults, except: ``max_length`` bounds the with-persona
    sequence and is met by cutting the persona only (a row whose prompt and completion alone do not fit is
    skipped and counted, never cut); the loss is on the completion only; ``packing``, ``padding_free`` and a
    ``loss_type`` other than ``nll`` are refused; SFTTrainer's own data preparation is skipped
    (``dataset_kwargs["skip_prepare_dataset"]``), PerCE prepares the rows itself.
    """

    persona_field: str = field(
        default="persona",
        metadata={
            "help": "Column holding each row's persona (a string or a list of facts); persona_from=field."
        },
    )
    persona_from: str = field(
        default="field",
        metadata={
            "help": f"Where the persona is, one of {PERSONA_SOURCES}. field: the persona_field column, rendered "
            "into the prompt with persona_template. system: conversational rows whose first prompt message is a "
            "system message that is the persona; the persona-free prompt is the conversation without it."
        },
    )
    persona_template: str | None = field(
        default=None,
        metadata={
            "help": f"Template (percontrast.prompts.registry) that puts the persona column into the prompt. Default: "
            f"{TEXT_TEMPLATE} for standard rows (the persona, then a blank line, then the prompt), {CHAT_TEMPLATE} "
            "for conversational rows (the persona as the system message)."
        },
    )

    def __post_init__(self) -> None:
        # PerCE's batches carry columns the model does not take; the Trainer must not drop them.
        self.remove_unused_columns = False
        super().__post_init__()
        # SFTTrainer's preparation tokenizes prompt + completion once; PerCE needs each row twice (with and
        # without persona) around one shared completion, and prepares the rows itself.
        self.dataset_kwargs = {**(self.dataset_kwargs or {}), "skip_prepare_dataset": True}
        self.check_perce_settings()
        self._check_trl_settings()

    def _check_trl_settings(self) -> None:
        """Refuse the SFTConfig values PerCE cannot honour; errors say why and what to set."""
        if self.packing or getattr(self, "eval_packing", None):
            raise ConfigError(
                "packing=True (or eval_packing) is not supported: PerCE scores each completion under its prompt "
                "with and without the persona, two sequences aligned token by token on the completion, and a "
                "packed block of several rows has no persona-free twin. Set packing=False"
            )
        if getattr(self, "padding_free", False):
            raise ConfigError(
                "padding_free=True is not supported: PerCE pads the with-persona and the persona-free batches "
                "separately and aligns them on the completion's tokens. Set padding_free=False"
            )
        if self.completion_only_loss is False:
            raise ConfigError(
                "completion_only_loss=False is not supported: PerCE weighs the completion's tokens (the prompt "
                "differs between its two passes). Leave completion_only_loss unset (None) or True"
            )
        if getattr(self, "loss_type", "nll") != "nll":
            raise ConfigError(
                f"loss_type={self.loss_type!r} is TRL's own loss; PerCESFTTrainer's loss is chosen by `loss` "
                "(ce, perce, lossce, entce). Leave loss_type at 'nll'"
            )
        if self.persona_from not in PERSONA_SOURCES:
            raise ConfigError(f"persona_from must be one of {PERSONA_SOURCES}, got {self.persona_from!r}")
        if self.persona_template is not None:
            get_template(self.persona_template)  # unknown names list the registered ones
            if self.persona_from == "system" and self.persona_template != CHAT_TEMPLATE:
                raise ConfigError(
                    f"persona_from='system' uses the system message as the persona, as it is (template "
                    f"{CHAT_TEMPLATE!r}); persona_template={self.persona_template!r} would render it again. "
                    "Leave persona_template unset"
                )
        if self.max_length is not None and self.max_length < 2:
            raise ConfigError(f"max_length must be >= 2 or None (the model's context), got {self.max_length}")


# ------------------------------------------------------------------------------------------ the rows


def _is_messages(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(m, dict) and "role" in m for m in value)


def _split_row(row: dict[str, Any], fail: Any) -> tuple[list | None, str, str]:
    """``(messages, prompt, completion)`` of one row: a conversational row gives its whole conversation
    (prompt messages + the completion's one assistant message) and two empty strings; a standard row gives
    None, its prompt and its completion."""
    if "prompt" in row and "completion" in row:
        prompt, completion = row["prompt"], row["completion"]
        if isinstance(prompt, str) and isinstance(completion, str):
            if not prompt.strip():
                raise fail("the prompt is empty: the persona-free prompt would hold no token", "prompt")
            return None, prompt, completion
        if _is_messages(prompt) and _is_messages(completion):
            if len(completion) != 1 or completion[0].get("role") != "assistant":
                raise fail("a conversational completion must be one assistant message", "completion")
            return [*prompt, *completion], "", ""
        raise fail(
            "prompt and completion must both be strings (standard rows) or both lists of {'role', 'content'} "
            f"messages (conversational rows); got {type(prompt).__name__} and {type(completion).__name__}",
            "prompt",
        )
    if "messages" in row and _is_messages(row["messages"]):
        return list(row["messages"]), "", ""
    raise fail(
        f"expected a prompt-completion row (`prompt` and `completion`) or a conversational `messages` row, got "
        f"the columns {sorted(row)}; language-modeling rows (`text`) have no prompt to take a persona out of",
        "prompt",
    )


def trl_example(
    row: dict[str, Any], index: int, config: PerCESFTConfig, split: str, eos_token: str | None
) -> Example:
    """One TRL row as an `Example` (see the module docstring); errors name the dataset, the row and the column.

    Args:
        row: the dataset row.
        index: its position in the dataset (0-based).
        config: where the persona is (``persona_field``, ``persona_from``, ``persona_template``).
        split: ``train``, ``eval`` or ``eval_<name>``; the example id is ``split/<the row's id or index>``.
        eos_token: the tokenizer's EOS text; a standard completion ending with it loses it (the encoding
            appends the EOS id, as SFTTrainer appends EOS to a completion that lacks it).
    """
    path = f"{split}_dataset row {index}"

    def fail(message: str, column: str) -> DataError:
        return DataError(message, path=path, field=column)

    for column in ("images", "image", "tools"):
        if row.get(column) is not None:
            raise fail("images and tools are not supported: PerCESFTTrainer takes text rows", column)
    example_id = f"{split}/{row['id'] if isinstance(row.get('id'), (str, int)) else index}"
    messages, prompt, completion = _split_row(row, fail)
    persona = _row_persona(row, config, messages is not None, fail)
    if messages is None:
        if not completion.strip():
            raise fail("the completion is empty: there is no token to train", "completion")
        if eos_token and completion.endswith(eos_token):
            completion = completion[: -len(eos_token)]
        template = get_template(config.persona_template or TEXT_TEMPLATE)
        if template.kind != "text":
            raise fail(
                f"standard (text) rows need a text persona_template, {template.name!r} is a chat one",
                "prompt",
            )
        payload = {"id": example_id, "persona": persona, "query": prompt, "response": completion}
        return Example.from_dict({**payload, "template": template.name}, path=path)
    if not str(messages[-1].get("content", "")).strip():
        raise fail("the completion is empty: there is no token to train", "completion")
    record = {"id": example_id, "messages": messages}
    if persona is not None:
        record["persona"] = persona
    example = example_from_messages(record, index=index, persona_from=config.persona_from, path=path)
    if config.persona_template is None:
        return example
    if get_template(config.persona_template).kind != "chat":
        raise fail(
            f"conversational rows need a chat persona_template, {config.persona_template!r} is text", "prompt"
        )
    return replace(example, template=config.persona_template)


def _row_persona(row: dict[str, Any], config: PerCESFTConfig, conversational: bool, fail: Any) -> Any:
    """The row's persona column (persona_from='field'), or None when the system message is the persona."""
    column = config.persona_field
    if config.persona_from == "field":
        if row.get(column) is None:
            raise fail(
                f"no persona: give each row its persona in the `{column}` column (a string or a list of facts), "
                "or set persona_from='system' if it is the conversation's first system message",
                column,
            )
        return row[column]
    if not conversational:
        raise fail("persona_from='system' needs conversational rows (lists of messages)", "prompt")
    if row.get(column):
        raise fail(
            "persona given twice: in this column and as the system message (persona_from='system')", column
        )
    return None


def trl_examples(
    dataset: Dataset, config: PerCESFTConfig, split: str, eos_token: str | None
) -> list[Example]:
    """Every row of ``dataset`` as an `Example` (`trl_example`); a repeated id is an error naming both rows."""
    examples: list[Example] = []
    seen: dict[str, int] = {}
    for index, row in enumerate(dataset):
        example = trl_example(row, index, config, split, eos_token)
        if example.id in seen:
            raise DataError(
                f"id {example.id!r} repeats row {seen[example.id]}",
                path=f"{split}_dataset row {index}",
                field="id",
            )
        seen[example.id] = index
        examples.append(example)
    if not examples:
        raise DataError("the dataset has no rows", path=f"{split}_dataset")
    return examples


# ------------------------------------------------------------------------------------------ the trainer


def _defined_in_trl(function: Any) -> bool:
    """Whether ``function`` (or the function behind a bound method) is TRL's code."""
    code = getattr(getattr(function, "__func__", function), "__code__", None)
    return code is not None and Path(code.co_filename).resolve().is_relative_to(
        Path(trl.__file__).resolve().parent
    )


class PerCESFTTrainer(PerCELossMixin, SFTTrainer):
    """TRL's `SFTTrainer` trained with PerCE (`PerCELossMixin`, the loss of `percontrast.training.trainer.PerCETrainer`).

    Takes SFTTrainer's arguments (``model`` as a name or a model, ``peft_config``, ``callbacks``,
    ``optimizers``, ``eval_dataset``, ...) with a `PerCESFTConfig` as ``args``. Refused: a ``data_collator``,
    a ``formatting_func``, a ``compute_loss_func`` (PerCE brings its own) and streaming datasets (every row
    is encoded up front, so skips are counted before training). After construction ``train_dataset`` and
    ``eval_dataset`` hold the encoded examples and ``skipped_examples`` what each split left out, and why.
    """

    def __init__(
        self,
        model: Any,
        args: PerCESFTConfig | None = None,
        data_collator: Any = None,
        train_dataset: Dataset | None = None,
        eval_dataset: Dataset | dict[str, Dataset] | None = None,
        processing_class: PreTrainedTokenizerBase | None = None,
        **kwargs: Any,
    ) -> None:
        if args is None:
            name = model if isinstance(model, str) else getattr(model.config, "_name_or_path", "model")
            args = PerCESFTConfig(f"{Path(str(name)).name}-PerCE")
        _refuse_inputs(args, data_collator, train_dataset, eval_dataset, kwargs)
        if isinstance(model, nn.Module):
            # As PerCETrainer: before anything wraps the instance's forward (accelerate's mixed precision).
            enable_response_forward(model)
        super().__init__(
            model=model,
            args=args,
            train_dataset=train_dataset,
            eval_dataset=eval_dataset,
            processing_class=processing_class,
            **kwargs,
        )
        self._use_response_forward()
        self._init_perce()
        tokenizer = self.processing_class
        if not isinstance(tokenizer, PreTrainedTokenizerBase):
            raise ConfigError(
                f"PerCESFTTrainer takes a tokenizer as processing_class, got {type(tokenizer).__name__} "
                "(vision-language processors are not supported)"
            )
        self.max_length_used = _max_length(args, unwrap_model(self.model), tokenizer)
        self.skipped_examples: dict[str, list[SkippedExample]] = {}
        self.train_dataset = self._encode(train_dataset, "train")
        self.eval_dataset = self._encode_eval(eval_dataset)
        pad_id = pad_token_id(tokenizer)
        self.data_collator = PairedCollator(pad_id=pad_id, padding_side=args.padding_side)
        if args.loss == "perce" and args.pir_source == "frozen":
            evals = self.eval_dataset
            evals = [] if evals is None else list(evals.values()) if isinstance(evals, dict) else [evals]
            drawn = drawn_examples(self, self.train_dataset, args)  # what max_steps draws, as PerCETrainer
            everything = [item for dataset in (drawn, *evals) for item in dataset.examples]
            _use_frozen_pir(self, self.data_collator, EncodedDataset(everything), pad_id, args)
        _refuse_ignored_mixed_precision(self)

    def _use_response_forward(self) -> None:
        """Give the model SFTTrainer built (loaded from a name, PEFT-wrapped) percontrast's response forward.

        TRL 1.15 and later patch the model instance with a fused LM head for their own CE loss. PerCE
        computes its log-probs with its own head (`percontrast.modeling.response_forward`) and never calls TRL's, so the patch
        is removed: on a model TRL loaded from a name it wraps the original forward, which drops PerCE's
        keyword.
        """
        base = unwrap_model(self.model)
        patch = vars(base).get("forward")
        if patch is not None and _defined_in_trl(patch):
            del base.forward
        enable_response_forward(self.model)

    def _encode(self, dataset: Dataset, split: str) -> EncodedDataset:
        """The rows of one split as encoded examples, with its skips recorded in ``skipped_examples``."""
        if isinstance(dataset, EncodedDataset):
            return dataset
        if getattr(self.args, "shuffle_dataset", False):  # TRL >= 0.26
            dataset = dataset.shuffle(seed=self.args.seed)
        tokenizer = self.processing_class
        examples = trl_examples(dataset, self.args, split, tokenizer.eos_token)
        encoded = encode_training_examples(
            examples, tokenizer, max_length=self.max_length_used, add_eos=True, source=f"{split}_dataset"
        )
        self.skipped_examples[split] = encoded.skipped
        return encoded

    def _encode_eval(self, eval_dataset: Any) -> EncodedDataset | dict[str, EncodedDataset] | None:
        if eval_dataset is None:
            return None
        if isinstance(eval_dataset, dict):
            return {name: self._encode(dataset, f"eval_{name}") for name, dataset in eval_dataset.items()}
        return self._encode(eval_dataset, "eval")

    def evaluate(
        self,
        eval_dataset: Any = None,
        ignore_keys: list[str] | None = None,
        metric_key_prefix: str = "eval",
    ) -> dict[str, float]:
        """`Trainer.evaluate`; a dataset passed here is encoded as the ones given to the constructor."""
        if eval_dataset is not None and not isinstance(eval_dataset, (str, EncodedDataset)):
            if self.args.loss == "perce" and self.args.pir_source == "frozen":
                raise ConfigError(
                    "pir_source='frozen' scores the datasets given to the trainer with the starting model; pass "
                    "this dataset as eval_dataset when building PerCESFTTrainer"
                )
            eval_dataset = self._encode_eval(eval_dataset)
        return super().evaluate(
            eval_dataset=eval_dataset, ignore_keys=ignore_keys, metric_key_prefix=metric_key_prefix
        )

    def prediction_step(
        self, model: nn.Module, inputs: dict, prediction_loss_only: bool, ignore_keys: list[str] | None = None
    ) -> tuple:
        """`Trainer.prediction_step`: SFTTrainer's reads the logits of TRL's own loss, which PerCE does not make
        (its outputs are the response log-probs and weights, (B, R))."""
        return Trainer.prediction_step(self, model, inputs, prediction_loss_only, ignore_keys)


def _refuse_inputs(
    args: Any, data_collator: Any, train_dataset: Any, eval_dataset: Any, kwargs: dict
) -> None:
    """Refuse what PerCESFTTrainer cannot take, before SFTTrainer spends time on it."""
    if not isinstance(args, PerCESFTConfig):
        raise ConfigError(
            f"PerCESFTTrainer needs a PerCESFTConfig as args, got {type(args).__name__}: replace SFTConfig(...) "
            "by percontrast.training.trl.PerCESFTConfig(...), which takes the same arguments plus PerCE's"
        )
    if data_collator is not None:
        raise ConfigError(
            "data_collator is not supported: PerCESFTTrainer pads each row's prompt with and without the persona "
            "around one shared completion itself (percontrast.training.collator.PairedCollator)"
        )
    for name in ("formatting_func", "compute_loss_func"):
        if kwargs.get(name) is not None:
            raise ConfigError(
                f"{name} is not supported: PerCESFTTrainer reads prompt-completion rows with a persona and computes "
                "the PerCE loss itself (choose it with PerCESFTConfig's `loss`)"
            )
    datasets = [("train_dataset", train_dataset)]
    if isinstance(eval_dataset, dict):
        datasets += [(f"eval_dataset[{name!r}]", value) for name, value in eval_dataset.items()]
    elif eval_dataset is not None:
        datasets.append(("eval_dataset", eval_dataset))
    for name, dataset in datasets:
        if not isinstance(dataset, Dataset):
            raise ConfigError(
                f"{name} must be a datasets.Dataset, got {type(dataset).__name__}: PerCESFTTrainer encodes every "
                "row up front (persona truncation, skips counted), so streaming (IterableDataset) is not supported"
            )
