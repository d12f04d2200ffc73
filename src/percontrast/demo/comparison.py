"""CE versus PerCE on the next-reply task of Synthetic-Persona-Chat, measured on held-out personas.

For every seed, three copies of the same base model are fine-tuned with the same training sample, the
same data order, the same optimizer and the same number of steps; only the loss differs:

- ``ce``: plain cross-entropy;
- ``perce_tokens``: PerCE (paper, Eq. 5 with the weight of Eq. 6, m = 0.8, M = 5), normalised by the count of response tokens
  (the paper's 1/n);
- ``perce_weights``: PerCE normalised by the sum of the weights.

Every trained model and the untrained one are evaluated on the same held-out examples (personas never
seen in training, `percontrast.data.persona_chat.next_reply_split`):

- ``nll``: mean negative log-likelihood per token of the reference reply, given persona and history
  (pooled over tokens: sum of NLL / number of tokens; no EOS appended);
- ``pir``: mean PIR of the reference reply's tokens under that model (pooled the same way): how much
  more likely the persona makes the user's actual words;
- by token group (`percontrast.analysis.token_groups`): the same NLL and PIR over the reference tokens whose PIR
  under the untrained model exceeds 1 (``reference_personal``) and over the rest, the same tokens for
  every model;
- ``rougeL`` and ``meteor``: of a greedy reply generated for a subset of those examples (per-example
  F1 / score, averaged; an empty reply scores 0 and is counted, rather than being dropped, so every
  model is judged on the same examples).

    from percontrast.demo.comparison import run_comparison
"""

from __future__ import annotations

import copy
import logging
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PrinterCallback, TrainerCallback
from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from percontrast.analysis.bootstrap import Evaluation
from percontrast.analysis.token_groups import TokenGroups, group_sums, make_groups
from percontrast.data.persona_chat import TEMPLATE
from percontrast.data.schema import Example
from percontrast.demo.config import LABELS, UNTRAINED, VARIANTS, DemoConfig
from percontrast.generation.generate import SamplingConfig, generate_from_ids, render_prompts
from percontrast.scoring.config import ScoreConfig
from percontrast.scoring.pir import score_examples

logger = logging.getLogger(__name__)


@dataclass
class TrainedRun:
    """One fine-tuning run: its per-step log and wall time."""

    variant: str
    seed: int
    log_history: list[dict]
    seconds: float
    skipped: int
    truncated: int


@dataclass
class Comparison:
    """Everything `run_comparison` measured."""

    eval_ids: list[str]
    generate_ids: list[str]
    references: list[str]
    queries: list[str] = field(default_factory=list)
    evaluations: dict[str, list[Evaluation]] = field(default_factory=dict)  # variant -> one per seed
    runs: list[TrainedRun] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    meteor_note: str | None = None
    dropped: dict[str, list[str]] = field(default_factory=dict)


def sample_examples(examples: Sequence[Example], n: int, seed: int) -> list[Example]:
    """``n`` examples drawn without replacement with ``random.Random(seed)``, in drawn order."""
    if n > len(examples):
        raise ValueError(f"asked for {n} examples but only {len(examples)} are available")
    return random.Random(seed).sample(list(examples), n)


def fitting_examples(
    examples: Sequence[Example], tokenizer: PreTrainedTokenizerBase, max_length: int
) -> tuple[list[Example], list[str]]:
    """The examples whose history and reply fit ``max_length`` with EOS and some persona (the persona may
    be truncated, never to nothing: `percontrast.prompts.encoding.fit_examples`, as training and scoring do),
    and the ids of those that do not (never silently dropped: the caller reports them)."""
    from percontrast.prompts.encoding import fit_examples

    fitted = fit_examples(examples, tokenizer, TEMPLATE, max_length=max_length, add_eos=True)
    return [examples[i] for i in fitted.indices], [item.id for item in fitted.skipped]


class _StepBar(TrainerCallback):
    """One tqdm bar per training run, with the running loss (replaces the Trainer's log printing)."""

    def __init__(self, description: str, enabled: bool) -> None:
        self.description, self.enabled, self.bar = description, enabled, None

    def on_train_begin(self, args, state, control, **kwargs):
        self.bar = tqdm(total=state.max_steps, desc=self.description, unit="step", disable=not self.enabled)

    def on_step_end(self, args, state, control, **kwargs):
        self.bar.update(1)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "nll_mean" in logs:
            self.bar.set_postfix(train_nll=f"{logs['nll_mean']:.3f}")

    def on_train_end(self, args, state, control, **kwargs):
        self.bar.close()


def train_variant(
    variant: str,
    base_model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    train_examples: list[Example],
    config: DemoConfig,
    seed: int,
    output_dir: Path,
) -> tuple[PreTrainedModel, TrainedRun]:
    """Fine-tune a copy of ``base_model`` with one variant's loss; return it (eval mode) and its log."""
    from percontrast.training.config import PerCEConfig
    from percontrast.training.trainer import train

    loss, normalization = VARIANTS[variant]
    args = PerCEConfig(
        output_dir=str(output_dir),
        model=config.model,
        loss=loss,
        normalization=normalization,
        template=TEMPLATE,
        max_length=config.max_length,
        max_steps=config.train_steps,
        per_device_train_batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        lr_scheduler_type="linear",
        warmup_steps=0,
        seed=seed,
        data_seed=seed,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        probe_steps=0,
        disable_tqdm=True,
        dataloader_num_workers=0,
        use_cpu=next(base_model.parameters()).device.type == "cpu",
    )
    model = copy.deepcopy(base_model)
    started = time.perf_counter()
    # With its own bars off, the Trainer adds a PrinterCallback that prints every step's log dict; the
    # step bar shows progress instead, and the logs stay in `state.log_history`.
    run = train(
        args,
        model=model,
        tokenizer=tokenizer,
        examples=train_examples,
        callbacks=[_StepBar(f"train {variant} seed {seed}", config.progress)],
        remove_callbacks=[PrinterCallback],
    )
    seconds = time.perf_counter() - started
    trained = run.trainer.model
    trained.eval()
    history = [dict(entry) for entry in run.trainer.state.log_history]
    return trained, TrainedRun(
        variant=variant,
        seed=seed,
        log_history=history,
        seconds=seconds,
        skipped=len(run.dataset.skipped),
        truncated=len(run.dataset.truncated_ids),
    )


def evaluate_model(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    eval_examples: Sequence[Example],
    generate_examples: Sequence[Example],
    config: DemoConfig,
    description: str = "",
    groups: TokenGroups | None = None,
) -> tuple[Evaluation, str | None]:
    """Score the reference replies of ``eval_examples``; generate and score replies for ``generate_examples``.

    ``groups``: the token groups to sum over (`percontrast.analysis.token_groups`); None: defined here from this
    model's own scores (the untrained model is the reference of every other).

    Returns:
        The evaluation and, when METEOR could not be computed (WordNet missing), why.
    """
    settings = ScoreConfig(template=TEMPLATE, max_length=config.max_length, batch_size=config.eval_batch_size)
    scores = score_examples(model, tokenizer, eval_examples, settings, progress=config.progress)
    nll_sum = np.array([-sum(item.logp_with) for item in scores])
    pir_sum = np.array([sum(item.pir) for item in scores])
    n_tokens = np.array([len(item.pir) for item in scores], dtype=float)
    if groups is None:
        scored_ids = {item.id for item in scores}
        groups = make_groups(
            [example for example in eval_examples if example.id in scored_ids],
            scores,
            reference=description or UNTRAINED,
        )
    sums = group_sums(groups, scores, model=description)

    predictions = _generate_replies(model, tokenizer, generate_examples, config, description)
    references = [example.response.strip() for example in generate_examples]
    scored = [i for i, text in enumerate(predictions) if text]
    rouge, meteor, note = _reply_metrics(predictions, references, scored)
    return (
        Evaluation(
            nll_sum=nll_sum,
            pir_sum=pir_sum,
            n_tokens=n_tokens,
            rougeL=rouge,
            meteor=meteor,
            predictions=predictions,
            n_empty=len(predictions) - len(scored),
            groups=groups,
            group_sums=sums,
        ),
        note,
    )


def _generate_replies(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    examples: Sequence[Example],
    config: DemoConfig,
    description: str,
) -> list[str]:
    """Greedy replies to ``examples`` with their persona, in batches of ``config.eval_batch_size``."""
    predictions: list[str] = []
    if not examples:
        return predictions
    prompts = render_prompts(list(examples), tokenizer, TEMPLATE, with_persona=True)
    sampling = SamplingConfig(max_new_tokens=config.max_new_tokens, greedy=True)
    with tqdm(
        total=len(prompts), desc=f"generate {description}".strip(), unit="ex", disable=not config.progress
    ) as bar:
        for start in range(0, len(prompts), config.eval_batch_size):
            texts, _ = generate_from_ids(
                model, tokenizer, prompts[start : start + config.eval_batch_size], sampling
            )
            predictions.extend(text.strip() for text in texts)
            bar.update(len(texts))
    return predictions


def _reply_metrics(
    predictions: list[str], references: list[str], scored: list[int]
) -> tuple[np.ndarray, np.ndarray | None, str | None]:
    """ROUGE-L and METEOR per reply (0 for an empty one); METEOR None, with the reason, without WordNet."""
    from percontrast.evaluation.metrics import meteor_scores, rouge_scores

    rouge = np.zeros(len(predictions))
    meteor: np.ndarray | None = np.zeros(len(predictions))
    note = None
    if scored:
        values = rouge_scores([predictions[i] for i in scored], [references[i] for i in scored])["rougeL"]
        rouge[scored] = values
        try:
            meteor[scored] = meteor_scores([predictions[i] for i in scored], [references[i] for i in scored])
        except Exception as exc:  # WordNet / Punkt missing: say so, keep the other metrics
            from percontrast.evaluation.wordnet import MissingDataError

            if not isinstance(exc, MissingDataError | LookupError):
                raise
            meteor, note = None, f"METEOR not computed: {exc}"
    return rouge, meteor, note


def run_comparison(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    train_pool: Sequence[Example],
    test_pool: Sequence[Example],
    config: DemoConfig,
    say: Callable[[str], None] = logger.info,
) -> Comparison:
    """Train every variant for every seed and evaluate each model, and the untrained one, on held-out data.

    Args:
        model, tokenizer: the base model (not modified; each run trains a copy).
        train_pool: training examples to draw from (``config.n_train`` per seed).
        test_pool: held-out examples; the first ``config.n_eval`` of a seed-0 shuffle are scored and
            the first ``config.n_generate`` of those also generated.
        config: sizes.
        say: where progress lines go.
    """
    train_pool, train_dropped = fitting_examples(train_pool, tokenizer, config.max_length)
    test_pool, test_dropped = fitting_examples(test_pool, tokenizer, config.max_length)
    if train_dropped or test_dropped:
        say(
            f"  {len(train_dropped)} training and {len(test_dropped)} held-out examples do not fit "
            f"max_length={config.max_length} with any persona; left out"
        )
    eval_examples = sample_examples(test_pool, min(config.n_eval, len(test_pool)), seed=0)
    generate_examples = eval_examples[: config.n_generate]
    result = Comparison(
        eval_ids=[example.id for example in eval_examples],
        generate_ids=[example.id for example in generate_examples],
        references=[example.response for example in generate_examples],
        queries=[example.query for example in generate_examples],
        dropped={"train": train_dropped, "test": test_dropped},
    )
    started = time.perf_counter()
    say(
        f"evaluating the untrained model on {len(eval_examples)} held-out replies "
        f"({len(generate_examples)} generated)"
    )
    evaluation, note = evaluate_model(model, tokenizer, eval_examples, generate_examples, config, UNTRAINED)
    result.evaluations[UNTRAINED] = [evaluation]
    say(f"  {_line(UNTRAINED, evaluation)}")
    result.meteor_note = note
    result.seconds["evaluate"] = time.perf_counter() - started
    result.seconds["train"] = 0.0
    with tempfile.TemporaryDirectory(prefix="percontrast_demo_") as scratch:
        runs_dir = Path(config.out_dir) / "runs" if config.keep_models else Path(scratch)
        for seed in config.seeds:
            train_examples = sample_examples(
                train_pool, min(config.n_train, len(train_pool)), seed=1000 + seed
            )
            for variant in VARIANTS:
                _train_and_evaluate(
                    result, variant, model, tokenizer, train_examples, (eval_examples, generate_examples),
                    config, seed, runs_dir, say,
                )  # fmt: skip
    return result


def _train_and_evaluate(
    result: Comparison,
    variant: str,
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    train_examples: Sequence[Example],
    held_out: tuple[Sequence[Example], Sequence[Example]],
    config: DemoConfig,
    seed: int,
    runs_dir: Path,
    say: Callable[[str], None],
) -> None:
    """Fine-tune one variant for one seed on a copy of ``model`` and evaluate it on the held-out
    ``(scored, generated)`` examples, over the untrained model's token groups; appended to ``result``."""
    say(
        f"seed {seed}: fine-tuning with {LABELS[variant]} "
        f"({config.train_steps} steps x {config.batch_size} examples, lr {config.learning_rate:g})"
    )
    trained, run = train_variant(
        variant, model, tokenizer, train_examples, config, seed, runs_dir / f"{variant}_seed{seed}"
    )
    result.runs.append(run)
    result.seconds["train"] += run.seconds
    tick = time.perf_counter()
    evaluation, _ = evaluate_model(
        trained,
        tokenizer,
        *held_out,
        config,
        f"{variant} seed {seed}",
        groups=result.evaluations[UNTRAINED][0].groups,
    )
    result.seconds["evaluate"] += time.perf_counter() - tick
    result.evaluations.setdefault(variant, []).append(evaluation)
    say(f"  {_line(variant, evaluation)} (trained in {run.seconds:.0f} s)")
    del trained
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _line(name: str, evaluation: Evaluation) -> str:
    summary = evaluation.summary()
    return (
        f"{LABELS[name]}: held-out NLL {summary['nll']:.3f}, PIR {summary['pir']:+.3f}, "
        f"ROUGE-L {_pct(summary['rougeL'])}, METEOR {_pct(summary['meteor'])}"
    )


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}"
