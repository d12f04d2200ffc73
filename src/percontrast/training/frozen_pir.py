"""PerCE's weights from the frozen starting model (``pir_source='frozen'``): an ablation, not the paper's.

The paper's E-step recomputes PIR (Eq. 2) with the model being trained at every step, at the cost of one
no-grad forward over the persona-free sequence per step. Here the PIR of every training example the run
draws (`percontrast.training.trainer.drawn_examples`) is computed once, before the first step, by the
starting model (`frozen_pir`), and travels in the batch
(`FrozenPIRCollator` adds ``frozen_pir`` (B, R) beside ``response_mask``), so a PerCE step costs what a CE
step costs. `percontrast.training.trainer.train` wires it in for ``--pir_source frozen``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from percontrast.training.collator import EncodedDataset, PairedCollator
from percontrast.training.config import PerCEConfig
from percontrast.utils.errors import ConfigError

logger = logging.getLogger(__name__)


def _fingerprint(item) -> str:
    """The token ids an example's frozen PIR depends on, as a sha256 digest (the same in every process)."""
    ids = (item.prompt_with_ids, item.prompt_without_ids, item.response_ids)
    return hashlib.sha256(repr(tuple(map(list, ids))).encode()).hexdigest()


def _read_cache(path: Path) -> dict:
    """The cache file's contents, or a `ConfigError` naming the file when it is not one of ours. Read with
    ``weights_only=True``: a cache is tensors, strings and dicts, never code to unpickle."""
    try:
        saved = torch.load(path, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as error:
        raise ConfigError(
            f"frozen_pir_cache {path} is not a frozen-PIR cache (it could not be read as one: "
            f"{type(error).__name__}); point --frozen_pir_cache at a new file, e.g. frozen_pir.pt"
        ) from None
    if not isinstance(saved, dict) or not {"model", "pir", "fingerprint"} <= set(saved):
        raise ConfigError(
            f"frozen_pir_cache {path} is not a frozen-PIR cache (expected the keys model, pir and "
            "fingerprint); point --frozen_pir_cache at a new file"
        )
    return saved


def cached_frozen_pir(
    model: nn.Module, dataset: EncodedDataset, pad_id: int, config: PerCEConfig
) -> dict[str, torch.Tensor]:
    """`frozen_pir` of every example of the dataset, reusing what ``config.frozen_pir_cache`` holds for the
    same starting weights (`model_checksum`) and the same token ids, and scoring only the rest; the file
    is then rewritten with the union.

    An experiment's cells of the same model and data share one starting model, so its seeds and learning
    rates share one scoring of the training pool, across processes and resumes.
    """
    ids = [item.id for item in dataset.examples]
    if len(set(ids)) != len(ids):
        repeated = sorted({i for i in ids if ids.count(i) > 1})[:5]
        raise ConfigError(
            f"pir_source='frozen' keys the PIR by example id; ids repeat in the data: {repeated}"
        )
    path = Path(config.frozen_pir_cache) if config.frozen_pir_cache else None
    identity = model_checksum(model)
    fingerprint = {item.id: _fingerprint(item) for item in dataset.examples}
    known: dict[str, torch.Tensor] = {}
    known_fingerprint: dict[str, str] = {}
    if path is not None and path.exists():
        saved = _read_cache(path)
        if saved["model"] == identity:
            known_fingerprint = dict(saved["fingerprint"])
            known = dict(saved["pir"])
        else:
            logger.info("frozen PIR cache %s is for another starting model: not used", path)
    missing = [item for item in dataset.examples if known_fingerprint.get(item.id) != fingerprint[item.id]]
    if path is not None:
        logger.info(
            "frozen PIR cache %s: %d of %d examples read, %d to score",
            path,
            len(dataset) - len(missing),
            len(dataset),
            len(missing),
        )
    if missing:
        known.update(frozen_pir(model, EncodedDataset(missing), pad_id, config))
        known_fingerprint.update({item.id: fingerprint[item.id] for item in missing})
        if path is not None and config.process_index == 0:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(path.name + ".partial")
            torch.save({"model": identity, "pir": known, "fingerprint": known_fingerprint}, partial)
            os.replace(partial, path)
    return {item.id: known[item.id] for item in dataset.examples}


def model_checksum(model: nn.Module) -> str:
    """What identifies the starting model's weights: a sha256 digest of each parameter's name, dtype and
    shape, and the float64 sum of all of them (one pass over the weights, on their device). Stable across
    processes (no salted ``hash()``). The same spec with another seed (``tiny``), a model directory
    retrained in place, or another dtype gives another checksum."""
    total = torch.zeros((), dtype=torch.float64)
    digest = hashlib.sha256()
    for name, parameter in model.named_parameters():
        total += parameter.detach().double().sum().cpu()
        digest.update(f"{name}:{tuple(parameter.shape)}:{parameter.dtype};".encode())
    return f"{digest.hexdigest()}:{float(total)!r}"


def frozen_pir(
    model: nn.Module, dataset: EncodedDataset, pad_id: int, config: PerCEConfig
) -> dict[str, torch.Tensor]:
    """PIR (R_i,) of every training example's response tokens under ``model`` as it is now (the starting
    model, before any step), in eval mode, by example id: the weights of ``pir_source='frozen'``."""
    from percontrast.scoring.pir import score_units

    items = dataset.examples
    was_training = model.training
    model.eval()
    try:
        logps = score_units(
            model,
            [prompt for item in items for prompt in (item.prompt_with_ids, item.prompt_without_ids)],
            [item.response_ids for item in items for _ in range(2)],
            pad_id,
            max_batch_size=config.per_device_eval_batch_size,
            padding_side=config.padding_side,
            chunk_size=config.logprob_chunk_size,
            progress=not config.disable_tqdm,
            desc="frozen PIR",
        )
    finally:
        model.train(was_training)
    return {item.id: logps[2 * i] - logps[2 * i + 1] for i, item in enumerate(items)}


@dataclass
class FrozenPIRCollator:
    """`PairedCollator` plus ``frozen_pir`` (B, R): each example's precomputed PIR, 0 past its response,
    NaN for an example that was not scored."""

    collator: PairedCollator
    pir: dict[str, torch.Tensor]

    def __call__(self, encoded: list) -> dict[str, torch.Tensor]:
        batch = self.collator(encoded)
        values = torch.zeros(batch["response_mask"].shape, dtype=torch.float32)  # (B, R)
        for row, item in enumerate(encoded):
            # An unscored example is NaN: a batch the dataloader prefetches past the last step is collated
            # but never trained on; one that is trained on is refused by the loss (`PerCETrainer`).
            values[row, : len(item.response_ids)] = self.pir.get(item.id, float("nan"))
        batch["frozen_pir"] = values
        return batch
