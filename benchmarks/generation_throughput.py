"""Generation throughput (new tokens/s) and judge throughput (judgements/s), side by side in one run.

    python benchmarks/generation_throughput.py --model smollm2-135m-instruct --n 16 --max-new-tokens 64

Generation: `generate_predictions` on the bundled demo examples (sampling, the paper's temperature),
batched, against a loop of batch size 1. Judge: probability-weighted personalization judgements
(one forward each) of the same answers, batched.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from importlib import resources
from pathlib import Path

import torch

from percontrast.data.schema import read_examples
from percontrast.evaluation.judge import Judge, judge_prompt
from percontrast.generation.config import DecodingConfig, SamplingConfig
from percontrast.generation.generate import generate_predictions
from percontrast.modeling.chat import TransformersChat
from percontrast.modeling.load import load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--n", type=int, default=16, help="examples")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model, tokenizer = load_model(args.model)
    data = resources.files("percontrast") / "resources" / "demo_examples.jsonl"
    examples = read_examples(str(data))
    examples = (examples * (args.n // len(examples) + 1))[: args.n]
    examples = [type(e)(**{**e.__dict__, "id": f"{e.id}_{i}"}) for i, e in enumerate(examples)]
    results = {
        "model": args.model,
        "n": args.n,
        "max_new_tokens": args.max_new_tokens,
        "threads": torch.get_num_threads(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for batch_size in (args.batch_size, 1):
            config = DecodingConfig(
                sampling=SamplingConfig(max_new_tokens=args.max_new_tokens), batch_size=batch_size
            )
            stats = generate_predictions(
                model, tokenizer, examples, Path(tmp) / f"b{batch_size}.jsonl", config, progress=False
            )
            results[f"generation_batch{batch_size}_tokens_per_s"] = round(stats.tokens_per_second, 1)
            results[f"generation_batch{batch_size}_new_tokens"] = stats.new_tokens
        predictions = [
            json.loads(line)["prediction"]
            for line in (Path(tmp) / f"b{args.batch_size}.jsonl").read_text().splitlines()
        ]
    judge = Judge(TransformersChat(model, tokenizer, batch_size=args.batch_size))
    conversations = [
        judge_prompt("personalization", e.query, p, e.response)
        for e, p in zip(examples, predictions, strict=True)
    ]
    started = time.perf_counter()
    judge.score(conversations)
    results["judge_judgements_per_s"] = round(len(conversations) / (time.perf_counter() - started), 2)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
