"""PerCE training: `PerCETrainer` (a `transformers.Trainer`) and `train(config)`.

Paper, Eq. 5 with the weight of Eq. 6: ``L = (1/n) sum_i w_i NLL_i(with persona)``,
``w_i = clip(PIR_i, m, M)``, where PIR is computed at every step by the model being trained (detached). That is an online EM loop: the E-step
is the weights, from one extra no-grad forward on the persona-free prompt with the current
parameters (adapters included); the M-step is the weighted CE on the with-persona sequence.

Normalisation (ARCHITECTURE.md, invariant 5). ``tokens``: the weighted sum over the step's response
tokens divided by their global count, transformers' ``num_items_in_batch`` (counted from ``labels``
over every micro-batch of the optimizer step, summed over processes). DDP averages gradients over
the W processes, so each process's loss is multiplied by W. ``weights``: the same backward, then,
once the step's gradients are complete (last micro-batch, after DDP's all-reduce, before clipping
and the optimizer), they are multiplied by ``n / sum(w)`` with ``sum(w)`` summed over micro-batches
and all-reduced over processes. ``responses`` (Eq. 5 read literally): each response's weighted sum is
divided by its own token count, and the sum over responses by the step's global count of responses,
counted like ``num_items_in_batch`` (over micro-batches, gathered over processes) and passed in its
place (`PerCETrainer.get_batch_samples`); DDP's average is undone the same way. All three are exact,
whatever the accumulation and the process count.

``pir_source='frozen'`` (an ablation, not the paper's): no E-step; the PIR of every training example the
run draws (`drawn_examples`) is computed once by the starting model before the first step (`frozen_pir`)
and travels in the batch
(`FrozenPIRCollator`), so a PerCE step costs what a CE step costs.

CLI: ``percontrast train --model tiny --data train.jsonl --loss perce --output_dir runs/x``
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from transformers import PreTrainedModel, Trainer, TrainerCallback, set_seed
from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from percontrast.data.schema import Example
from percontrast.data.sources import read_examples
from percontrast.modeling.load import load_model, max_context
from percontrast.modeling.response_forward import enable_response_forward, pair_logprobs, unwrap_model
from percontrast.scoring.pir import pad_token_id
from percontrast.training.checkpoints import write_run_info
from percontrast.training.collator import EncodedDataset, PairedCollator, encode_training_examples
from percontrast.training.config import PAPER_MAX_LENGTH, SCHEDULE_SETTINGS, PerCEConfig, PerCESettings
from percontrast.training.frozen_pir import FrozenPIRCollator, cached_frozen_pir
from percontrast.training.losses import token_weights, weighted_ce
from percontrast.utils.errors import ConfigError

logger = logging.getLogger(__name__)

# Running sums of the token-weight statistics between two logging steps (local to a process).
_STAT_KEYS = ("tokens", "weight_sum", "weight_sq_sum", "clipped_low", "clipped_high", "pir_sum", "nll_sum")


def active_dropout(model: nn.Module) -> list[str]:
    """Where ``model`` (adapters included) would drop activations in train mode, e.g. ``Dropout(p=0.1) x 4``.

    Looks at dropout modules with ``p > 0`` (PEFT's ``lora_dropout`` among them) and at the config's
    dropout probabilities (``attention_dropout`` and friends, applied functionally by many models).
    """
    found: dict[str, int] = {}
    for module in model.modules():
        if isinstance(module, nn.modules.dropout._DropoutNd) and module.p > 0:
            key = f"{type(module).__name__}(p={module.p:g})"
            found[key] = found.get(key, 0) + 1
    items = [f"{key} x {count}" for key, count in found.items()]
    config = getattr(unwrap_model(model), "config", None)
    for name, value in sorted(vars(config).items() if config is not None else []):
        if ("dropout" in name or "pdrop" in name) and isinstance(value, float) and value > 0:
            items.append(f"config.{name}={value:g}")
    return items


def _without_ddp(model: nn.Module) -> nn.Module:
    """The module inside DDP (same parameters, PEFT adapters kept); other wrappers are kept."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


class PerCELossMixin:
    """The PerCE loss for a `transformers.Trainer` subclass: the one implementation of the loss.

    Listed before the Trainer class in the bases (`PerCETrainer`, and TRL's flavour
    `percontrast.training.trl.PerCESFTTrainer`), it overrides ``compute_loss`` (the E-step and the weighted
    CE), ``get_batch_samples`` (the step's count of responses), ``training_step`` (the weight-sum
    normalisation), ``log`` (the weight statistics and the probe) and ``floating_point_ops``. The subclass
    calls `_init_perce` after the Trainer's ``__init__``; its args carry `PerCESettings` (the only
    settings the loss reads), its batches come from `PairedCollator`.
    """

    # Our loss is already divided by the step's global token count: no further division by the
    # number of accumulation steps.
    loss_is_scaled_for_ga = True

    def _init_perce(self, probe_example: Example | None = None) -> None:
        """Set up the loss's state once the Trainer is built; refuse what the loss cannot run with."""
        if not isinstance(self.args, PerCESettings):
            raise ConfigError(
                f"{type(self).__name__} needs args carrying PerCE's settings (PerCEConfig, or PerCESFTConfig for "
                f"TRL), got {type(self.args).__name__}"
            )
        # Makes the Trainer count `labels != -100` over the step's micro-batches (and processes) into
        # `num_items_in_batch`; we never pass those kwargs to the model.
        self.model_accepts_loss_kwargs = True
        if self.args.n_gpu > 1:
            # Trainer wraps the model in torch.nn.DataParallel when one process sees several GPUs.
            raise ConfigError(
                f"this process sees {self.args.n_gpu} GPUs, so Trainer would use torch.nn.DataParallel, which "
                "PerCE does not support (its replicas break the hidden-state capture of percontrast.modeling.response_forward); "
                "launch one process per GPU (`torchrun --nproc_per_node N` or `accelerate launch`), or expose "
                "one GPU (CUDA_VISIBLE_DEVICES=0)"
            )
        self.probe_example = probe_example
        self._warn_about_dropout()
        self._autocast_without_weight_cache()
        self._stats = torch.zeros(len(_STAT_KEYS), dtype=torch.float64)
        self._step_weight_sum = torch.zeros((), dtype=torch.float64)
        self._step_loss_sum = torch.zeros((), dtype=torch.float64)
        self._weight_range = [float("inf"), float("-inf")]  # min, max of the weights since the last log

    def _autocast_without_weight_cache(self) -> None:
        """Gradient checkpointing under mixed precision: autocast without its weight cache.

        autocast keeps the low-precision copy of a weight made by its first use in a forward; a checkpointed
        layer's recomputation then finds the cache emptied and casts again, and torch 2.6's non-reentrant
        checkpoint refuses the recomputed tensors (``CheckpointError``: different metadata) for every loss,
        with or without LoRA (tests/test_mixed_precision.py; newer torch releases pass either way). Without
        the cache each use casts its weight, once per forward. A handler the user set is kept.
        """
        from accelerate.utils import AutocastKwargs

        accelerator = self.accelerator
        if (
            self.args.gradient_checkpointing
            and accelerator.mixed_precision in ("bf16", "fp16")
            and accelerator.autocast_handler is None
        ):
            accelerator.autocast_handler = AutocastKwargs(cache_enabled=False)

    def _warn_about_dropout(self) -> None:
        dropout = active_dropout(self.model)
        if not dropout or self.args.loss != "perce":
            return
        mode = self.args.pir_pass_mode
        consequence = (
            "both log-probs of the PIR carry independent dropout noise"
            if mode == "train"
            else "the PIR compares the trained pass's dropped-out log-prob with a clean persona-free one"
        )
        logger.warning(
            "the model has active dropout (%s): the persona-free PIR pass runs in %s mode (pir_pass_mode=%r), so "
            "%s; see docs/training.md, 'Dropout and the PIR pass'",
            ", ".join(dropout),
            mode,
            mode,
            consequence,
        )

    def get_batch_samples(
        self, epoch_iterator: Any, num_batches: int, device: torch.device
    ) -> tuple[list, torch.Tensor | int | None]:
        """The step's micro-batches (none once ``max_steps`` is reached); for ``normalization='responses'``
        the count is of responses.

        transformers counts ``labels != -100`` over the step's micro-batches (gathered over processes)
        into ``num_items_in_batch``; Eq. 5 read literally needs the number of responses instead,
        counted the same way.
        """
        if 0 < self.state.max_steps <= self.state.global_step:
            # A resumed run that had already reached max_steps inside an epoch: transformers checks
            # max_steps only after a step, so it would train the epoch's remaining steps. Stop before them.
            self.control.should_training_stop = True
            return [], None
        batch_samples, num_items_in_batch = super().get_batch_samples(epoch_iterator, num_batches, device)
        if self.args.normalization != "responses" or not batch_samples:
            return batch_samples, num_items_in_batch
        responses = sum(int(batch["response_mask"].any(-1).sum()) for batch in batch_samples)
        count = torch.tensor(responses, dtype=torch.long, device=device)
        if self.args.world_size > 1:
            count = self.accelerator.gather(count).sum()
        return batch_samples, count

    # ------------------------------------------------------------------------------------ the loss

    def compute_loss(
        self,
        model: nn.Module,
        inputs: dict[str, torch.Tensor],
        return_outputs: bool = False,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, dict[str, torch.Tensor]]:
        args: PerCESettings = self.args
        response_mask = inputs["response_mask"]  # (B, R)

        def logprobs(
            module: nn.Module, side: str, with_entropy: bool = False
        ) -> tuple[torch.Tensor, torch.Tensor]:
            return pair_logprobs(
                module, inputs, side, chunk_size=args.logprob_chunk_size, with_entropy=with_entropy
            )

        # M-step input: the with-persona sequence, with grad, in train mode. (B, R)
        logp_with, entropy = logprobs(model, "with", with_entropy=args.loss == "entce")
        logp_without = None
        starting_pir = None
        if args.loss == "perce" and args.pir_source == "frozen":
            starting_pir = _frozen_pir_of(inputs)
        elif args.loss == "perce":
            # E-step: the persona-free sequence, same parameters and adapters, no grad. It runs in
            # the same mode as the pass above (train mode while training), so the PIR compares like
            # with like: in eval mode it would compare a dropout-perturbed log-prob to a clean one.
            # (SmolLM2 and tiny have no dropout, so the modes agree there.) pir_pass_mode='eval'
            # turns dropout off for this pass only. DDP is bypassed: it has nothing to synchronise
            # without backward, and its buffer broadcast would cost a collective.
            module = _without_ddp(model)
            switch = args.pir_pass_mode == "eval" and module.training
            if switch:
                module.eval()
            try:
                with torch.no_grad():
                    logp_without, _ = logprobs(module, "without")
            finally:
                if switch:
                    module.train()
        weights, stats = token_weights(
            args.loss,
            logp_with=logp_with,
            response_mask=response_mask,
            logp_without=logp_without,
            entropy=entropy,
            clip_min=args.clip_min,
            clip_max=args.clip_max,
            pir_form=args.pir_form,
            mode=args.weight_mode,
            hard_fraction=args.hard_fraction,
            pir=starting_pir,
        )
        # num_items_in_batch: the step's global count of response tokens, or of responses for
        # normalization='responses' (get_batch_samples). None (no labels, e.g. evaluation or a custom
        # loop): weighted_ce's plain local mean.
        loss = weighted_ce(
            logp_with,
            weights,
            response_mask,
            normalizer=num_items_in_batch,
            per_response=args.normalization == "responses",
        )
        if self.accelerator.num_processes > 1 and num_items_in_batch is not None:
            # num_items_in_batch is global (average_tokens_across_devices is enforced) and DDP
            # averages gradients over processes: undo the average so the step's gradient is
            # grad(global sum) / global count. (Without it, in evaluation, the loss is this batch's mean.)
            loss = loss * self.accelerator.num_processes
        if model.training:
            self._record(weights, response_mask, stats, logp_with)
        if return_outputs:
            outputs = {"logp_with": logp_with.detach(), "weights": weights}
            if logp_without is not None:
                outputs["logp_without"] = logp_without
            return loss, outputs
        return loss

    def _record(
        self, weights: torch.Tensor, response_mask: torch.Tensor, stats: dict[str, float], logp: torch.Tensor
    ) -> None:
        mask = response_mask.bool()
        count = float(mask.sum())
        values = weights[mask].double()
        self._step_weight_sum += values.sum().cpu()
        if values.numel():
            self._weight_range = [
                min(self._weight_range[0], float(values.min())),
                max(self._weight_range[1], float(values.max())),
            ]
        self._stats += torch.tensor(
            [
                count,
                float(values.sum()),
                float((values**2).sum()),
                stats["clipped_low"] * count,
                stats["clipped_high"] * count,
                stats.get("pir_mean", 0.0) * count,
                float(-logp.detach()[mask].double().sum()),
            ],
            dtype=torch.float64,
        )

    # ------------------------------------------------------------------ weight-sum normalisation

    def training_step(
        self,
        model: nn.Module,
        inputs: dict[str, torch.Tensor],
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> torch.Tensor:
        loss = super().training_step(model, inputs, num_items_in_batch)
        if self.args.normalization != "weights":
            return loss
        self._step_loss_sum += loss.detach().double().cpu()
        if not self.accelerator.gradient_state.sync_gradients:
            return loss
        # Last micro-batch of the step: gradients are complete (and all-reduced under DDP). Swap the
        # token count for the global weight sum, before clipping and the optimizer step.
        weight_sum = self._step_weight_sum.to(self.args.device)
        if self.accelerator.num_processes > 1:
            weight_sum = self.accelerator.reduce(weight_sum, reduction="sum")
        if num_items_in_batch is None:
            raise ConfigError(
                "normalization='weights' needs `labels` in the batch (PairedCollator adds them)"
            )
        factor = (
            torch.as_tensor(num_items_in_batch, dtype=torch.float64, device=weight_sum.device)
            / weight_sum.clamp(min=1e-12)
        ).item()
        for parameter in model.parameters():
            if parameter.grad is not None:
                parameter.grad.mul_(factor)
        # The logged loss: make this process's share of the step equal (its weighted sum) / sum(w).
        step_loss = self._step_loss_sum.item()
        corrected = loss + (step_loss * factor - step_loss)
        self._step_weight_sum.zero_()
        self._step_loss_sum.zero_()
        return corrected.detach()

    # ------------------------------------------------------------------------------------ logging

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs:  # a training log: every process calls it, at the same step
            logs.update(self._weight_statistics())
            # The probe's settings (probe_steps, template, max_length) are PerCEConfig's: only
            # PerCETrainer is given a probe example.
            if self.probe_example is not None and self.args.probe_steps:
                if self.state.global_step % self.args.probe_steps == 0:
                    logs.update(self._probe())
        super().log(logs, start_time)

    def _weight_statistics(self) -> dict[str, float]:
        stats = self._stats.to(self.args.device, copy=True)
        if self.accelerator.num_processes > 1:
            stats = self.accelerator.reduce(stats, reduction="sum")
        # max(-min) and max in one all-reduce; a process without tokens contributes -inf.
        extremes = torch.tensor(
            [-self._weight_range[0], self._weight_range[1]], dtype=torch.float64, device=self.args.device
        )
        if self.accelerator.num_processes > 1:
            torch.distributed.all_reduce(extremes, op=torch.distributed.ReduceOp.MAX)
        self._stats.zero_()
        self._weight_range = [float("inf"), float("-inf")]
        tokens, weight_sum, weight_sq_sum, low, high, pir_sum, nll_sum = stats.tolist()
        if tokens == 0:
            return {}
        mean = weight_sum / tokens
        result = {
            "weight_mean": mean,
            "weight_std": max(weight_sq_sum / tokens - mean**2, 0.0) ** 0.5,
            "weight_min": -float(extremes[0]),
            "weight_max": float(extremes[1]),
            "clipped_low": low / tokens,
            "clipped_high": high / tokens,
            "nll_mean": nll_sum / tokens,  # unweighted CE of the response tokens: comparable across losses
        }
        if self.args.loss == "perce":
            result["pir_mean"] = pir_sum / tokens
        return result

    def _probe(self) -> dict[str, Any]:
        """Top personal tokens of the probe example under the current parameters (main process)."""
        if not self.is_world_process_zero():
            return {}
        from percontrast.scoring.config import ScoreConfig
        from percontrast.scoring.pir import score_examples

        args: PerCEConfig = self.args
        model = self.model  # not DDP-wrapped; PEFT adapters included
        was_training = model.training
        model.eval()
        try:
            max_length = args.max_length
            if max_length is not None:  # the paper's default (5000) is clamped to the context, as in train()
                max_length = min(max_length, max_context(model, self.processing_class))
            settings = ScoreConfig(template=args.template, pir_form=args.pir_form, max_length=max_length)
            scores = score_examples(
                model, self.processing_class, [self.probe_example], settings, progress=False
            )[0]
        finally:
            model.train(was_training)
        top = scores.top_tokens(args.probe_top_k)
        text = " ".join(f"{token!r}:{pir:.2f}" for token, pir in top)
        logger.info(
            "step %d probe %s: top personal tokens %s", self.state.global_step, self.probe_example.id, text
        )
        return {"probe_top_tokens": text, "probe_pir_mean": sum(scores.pir) / len(scores.pir)}

    def floating_point_ops(self, inputs: dict[str, torch.Tensor]) -> int:
        """6 N per token for the with-persona pass, 2 N per token for the no-grad pass (perce)."""
        parameters = (
            self.model.num_parameters(exclude_embeddings=True) if hasattr(self.model, "num_parameters") else 0
        )
        flops = 6 * inputs["with_input_ids"].numel() * parameters
        if self.args.loss == "perce" and self.args.pir_source == "online":
            flops += 2 * inputs["without_input_ids"].numel() * parameters
        return flops


class PerCETrainer(PerCELossMixin, Trainer):
    """`transformers.Trainer` whose loss is the token-weighted CE of `percontrast.training.losses` (`PerCELossMixin`).

    The batch comes from `PairedCollator`. ``labels`` is only there for the Trainer to count the
    response tokens of a step; the model never sees it (its own loss would materialise (B, T, V)
    logits): log-probs are computed at response positions only (`percontrast.modeling.response_forward`).
    """

    def __init__(self, *args: Any, probe_example: Example | None = None, **kwargs: Any) -> None:
        model = kwargs.get("model", args[0] if args else None)
        if model is not None:
            # Before the Trainer's accelerator wraps the instance's forward for mixed precision: the
            # autocast and fp32-output wrappers must wrap the response forward, not the model's own.
            enable_response_forward(model)
        super().__init__(*args, **kwargs)
        if not isinstance(self.args, PerCEConfig):
            raise ConfigError(f"PerCETrainer needs a PerCEConfig as args, got {type(self.args).__name__}")
        self._init_perce(probe_example)


# --------------------------------------------------------------------------------------- train()


@dataclass
class TrainingRun:
    """What `train` returns: the trainer (model, state, log history), its output and the data."""

    trainer: PerCETrainer
    output: Any  # transformers.trainer_utils.TrainOutput
    dataset: EncodedDataset
    frozen_pir_seconds: float | None = None  # pir_source='frozen': time to score the data once
    already_finished: bool = False  # resumed from a checkpoint at the end of the run: nothing trained


def apply_lora(model: PreTrainedModel, config: PerCEConfig) -> nn.Module:
    """Wrap ``model`` with LoRA adapters from the ``lora_*`` fields."""
    from peft import LoraConfig, get_peft_model

    targets = config.lora_target_modules
    lora = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules="all-linear" if targets == ["all-linear"] else list(targets),
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora)


def train(
    config: PerCEConfig,
    *,
    model: PreTrainedModel | None = None,
    tokenizer: PreTrainedTokenizerBase | None = None,
    examples: list[Example] | None = None,
    callbacks: list[TrainerCallback] | None = None,
    remove_callbacks: Sequence[type[TrainerCallback]] = (),
) -> TrainingRun:
    """Train a model with the loss of ``config`` and save it in ``config.output_dir``.

    Args:
        config: the training configuration.
        model, tokenizer: an already loaded model (default: ``load_model(config.model)``).
        examples: the training examples (default: read from ``config.data``).
        callbacks: extra Trainer callbacks.
        remove_callbacks: classes of the Trainer's default callbacks to take out (`Trainer.remove_callback`),
            e.g. ``transformers.PrinterCallback``, which prints every log dict when ``disable_tqdm`` is set.
    """
    from percontrast.training.checkpoints import prepare_run_dir

    # Every process resolves the checkpoint; only rank 0 judges the directory (the others may start
    # after it has written run_config.json there).
    checkpoint = prepare_run_dir(
        config.output_dir,
        resume_from_checkpoint=config.resume_from_checkpoint,
        overwrite=config.overwrite_output_dir or config.process_index != 0,
        settings=config.resume_settings(),
        schedule_settings=SCHEDULE_SETTINGS,
        clear_checkpoints=config.overwrite_output_dir and config.process_index == 0,
    )
    finished = _finished_checkpoint(checkpoint)
    set_seed(config.seed)
    if model is None:
        model, tokenizer = load_model(config.model, seed=config.seed)
    elif tokenizer is None:
        raise ConfigError("train(model=...) needs the tokenizer too")
    if examples is None:
        if config.data is None:
            raise ConfigError("data is required: the JSONL file of training examples (--data)")
        examples = read_examples(config.data)
    source = config.data or "training examples"
    max_length = _max_length(config, model, tokenizer)
    dataset = encode_training_examples(
        examples, tokenizer, config.template, max_length=max_length, add_eos=config.add_eos, source=source
    )
    probe = _probe_example(config, examples, dataset)
    if config.use_lora:
        model = apply_lora(model, config)
    pad_id = pad_token_id(tokenizer)
    collator = PairedCollator(pad_id=pad_id, padding_side=config.padding_side)
    trainer = PerCETrainer(
        model=model,
        args=config,
        train_dataset=dataset,
        data_collator=collator,
        processing_class=tokenizer,
        callbacks=callbacks,
        probe_example=probe,
    )
    for callback in remove_callbacks:
        trainer.remove_callback(callback)
    frozen_seconds = None
    if config.loss == "perce" and config.pir_source == "frozen":
        drawn = drawn_examples(trainer, dataset, config)
        frozen_seconds = _use_frozen_pir(trainer, collator, drawn, pad_id, config)
    _refuse_ignored_mixed_precision(trainer)
    if trainer.is_world_process_zero():
        write_run_info(config, dataset, max_length, distributed=describe_distributed(trainer))
    output = trainer.train(resume_from_checkpoint=checkpoint)
    trainer.save_model()
    return TrainingRun(
        trainer=trainer,
        output=output,
        dataset=dataset,
        frozen_pir_seconds=frozen_seconds,
        already_finished=finished,
    )


def _finished_checkpoint(checkpoint: str | None) -> bool:
    """Whether the resume point is the end of its run (step ``max_steps``); says so when it is. The Trainer
    then trains nothing (`PerCETrainer.get_batch_samples`) and the checkpoint's weights are saved."""
    from percontrast.training.checkpoints import checkpoint_state

    state = checkpoint_state(checkpoint) if checkpoint is not None else None
    if state is None or not 0 < state.get("max_steps", 0) <= state.get("global_step", 0):
        return False
    logger.info(
        "%s is step %d of the run's %d: the run is finished, nothing to train",
        checkpoint,
        state["global_step"],
        state["max_steps"],
    )
    return True


def _frozen_pir_of(inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """No E-step: the starting model's PIR (B, R), computed once in train() (`FrozenPIRCollator`); a step on
    an example that was not scored (NaN) is refused."""
    if "frozen_pir" not in inputs:
        raise ConfigError("pir_source='frozen' needs `frozen_pir` in the batch (train() adds it)")
    starting_pir = inputs["frozen_pir"]
    if torch.isnan(starting_pir).any():
        raise ConfigError(
            "pir_source='frozen': this step trains on an example that was not scored (only the examples "
            "the run was read ahead to draw were, `drawn_examples`); its weights would be made up. "
            "Please report this with the run's settings"
        )
    return starting_pir


def drawn_examples(trainer: Trainer, dataset: EncodedDataset, config: PerCEConfig) -> EncodedDataset:
    """The examples this process's run will train on, for ``pir_source='frozen'`` to score only those: with
    ``max_steps`` shorter than an epoch, the first ``max_steps x gradient_accumulation_steps`` batches of the
    trainer's own train dataloader (its sampler, seed and sharding over processes), read ahead with a
    collator that returns ids and nothing else. The whole dataset otherwise (an epoch or more draws it all).

    The read-ahead leaves the run as it was: the torch RNG state is restored (a DataLoader iterator draws a
    base seed from it) and the extra dataloader is taken off accelerate's list (whose order `save_state`
    and `load_state` use for the samplers' states) and out of the gradient state (`_stop_reading`). An
    example outside this set gets NaN weights in its batch (`FrozenPIRCollator`; a batch prefetched past the
    last step is collated but never trained on), and a step that trains on one is refused with a
    `ConfigError` (`_frozen_pir_of`), never run with made-up weights."""
    if config.max_steps is None or config.max_steps <= 0:
        return dataset
    batches = config.max_steps * config.gradient_accumulation_steps
    collator, registered = trainer.data_collator, len(trainer.accelerator._dataloaders)
    trainer.data_collator = _example_ids
    ids: set[str] = set()
    with torch.random.fork_rng(devices=[]):
        try:
            loader = trainer.get_train_dataloader()
            if batches >= len(loader):
                return dataset
            batch_iterator = iter(loader)
            try:
                for _ in range(batches):
                    ids.update(next(batch_iterator))
            finally:
                _stop_reading(loader, batch_iterator)
        finally:
            trainer.data_collator = collator
            del trainer.accelerator._dataloaders[registered:]
    drawn = EncodedDataset([item for item in dataset.examples if item.id in ids])
    logger.info(
        "pir_source='frozen': %d step(s) draw %d of the %d training examples in this process; scoring only those",
        config.max_steps,
        len(drawn),
        len(dataset),
    )
    return drawn


def _example_ids(items: list) -> list[str]:
    return [item.id for item in items]


def _stop_reading(loader: Any, batch_iterator: Any) -> None:
    """Close a read-ahead stopped before the end of its epoch: accelerate's dataloader registers itself in
    the gradient state when iteration starts and leaves it only at the epoch's end, so it is taken off here
    (else the training loop's gradient state would fall back to it)."""
    getattr(batch_iterator, "close", lambda: None)()
    state = getattr(loader, "gradient_state", None)
    if state is not None and any(reference is loader for reference in state.dataloader_references):
        loader.end()


def _use_frozen_pir(
    trainer: PerCETrainer, collator: PairedCollator, dataset: EncodedDataset, pad_id: int, config: PerCEConfig
) -> float:
    """``pir_source='frozen'``: score the given training examples once with the starting model, on the
    trainer's device and under its mixed precision (rank 0 first, so the other ranks read its cache), and
    put the PIR in the batches; returns the seconds it took."""
    started = time.perf_counter()
    with trainer.accelerator.main_process_first(), trainer.accelerator.autocast():
        pir = cached_frozen_pir(trainer.model, dataset, pad_id, config)
    trainer.data_collator = FrozenPIRCollator(collator, pir)
    seconds = time.perf_counter() - started
    logger.info("pir_source='frozen': scored %d examples once in %.1f s", len(dataset), seconds)
    return seconds


def _max_length(config: PerCEConfig, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> int:
    """``config.max_length`` within the model's context: the paper's 5000 is clamped to it (logged), any
    other value past it is an error; None is the context."""
    context = max_context(model, tokenizer)
    if config.max_length is not None and config.max_length > context:
        if config.max_length != PAPER_MAX_LENGTH:
            raise ConfigError(
                f"max_length={config.max_length} is longer than the model's context ({context} tokens)"
            )
        logger.info(
            "max_length=%d (the paper's default) exceeds the model's context; using %d",
            config.max_length,
            context,
        )
    return context if config.max_length is None else min(config.max_length, context)


def _refuse_ignored_mixed_precision(trainer: Trainer) -> None:
    """Refuse a mixed precision that accelerate accepted but will not apply (fp16 on CPU: it sets no
    autocast there, so the run would silently train in float32 while its config says fp16)."""
    accelerator = trainer.accelerator
    precision = str(accelerator.mixed_precision)
    if precision in ("fp16", "bf16") and not accelerator.native_amp and not trainer.is_deepspeed_enabled:
        raise ConfigError(
            f"{precision} mixed precision (--{precision}, or mixed_precision in the accelerate config) does not "
            f"run on device {accelerator.device.type!r}: accelerate would train in float32 while the run claims "
            f"{precision}. Use --bf16 on CPU, fp16 on a CUDA GPU, or drop the flag"
        )


def describe_distributed(trainer: Trainer) -> dict[str, Any]:
    """How the run is spread: accelerate's distributed type, processes, and the sharding engine."""
    accelerator = trainer.accelerator
    return {
        "type": str(accelerator.distributed_type).rsplit(".", 1)[-1],
        "num_processes": accelerator.num_processes,
        "fsdp": bool(trainer.is_fsdp_enabled),
        "fsdp_version": getattr(accelerator.state.fsdp_plugin, "fsdp_version", None)
        if trainer.is_fsdp_enabled
        else None,
        "deepspeed": bool(trainer.is_deepspeed_enabled),
        # What accelerate actually runs ("no", "bf16", "fp16"): a launch config's mixed_precision wins
        # over the Trainer's --bf16 / --fp16.
        "mixed_precision": str(accelerator.mixed_precision),
    }


def _probe_example(config: PerCEConfig, examples: list[Example], dataset: EncodedDataset) -> Example | None:
    if not config.probe_steps:
        return None
    usable = {item.id for item in dataset.examples}
    if config.probe_example is None:
        return next(example for example in examples if example.id in usable)
    for example in examples:
        if example.id == config.probe_example:
            if example.id not in usable:
                raise ConfigError(
                    f"probe_example {config.probe_example!r} was skipped (it does not fit max_length)"
                )
            return example
    raise ConfigError(f"probe_example {config.probe_example!r} is not an id of the training data")
