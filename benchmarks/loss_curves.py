"""Loss curves of a short CE run and a short PerCE run on smollm2-135m-instruct.

Training examples come from the persona_tokens set (persona -> persona, question -> query,
answer -> response). Both runs use the same seed, data order and hyper-parameters; only the loss
differs. For each logging step the table shows each run's optimised loss (PerCE: the weighted CE,
``sum w_i NLL_i / n``), its plain unweighted response NLL (``nll_mean``, comparable across losses),
and PerCE's mean weight, shares clipped at m and M, and mean PIR. The numbers go to
``OUT/loss_curves.json`` and, when matplotlib is installed, ``OUT/loss_curves.png``.

    python benchmarks/loss_curves.py --data the bundled persona_tokens/dev.jsonl --steps 20
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import torch

from percontrast.data.persona_qa import read_persona_qa
from percontrast.data.schema import Example
from percontrast.modeling.load import load_model
from percontrast.training.config import PerCEConfig
from percontrast.training.trainer import train
from percontrast.utils.bundled import PERSONA_TOKENS_DEV


def run(loss: str, examples: list[Example], args: argparse.Namespace) -> list[dict]:
    model, tokenizer = load_model(args.model)
    config = PerCEConfig(
        output_dir=str(Path(args.out) / loss),
        loss=loss,
        max_steps=args.steps,
        per_device_train_batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        lr_scheduler_type="constant",
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        seed=0,
        probe_steps=args.steps,
        disable_tqdm=True,
    )
    trainer_run = train(config, model=model, tokenizer=tokenizer, examples=examples)
    return [entry for entry in trainer_run.trainer.state.log_history if "loss" in entry]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data",
        default=str(PERSONA_TOKENS_DEV),
    )
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="runs/loss_curves")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    examples = read_persona_qa(args.data)
    logs = {loss: run(loss, examples, args) for loss in ("ce", "perce")}
    print(
        f"{len(examples)} examples, batch {args.batch_size}, lr {args.learning_rate} constant, AdamW, seed 0"
    )
    print("step | CE loss | PerCE loss (weighted) | PerCE nll_mean | w mean | at m | at M | PIR mean")
    for ce, perce in zip(logs["ce"], logs["perce"], strict=True):
        print(
            f"{ce['step']:4d} | {ce['loss']:7.4f} | {perce['loss']:21.4f} | {perce['nll_mean']:14.4f} | "
            f"{perce['weight_mean']:6.3f} | {perce['clipped_low']:4.2f} | {perce['clipped_high']:4.2f} | {perce['pir_mean']:8.4f}"
        )
    for loss in logs:
        probes = [entry["probe_top_tokens"] for entry in logs[loss] if "probe_top_tokens" in entry]
        if probes:
            print(f"{loss} probe, top personal tokens at the last step: {probes[-1]}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "loss_curves.json").write_text(json.dumps(logs, indent=1) + "\n")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"matplotlib not installed: numbers in {out / 'loss_curves.json'}, no plot")
        return
    figure, axis = plt.subplots(figsize=(6, 4))
    axis.plot([e["step"] for e in logs["ce"]], [e["loss"] for e in logs["ce"]], label="CE")
    axis.plot(
        [e["step"] for e in logs["perce"]], [e["loss"] for e in logs["perce"]], label="PerCE (weighted)"
    )
    axis.plot(
        [e["step"] for e in logs["perce"]],
        [e["nll_mean"] for e in logs["perce"]],
        "--",
        label="PerCE run, plain NLL",
    )
    axis.set_xlabel("step")
    axis.set_ylabel("loss")
    axis.legend()
    figure.savefig(out / "loss_curves.png", dpi=120, bbox_inches="tight")
    print(f"plot: {out / 'loss_curves.png'}")


if __name__ == "__main__":
    main()
