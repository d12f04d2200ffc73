"""PerCE's weights from the frozen starting model (``pir_source='frozen'``): an ablation, not the paper's.

The paper's E-step recomputes PIR (Eq. 2) with the model being trained at every step, at the cost of one
no-grad forward over the persona-free sequence per step. Here every training example's PIR is computed
once, before the first step, by the starting model (`frozen_pir`), and travels in the batch
(`FrozenPIRCollator` adds ``frozen_pir`` (B, R) beside ``response_mask``), so a PerCE step costs what a CE
step costs. `percontrast.training.train` wires it in for ``--pir_source frozen``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from percontrast.collator import EncodedDataset, PairedCollator
from percontrast.errors import ConfigError
from percontrast.perce_config import PerCEConfig

logger = logging.getLogger(__name__)


def _fingerprint(item) -> int:
    """The token ids an example's frozen PIR depends on (Python's hash of int tuples is not salted)."""
    return hash((tuple(item.prompt_with_ids), tuple(item.prompt_without_ids), tuple(item.response_ids)))


def cached_frozen_pir(
    model: nn.Module, dataset: EncodedDataset, pad_id: int, config: PerCEConfig
) -> dict[str, torch.Tensor]:
    """`frozen_pir`, read from ``config.frozen_pir_cache`` when that file holds every example of the
    dataset for the same starting weights (`model_checksum`) and the same token ids, else computed and
    written there.

    An experiment's cells of the same model and data share one starting model, so its seeds and learning
    rates can share one scoring of the training pool.
    """
    ids = [item.id for item in dataset.examples]
    if len(set(ids)) != len(ids):
        repeated = sorted({i for i in ids if ids.count(i) > 1})[:5]
        raise ConfigError(
            f"pir_source='frozen' keys the PIR by example id; ids repeat in the data: {repeated}"
        )
    path = Path(config.frozen_pir_cache) if config.frozen_pir_cache else None
    identity = model_checksum(model)
    if path is not None and path.exists():
        saved = torch.load(path)
        if saved["model"] == identity and all(
            saved["fingerprint"].get(item.id) == _fingerprint(item) for item in dataset.examples
        ):
            logger.info("frozen PIR of %d examples read from %s", len(dataset), path)
            return {item.id: saved["pir"][item.id] for item in dataset.examples}
        logger.info("frozen PIR cache %s is for other data or another model: recomputing", path)
    pir = frozen_pir(model, dataset, pad_id, config)
    if path is not None and config.process_index == 0:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        fingerprint = {item.id: _fingerprint(item) for item in dataset.examples}
        torch.save({"model": identity, "pir": pir, "fingerprint": fingerprint}, partial)
        os.replace(partial, path)
    return pir


def model_checksum(model: nn.Module) -> str:
    """What identifies the starting model's weights: each parameter's dtype, shape and float64 sum (one
    pass over the weights, on their device). The same spec with another seed (``tiny``), a model directory
    retrained in place, or another dtype gives another checksum."""
    total = torch.zeros((), dtype=torch.float64)
    parts = []
    for name, parameter in model.named_parameters():
        total += parameter.detach().double().sum().cpu()
        parts.append(f"{name}:{tuple(parameter.shape)}:{parameter.dtype}")
    return f"{hash(tuple(parts))}:{float(total)!r}"


def frozen_pir(
    model: nn.Module, dataset: EncodedDataset, pad_id: int, config: PerCEConfig
) -> dict[str, torch.Tensor]:
    """PIR (R_i,) of every training example's response tokens under ``model`` as it is now (the starting
    model, before any step), in eval mode, by example id: the weights of ``pir_source='frozen'``."""
    from percontrast.scoring import score_units

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
    """`PairedCollator` plus ``frozen_pir`` (B, R): each example's precomputed PIR, 0 past its response."""

    collator: PairedCollator
    pir: dict[str, torch.Tensor]

    def __call__(self, encoded: list) -> dict[str, torch.Tensor]:
        batch = self.collator(encoded)
        values = torch.zeros(batch["response_mask"].shape, dtype=torch.float32)  # (B, R)
        for row, item in enumerate(encoded):
            values[row, : len(item.response_ids)] = self.pir[item.id]
        batch["frozen_pir"] = values
        return batch
