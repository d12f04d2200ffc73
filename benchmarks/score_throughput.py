"""Throughput of `score_examples` against two bare batched forwards, and against a plain loop.

Two yardsticks, measured side by side on the same examples:

- **bare forwards** (the target, ARCHITECTURE.md): the decoder alone (hidden states, no output head)
  over exactly the padded batches `score_examples` builds (same length buckets, with- and
  without-persona sequences). ``score_examples`` pays for the head at response positions, the
  log-softmax and the bookkeeping on top; ``bare_ratio`` is its throughput over the bare forwards'
  (target >= 0.9).
- **plain loop**:
what one would write first: for each example, ``model(prompt + response).logits`` with and
  without persona, ``log_softmax`` over the full vocabulary at every position, then gather. Both
  compute the same numbers (checked here too). ``throughput_ratio`` is ours over the loop's.

Same examples (the 120 persona QA items of the bundled persona_tokens/dev.jsonl, or --data), same
model (smollm2-135m-instruct by default), run interleaved, several repeats; medians of the per-repeat
ratios are reported.

    python benchmarks/score_throughput.py [--repeats 3] [--model smollm2-135m-instruct]

The last lines are ``bare_ratio=<x>`` and ``throughput_ratio=<y>``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from percontrast.data.persona_qa import read_persona_qa
from percontrast.data.schema import Example
from percontrast.modeling.load import load_model
from percontrast.modeling.response_forward import unwrap_model
from percontrast.prompts.encoding import encode_example, pad_sequences
from percontrast.scoring.config import ScoreConfig
from percontrast.scoring.pir import length_buckets, pad_token_id, score_examples
from percontrast.utils.bundled import PERSONA_TOKENS_DEV

DEFAULT_DATA = PERSONA_TOKENS_DEV


@torch.no_grad()
def baseline(model, tokenizer, examples: list[Example]) -> list[list[float]]:
    """Two unbatched forwards with full logits per example; returns the PIR of each token."""
    results = []
    for example in examples:
        encoded = encode_example(example, tokenizer)
        logps = []
        for prompt in (encoded.prompt_with_ids, encoded.prompt_without_ids):
            ids = torch.tensor([prompt + encoded.response_ids])
            logprobs = torch.log_softmax(model(ids).logits[0].float(), dim=-1)  # (T, V)
            positions = torch.arange(len(prompt) - 1, ids.shape[1] - 1)
            logps.append(logprobs[positions, torch.tensor(encoded.response_ids)])
        results.append((logps[0] - logps[1]).tolist())
    return results


@torch.no_grad()
def bare_forwards(model, tokenizer, examples: list[Example], batch_size: int, max_batch_tokens: int) -> None:
    """The decoder alone (no head) over the padded batches `score_examples` builds for ``examples``."""
    encoded = [encode_example(example, tokenizer) for example in examples]
    prompts = [prompt for item in encoded for prompt in (item.prompt_with_ids, item.prompt_without_ids)]
    responses = [item.response_ids for item in encoded for _ in range(2)]
    bare_unit_forwards(model, prompts, responses, pad_token_id(tokenizer), batch_size, max_batch_tokens)


@torch.no_grad()
def bare_unit_forwards(
    model,
    prompts: list[list[int]],
    responses: list[list[int]],
    pad_id: int,
    batch_size: int,
    max_batch_tokens: int,
) -> None:
    """The decoder alone over the padded batches `score_units` builds for these ``prompt + response`` units."""
    lengths = [len(prompt) + len(response) for prompt, response in zip(prompts, responses, strict=True)]
    decoder = unwrap_model(model).get_decoder()
    device = next(model.parameters()).device
    for bucket in length_buckets(lengths, batch_size, max_batch_tokens):
        batch = pad_sequences([prompts[u] for u in bucket], [responses[u] for u in bucket], pad_id)
        decoder(
            input_ids=batch["input_ids"].to(device),
            attention_mask=batch["attention_mask"].to(device),
            position_ids=batch["position_ids"].to(device),
            use_cache=False,
        )


@torch.no_grad()
def forward_ceiling(model, length: int = 130, batch: int = 16, repeats: int = 3) -> float:
    """How much faster one batched forward is than unbatched ones on this machine (same tokens).

    This bounds what batching alone can give here: on a few CPU cores an unbatched forward of ~100
    tokens already keeps the matrix units busy, while on a GPU it is latency-bound.
    """
    ids = torch.randint(100, 40000, (batch, length), generator=torch.Generator().manual_seed(0))
    model(ids[:1], logits_to_keep=1)
    single, batched = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        for row in range(batch):
            model(ids[row : row + 1], logits_to_keep=1)
        single.append(time.perf_counter() - start)
        start = time.perf_counter()
        model(ids, logits_to_keep=1)
        batched.append(time.perf_counter() - start)
    return statistics.median(single) / statistics.median(batched)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-batch-tokens", type=int, default=4096)
    args = parser.parse_args()
    torch.manual_seed(0)
    model, tokenizer = load_model(args.model)
    examples = read_persona_qa(args.data)
    n_tokens = sum(len(encode_example(e, tokenizer).response_ids) for e in examples)
    print(
        f"model={args.model} examples={len(examples)} response_tokens={n_tokens} threads={torch.get_num_threads()}"
    )
    # Warm-up and a correctness check: both paths give the same PIR.
    warm = score_examples(model, tokenizer, examples[:8], progress=False)
    reference = baseline(model, tokenizer, examples[:8])
    worst = max(
        abs(a - b)
        for item, ref in zip(warm, reference, strict=True)
        for a, b in zip(item.pir, ref, strict=True)
    )
    print(f"max |PIR difference| batched vs baseline on 8 examples: {worst:.2e}")
    ratios, bare_ratios = [], []
    for repeat in range(args.repeats):
        start = time.perf_counter()
        config = ScoreConfig(batch_size=args.batch_size, max_batch_tokens=args.max_batch_tokens)
        score_examples(model, tokenizer, examples, config, progress=False)
        ours = time.perf_counter() - start
        start = time.perf_counter()
        bare_forwards(model, tokenizer, examples, args.batch_size, args.max_batch_tokens)
        bare = time.perf_counter() - start
        start = time.perf_counter()
        baseline(model, tokenizer, examples)
        plain = time.perf_counter() - start
        ratios.append(plain / ours)
        bare_ratios.append(bare / ours)
        print(
            f"repeat {repeat}: score_examples {n_tokens / ours:8.1f} tok/s   bare forwards {n_tokens / bare:8.1f} tok/s"
            f"   plain loop {n_tokens / plain:8.1f} tok/s   bare_ratio {bare / ours:.2f}   ratio {plain / ours:.2f}",
            flush=True,
        )
    print(f"median over {args.repeats} repeats")
    print(
        f"context: one forward of 16 x 130 tokens vs 16 forwards of 1 x 130: {forward_ceiling(model):.2f}x faster here"
    )
    print(f"bare_ratio={statistics.median(bare_ratios):.2f}")
    print(f"throughput_ratio={statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
