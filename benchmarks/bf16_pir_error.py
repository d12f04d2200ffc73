"""How far bfloat16 moves PIR: bf16 autocast (how `train --bf16` runs) and bf16 weights (`--dtype bfloat16`)
against float32, on the same paired batch.

PIR is a difference of two log-probabilities, so the rounding of both sides adds up. For each model this
prints the float32 PIR range, the largest log-probability error, the largest and mean PIR error, and the
first-order bound of rounding the logits alone (4 * 2**-8 * max|logit|; `tests/test_mixed_precision.py`).

    python benchmarks/bf16_pir_error.py [--models smollm2-135m-instruct tiny-sharpened]

`tiny-sharpened` is the random `tiny` model with its output layer scaled by 40 (the tests' stand-in for a
model whose PIR is not degenerate). Examples: the eight training examples of tests/training_helpers.py.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from training_helpers import make_examples, sharpened_tiny  # noqa: E402

from percontrast.modeling.load import load_model  # noqa: E402
from percontrast.modeling.response_forward import enable_response_forward, pair_logprobs  # noqa: E402
from percontrast.scoring.pir import pad_token_id  # noqa: E402
from percontrast.training.collator import PairedCollator, encode_training_examples  # noqa: E402


def pir(model, batch, autocast: bool, device_type: str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """(log-probs with persona, PIR), each (B, R), optionally under bf16 autocast on ``device_type``."""
    enable_response_forward(model)
    with torch.no_grad(), torch.autocast(device_type, dtype=torch.bfloat16, enabled=autocast):
        with_persona, _ = pair_logprobs(model, batch, "with")
        without, _ = pair_logprobs(model, batch, "without")
    return with_persona, with_persona - without


def logit_bound(model, batch) -> float:
    """First-order bound on the PIR error from rounding the logits alone: 4 * 2**-8 * max|logit|."""
    with torch.no_grad():
        logits = model(input_ids=batch["with_input_ids"], attention_mask=batch["with_attention_mask"]).logits
    return 4 * 2.0**-8 * float(logits.abs().max())


def bf16_errors(model, batch, device_type: str = "cpu") -> list[dict]:
    """PIR errors of bf16 autocast and of bf16 weights against float32, on one paired batch on the model's device.

    Returns one row per mode: ``mode``, ``pir_range`` (max |PIR| in float32), ``logp_error_max``,
    ``pir_error_max``, ``pir_error_mean`` (over real response tokens) and ``bound`` (`logit_bound`).
    """
    mask = batch["response_mask"].bool()
    bound = logit_bound(model, batch)
    logp32, pir32 = pir(model, batch, autocast=False, device_type=device_type)
    rows = []
    for mode, candidate, autocast in (
        ("bf16 autocast", model, True),
        ("bf16 weights", copy.deepcopy(model).to(torch.bfloat16), False),
    ):
        logp16, pir16 = pir(candidate, batch, autocast=autocast, device_type=device_type)
        error = (pir16 - pir32)[mask].abs()
        rows.append(
            {
                "mode": mode,
                "pir_range": float(pir32[mask].abs().max()),
                "logp_error_max": float((logp16 - logp32)[mask].abs().max()),
                "pir_error_max": float(error.max()),
                "pir_error_mean": float(error.mean()),
                "bound": bound,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["smollm2-135m-instruct", "tiny-sharpened"])
    args = parser.parse_args()
    print(
        "| model | mode | PIR range (float32) | log-prob error, max | PIR error, max | PIR error, mean | bound |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for name in args.models:
        model, tokenizer = sharpened_tiny() if name == "tiny-sharpened" else load_model(name, seed=0)
        model.eval()
        dataset = encode_training_examples(make_examples(8), tokenizer, max_length=512)
        batch = PairedCollator(pad_id=pad_token_id(tokenizer))([dataset[i] for i in range(len(dataset))])
        for row in bf16_errors(model, batch):
            print(
                f"| {name} | {row['mode']} | ±{row['pir_range']:.1f} | {row['logp_error_max']:.3f} | "
                f"{row['pir_error_max']:.3f} | {row['pir_error_mean']:.3f} | {row['bound']:.2f} |"
            )


if __name__ == "__main__":
    main()
