"""Persona-contrastive decoding swept against training on the Synthetic-Persona-Chat next-reply task.

Task: the demo's split (`percontrast.data.persona_chat.next_reply_split`, held-out personas): ``--n``
test examples drawn with a fixed seed, the next reply of a test-persona speaker. Models:
smollm2-135m-instruct untrained, and fine-tuned briefly with CE and with PerCE (same seed, data order,
steps and learning rate; ``train``). For each model, each contrast ``a`` and each decoding (greedy, and
``--samples`` seeds at temperature 0.4, the paper's), the replies are generated with
`percontrast.generation.contrastive` and measured:

- ROUGE-L and METEOR against the reference reply (`percontrast.evaluation.metrics`);
- the mean PIR of the generated tokens, scored by PerContrast with the *untrained* model for every
  model (one ruler: how much the reply depends on the persona);
- persona words: the share of the reply's content words (lower-cased alphabetic words, function words
  removed) found among the persona's content words;
- fluency: the perplexity of the reply under the untrained model, given the with-persona prompt it was
  generated for (token-weighted over the cell).

The two prompt caches of each model are computed once and copied into every cell (and once per
example for scoring), which is what makes the sweep fit on a few shared CPU cores.

Stages (resumable; models and generations go under ``--work``, the table and plot under ``--out``):

    nice python benchmarks/contrast_sweep.py train    --work /tmp/sweep   # CE and PerCE fine-tuning
    nice python benchmarks/contrast_sweep.py generate --work /tmp/sweep   # every (model, decoding, a)
    nice python benchmarks/contrast_sweep.py score    --work /tmp/sweep   # metrics of every cell
    python benchmarks/contrast_sweep.py report --work /tmp/sweep --out benchmarks/results/contrast_sweep
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import re
from pathlib import Path

logger = logging.getLogger("contrast_sweep")

MODEL = "smollm2-135m-instruct"
TEMPLATE = "persona_dialogue_chat"
CONTRASTS = (0.0, 0.5, 1.0, 2.0, 4.0)


def test_examples(n: int, seed: int = 0):
    """``n`` held-out examples drawn with a fixed seed from the next-reply test split."""
    from percontrast.data.persona_chat import next_reply_split

    _, test, _ = next_reply_split()
    rng = random.Random(seed)
    return sorted(rng.sample(test, n), key=lambda example: example.id)


def train_stage(args: argparse.Namespace) -> None:
    from percontrast.data.persona_chat import next_reply_split
    from percontrast.modeling.load import load_model
    from percontrast.training.config import PerCEConfig
    from percontrast.training.trainer import train

    train_examples, _, counts = next_reply_split()
    logger.info("split: %s", counts)
    for loss in ("ce", "perce"):
        out_dir = Path(args.work) / "models" / loss
        if (out_dir / "model.safetensors").exists():
            logger.info("%s model already trained in %s", loss, out_dir)
            continue
        config = PerCEConfig(
            output_dir=str(out_dir),
            model=MODEL,
            loss=loss,
            template=TEMPLATE,
            max_length=256,
            per_device_train_batch_size=args.batch_size,
            max_steps=args.steps,
            learning_rate=args.lr,
            lr_scheduler_type="constant",
            warmup_steps=0,
            seed=0,
            data_seed=0,
            logging_steps=10,
            save_strategy="no",
            report_to="none",
            probe_steps=0,
            use_cpu=True,
        )
        model, tokenizer = load_model(MODEL)
        run = train(config, model=model, tokenizer=tokenizer, examples=train_examples)
        tokenizer.save_pretrained(out_dir)
        history = [entry for entry in run.trainer.state.log_history if "loss" in entry]
        (out_dir / "loss_history.json").write_text(json.dumps(history, indent=1))
        logger.info("%s: trained %d steps -> %s", loss, args.steps, out_dir)


def decodings(args: argparse.Namespace) -> list[tuple[str, bool, int]]:
    """``(name, greedy, seed)`` of each decoding: greedy, then ``--samples`` seeded samples."""
    every = [("greedy", True, 0)] + [(f"seed{seed}", False, seed) for seed in range(1, args.samples + 1)]
    return [item for item in every if args.only is None or item[0] == args.only]


def model_names(args: argparse.Namespace) -> list[str]:
    trained = [
        loss for loss in ("ce", "perce") if (Path(args.work) / "models" / loss / "model.safetensors").exists()
    ]
    return ["untrained"] + trained


def generation_path(args: argparse.Namespace, model: str, decoding: str, contrast: float) -> Path:
    return Path(args.work) / "gen" / model / f"{decoding}_a{contrast:g}.jsonl"


def prefill(model, inputs: dict):
    """A KV cache of ``inputs["input_ids"][:, :-1]`` (left-padded; positions over real tokens)."""
    import torch
    from transformers.cache_utils import DynamicCache

    from percontrast.generation.contrastive import CACHE_ARG

    mask = inputs["attention_mask"][:, :-1]
    cache = DynamicCache(config=model.config)
    with torch.no_grad():
        model(
            input_ids=inputs["input_ids"][:, :-1],
            attention_mask=mask,
            position_ids=(mask.cumsum(-1) - 1).clamp(min=0),
            use_cache=True,
            **{CACHE_ARG: cache},
        )
    return cache


def generate_stage(args: argparse.Namespace) -> None:
    """Every (model, decoding, a) cell; each model's two prompt caches are computed once and copied.

    A cell is one ``generate`` call over all examples (one left-padded batch, seeded with the decoding's
    seed), with `PersonaContrastProcessor` when a > 0: the same as `generate_predictions` with
    ``batch_size = n`` up to the rounding of a prefill split in two (tests/test_decoding.py checks the
    prefilled path against fresh caches).
    """
    import copy
    import time

    import torch

    from percontrast.generation.contrastive import CACHE_ARG, ContrastConfig, PersonaContrastProcessor
    from percontrast.generation.generate import SamplingConfig, left_pad, render_prompts
    from percontrast.modeling.load import load_model

    examples = test_examples(args.n)
    for model_name in model_names(args):
        cells = [
            (decoding, greedy, seed, contrast)
            for decoding, greedy, seed in decodings(args)
            for contrast in args.contrasts
            if not generation_path(args, model_name, decoding, contrast).exists()
        ]
        if not cells:
            continue
        spec = MODEL if model_name == "untrained" else str(Path(args.work) / "models" / model_name)
        model, tokenizer = load_model(spec)
        batch = left_pad(render_prompts(examples, tokenizer, TEMPLATE, True), tokenizer.pad_token_id)
        without = left_pad(render_prompts(examples, tokenizer, TEMPLATE, False), tokenizer.pad_token_id)
        started = time.perf_counter()
        with_cache, without_cache = prefill(model, batch), prefill(model, without)
        logger.info("%s: prompts prefilled in %.0f s", model_name, time.perf_counter() - started)
        for decoding, greedy, seed, contrast in cells:
            sampling = SamplingConfig(
                max_new_tokens=args.max_new_tokens, temperature=0.4, greedy=greedy, seed=seed
            )
            config = ContrastConfig(contrast, args.plausibility if contrast else None)
            processors = None
            if config.active:
                processor = PersonaContrastProcessor(
                    model,
                    without["input_ids"],
                    without["attention_mask"],
                    config,
                    copy.deepcopy(without_cache),
                )
                processors = [processor]
            started = time.perf_counter()
            torch.manual_seed(seed)
            with torch.no_grad():
                output = model.generate(
                    **batch,
                    **{CACHE_ARG: copy.deepcopy(with_cache)},
                    generation_config=sampling.hf_config(tokenizer),
                    logits_processor=processors,
                )
            records = []
            for example, row in zip(examples, output[:, batch["input_ids"].shape[1] :].tolist(), strict=True):
                if tokenizer.eos_token_id in row:
                    row = row[: row.index(tokenizer.eos_token_id) + 1]
                text = tokenizer.decode(row, skip_special_tokens=True)
                records.append({"id": example.id, "prediction": text, "reference": example.response})
            out = generation_path(args, model_name, decoding, contrast)
            out.parent.mkdir(parents=True, exist_ok=True)
            partial = out.with_suffix(".partial")
            partial.write_text("".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records))
            partial.rename(out)
            logger.info("%s %s a=%g: %.0f s", model_name, decoding, contrast, time.perf_counter() - started)


# Function words left out of the persona-overlap measure (English; a fixed list, no download).
STOP_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing don down during each few for from further had has have
    having he her here hers herself him himself his how i if in into is it its itself just like me more most
    my myself no nor not now of off on once only or other our ours ourselves out over own really same she
    should so some such than that the their theirs them themselves then there these they this those through
    to too under until up very was we were what when where which while who whom why will with would you your
    yours yourself yourselves im ive id ill youre dont didnt cant its thats s t m re ve ll d oh yeah yes hey
    hi hello well also get got go going lot much one something thing things think know want really sure""".split()
)


def content_words(text: str) -> list[str]:
    """Lower-cased alphabetic words (apostrophes dropped) that are not function words."""
    words = re.findall(r"[a-z]+", text.lower().replace("'", "").replace("\u2019", ""))
    return [word for word in words if word not in STOP_WORDS and len(word) > 1]


def reply_logprobs(model, prompts: dict, caches: tuple, replies: list[list[int]], pad_id: int) -> list:
    """Log-probs (R_i,) of reply i after prompt i (left-padded batch ``prompts``, cached but its last token).

    Each row reads its last prompt token, then its reply (right-padded): logits at position j score
    reply token j. ``caches`` holds the prompt caches; a deep copy is used.
    """
    import copy

    import torch
    import torch.nn.functional as F

    from percontrast.generation.contrastive import CACHE_ARG

    cache = copy.deepcopy(caches)
    width = 1 + max(1, max(len(reply) for reply in replies))
    input_ids = torch.full((len(replies), width), pad_id, dtype=torch.long)
    reply_mask = torch.zeros((len(replies), width), dtype=torch.long)
    for row, reply in enumerate(replies):
        input_ids[row, : 1 + len(reply)] = torch.tensor([int(prompts["input_ids"][row, -1]), *reply])
        reply_mask[row, : 1 + len(reply)] = 1
    prompt_mask = prompts["attention_mask"]
    mask = torch.cat([prompt_mask[:, :-1], reply_mask], dim=1)
    positions = (prompt_mask.sum(-1, keepdim=True) - 1) + torch.arange(width)  # (B, width)
    with torch.no_grad():
        logits = model(
            input_ids=input_ids, attention_mask=mask, position_ids=positions, **{CACHE_ARG: cache}
        ).logits
    logp = F.log_softmax(logits.float(), dim=-1)  # (B, width, V)
    return [
        logp[row, torch.arange(len(reply)), torch.tensor(reply, dtype=torch.long)]
        for row, reply in enumerate(replies)
    ]


def score_stage(args: argparse.Namespace) -> None:
    """Lexical metrics, PIR and perplexity under the untrained model of every generation file.

    The ruler's two prompt caches are computed once; each cell then costs one pass over its replies per
    prompt (`reply_logprobs`). The stage polls for cells until all are scored (run it beside
    ``generate``); the first reply is checked against `percontrast.scoring.pir.score_examples`.
    """
    import time

    import torch

    from percontrast.data.schema import Example, iter_jsonl
    from percontrast.evaluation.metrics import lexical_metrics
    from percontrast.generation.generate import left_pad, render_prompts
    from percontrast.modeling.load import load_model
    from percontrast.prompts.encoding import tokenize_response
    from percontrast.prompts.registry import get_template
    from percontrast.scoring.config import ScoreConfig
    from percontrast.scoring.pir import score_examples

    examples = test_examples(args.n)
    ruler, tokenizer = load_model(MODEL)
    template, pad_id = get_template(TEMPLATE), tokenizer.pad_token_id
    batch = left_pad(render_prompts(examples, tokenizer, TEMPLATE, True), pad_id)
    without = left_pad(render_prompts(examples, tokenizer, TEMPLATE, False), pad_id)
    with_cache, without_cache = prefill(ruler, batch), prefill(ruler, without)
    logger.info("ruler prompts prefilled")
    expected = len(model_names(args)) * len(decodings(args)) * len(args.contrasts)
    checked = False
    while True:
        paths = sorted((Path(args.work) / "gen").glob("*/*.jsonl"))
        todo = [
            p for p in paths if not (Path(args.work) / "metrics" / p.parent.name / f"{p.stem}.json").exists()
        ]
        if not todo:
            if len(paths) >= expected:
                return
            time.sleep(30)
            continue
        path = todo[-1] if args.reverse else todo[0]
        by_id = {record["id"]: record for _, record in iter_jsonl(path)}
        records = [by_id[example.id] for example in examples]
        predictions = [record["prediction"].strip() for record in records]
        replies = [
            tokenize_response(tokenizer, text, template, add_eos=False)[0] if text else []
            for text in predictions
        ]
        logp_with = reply_logprobs(ruler, batch, with_cache, replies, pad_id)
        logp_without = reply_logprobs(ruler, without, without_cache, replies, pad_id)
        if not checked:  # the cached pass equals PerContrast's own scoring
            row = next(i for i, text in enumerate(predictions) if text)
            item = Example(
                id="check",
                persona=examples[row].persona,
                query=examples[row].query,
                response=predictions[row],
                template=TEMPLATE,
            )
            reference = score_examples(
                ruler, tokenizer, [item], ScoreConfig(template=TEMPLATE), progress=False
            )[0]
            assert torch.allclose(logp_with[row], torch.tensor(reference.logp_with), atol=2e-3), "logp_with"
            assert torch.allclose(logp_with[row] - logp_without[row], torch.tensor(reference.pir), atol=2e-3)
            checked = True
        kept = [i for i, text in enumerate(predictions) if text]
        pir = torch.cat([logp_with[i] - logp_without[i] for i in kept])
        nll = -torch.cat([logp_with[i] for i in kept])
        lexical = lexical_metrics(
            predictions, [record["reference"] for record in records], ("rougeL", "meteor")
        )
        overlaps, no_content = [], 0
        for example, text in zip(examples, predictions, strict=True):
            persona_words = set(content_words(" ".join(example.persona)))
            words = content_words(text)
            if words:
                overlaps.append(sum(word in persona_words for word in words) / len(words))
            else:
                no_content += 1
        decoding, contrast = path.stem.rsplit("_a", 1)
        result = {
            "model": path.parent.name,
            "decoding": decoding,
            "contrast": float(contrast),
            "rougeL": lexical["rougeL"],
            "meteor": lexical["meteor"],
            "n": len(records),
            "empty_predictions": len(records) - len(kept),
            "pir": float(pir.mean()),
            "ppl": float(torch.exp(nll.mean())),
            "persona_overlap": sum(overlaps) / len(overlaps),
            "no_content_words": no_content,
            "tokens_per_reply": len(pir) / len(kept),
        }
        out = Path(args.work) / "metrics" / path.parent.name / f"{path.stem}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1))
        logger.info("%s: %s", path, {k: round(v, 4) for k, v in result.items() if isinstance(v, float)})


METRICS = (  # (key, label, format)
    ("rougeL", "ROUGE-L", "{:.3f}"),
    ("meteor", "METEOR", "{:.3f}"),
    ("pir", "mean PIR", "{:.2f}"),
    ("persona_overlap", "persona words", "{:.3f}"),
    ("ppl", "PPL (untrained)", "{:.1f}"),
)


def report_stage(args: argparse.Namespace) -> None:
    """The table (greedy, and mean +- sd over the sampled seeds) and one plot per metric against a."""
    import statistics

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = [
        json.loads(path.read_text()) for path in sorted((Path(args.work) / "metrics").glob("*/*.json"))
    ]
    if not results:
        raise SystemExit(f"no metrics under {args.work}/metrics: run the score stage first")
    models = [name for name in ("untrained", "ce", "perce") if any(r["model"] == name for r in results)]
    contrasts = sorted({r["contrast"] for r in results})

    def cell(model: str, contrast: float, key: str) -> tuple[float | None, list[float]]:
        rows = [r for r in results if r["model"] == model and r["contrast"] == contrast]
        greedy = next((r[key] for r in rows if r["decoding"] == "greedy"), None)
        return greedy, [r[key] for r in rows if r["decoding"] != "greedy"]

    seeds = sorted({r["decoding"] for r in results if r["decoding"] != "greedy"})
    lines = [
        f"Each cell: greedy | mean ± sd over {len(seeds)} sampled seeds (temperature 0.4). "
        f"{results[0]['n']} held-out examples, {args.max_new_tokens} new tokens at most.",
        "",
        "| model | a | " + " | ".join(label for _, label, _ in METRICS) + " | empty |",
        "|---|---|" + "---|" * (len(METRICS) + 1),
    ]
    for model in models:
        for contrast in contrasts:
            parts = []
            for key, _, fmt in METRICS:
                greedy, sampled = cell(model, contrast, key)
                text = fmt.format(greedy) if greedy is not None else "-"
                if sampled:
                    spread = statistics.stdev(sampled) if len(sampled) > 1 else 0.0
                    text += f" \\| {fmt.format(statistics.mean(sampled))} ± {fmt.format(spread)}"
                parts.append(text)
            greedy_empty, sampled_empty = cell(model, contrast, "empty_predictions")
            parts.append(f"{greedy_empty} \\| {sum(sampled_empty)}")
            lines.append(f"| {model} | {contrast:g} | " + " | ".join(parts) + " |")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "sweep.md").write_text("\n".join(lines) + "\n")
    (out / "sweep.json").write_text(json.dumps(results, indent=1))
    figure, axes = plt.subplots(1, len(METRICS), figsize=(4 * len(METRICS), 3.6))
    for axis, (key, label, _) in zip(axes, METRICS, strict=True):
        for index, model in enumerate(models):
            color = f"C{index}"
            greedy = [(c, cell(model, c, key)[0]) for c in contrasts if cell(model, c, key)[0] is not None]
            sampled = [(c, cell(model, c, key)[1]) for c in contrasts if cell(model, c, key)[1]]
            if sampled:
                xs = [c for c, _ in sampled]
                means = [statistics.mean(values) for _, values in sampled]
                low = [m - min(values) for m, (_, values) in zip(means, sampled, strict=True)]
                high = [max(values) - m for m, (_, values) in zip(means, sampled, strict=True)]
                axis.errorbar(
                    xs,
                    means,
                    yerr=[low, high],
                    color=color,
                    marker="o",
                    capsize=3,
                    label=f"{model} sampled (min-max)",
                )
            if greedy:
                axis.plot(
                    [c for c, _ in greedy],
                    [v for _, v in greedy],
                    color=color,
                    linestyle="--",
                    marker="x",
                    label=f"{model} greedy",
                )
        axis.set_xlabel("contrast a")
        axis.set_title(label)
        if key == "ppl":
            axis.set_yscale("log")
    axes[0].legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(out / "sweep.png", dpi=110)
    print("\n".join(lines))
    print(f"wrote {out / 'sweep.md'}, {out / 'sweep.json'}, {out / 'sweep.png'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("stage", choices=["train", "generate", "score", "report"])
    parser.add_argument("--work", required=True, help="folder for models and generations")
    parser.add_argument("--out", default="benchmarks/results/contrast_sweep", help="tables and plots")
    parser.add_argument("--steps", type=int, default=60, help="fine-tuning steps (train)")
    parser.add_argument("--batch-size", type=int, default=4, help="fine-tuning batch size (train)")
    parser.add_argument("--lr", type=float, default=2e-5, help="fine-tuning learning rate (train)")
    parser.add_argument("--n", type=int, default=12, help="held-out examples")
    parser.add_argument("--samples", type=int, default=2, help="sampled seeds besides greedy (run)")
    parser.add_argument("--max-new-tokens", type=int, default=24, help="new tokens per reply")
    parser.add_argument("--gen-batch-size", type=int, default=20, help="(run)")
    parser.add_argument("--contrasts", type=float, nargs="+", default=list(CONTRASTS), help="(run)")
    parser.add_argument("--plausibility", type=float, default=None, help="b for a > 0 (run)")
    parser.add_argument(
        "--only",
        default=None,
        help="generate: only this decoding (greedy, seed1, ...), to run them in parallel",
    )
    parser.add_argument(
        "--reverse", action="store_true", help="score: take cells from the end (a 2nd scorer)"
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (2 were 4.7x slower on a busy CPU)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    import torch

    torch.set_num_threads(args.threads)
    {"train": train_stage, "generate": generate_stage, "score": score_stage, "report": report_stage}[
        args.stage
    ](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
