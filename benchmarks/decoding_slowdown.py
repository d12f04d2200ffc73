"""Slowdown of persona-contrastive decoding against plain generation (`percontrast.generation.contrastive`).

Contrastive decoding runs the persona-free prompt alongside the with-persona one: one extra prefill
(of the shorter, persona-free prompt) and one extra single-token forward per step, each with its own KV
cache. The floor of the time ratio is therefore about 2 when the two prompts are equally long and the
per-step cost dominates, and lower when prefill dominates and the persona-free prompt is shorter.

Setting: smollm2-135m-instruct, the first ``--n`` held-out Synthetic-Persona-Chat next-reply examples
(`percontrast.data.persona_chat.next_reply_split`), one left-padded batch, greedy, exactly
``--new-tokens`` new tokens per row (EOS suppressed through ``min_new_tokens``, so both sides generate the
same number of tokens). Plain and contrastive (a = 1) runs alternate, round after round; the report
gives each round side by side and the medians. The last line is ``ratio=<median contrastive / median plain>``.

    nice python benchmarks/decoding_slowdown.py                 # 5 rounds
    nice python benchmarks/decoding_slowdown.py --rounds 7 --n 16 --new-tokens 64
"""

from __future__ import annotations

import argparse
import statistics
import time


def timed_generate(model, batch: dict, without: dict, config, contrast: bool) -> float:
    """Seconds of one ``model.generate`` over the left-padded ``batch``: plain, or persona-contrastive (a = 1)
    with the persona-free prompts ``without``; ``config`` must force ``min_new_tokens == max_new_tokens``."""
    import torch

    from percontrast.generation.contrastive import ContrastConfig, PersonaContrastProcessor

    processors = (
        [
            PersonaContrastProcessor(
                model, without["input_ids"], without["attention_mask"], ContrastConfig(1.0)
            )
        ]
        if contrast
        else None
    )
    if batch["input_ids"].is_cuda:
        torch.cuda.synchronize()
    started = time.perf_counter()
    with torch.no_grad():
        output = model.generate(**batch, generation_config=config, logits_processor=processors)
    if output.is_cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    assert output.shape[1] - batch["input_ids"].shape[1] == config.max_new_tokens
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--n", type=int, default=8, help="examples in the batch")
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: robust on a busy CPU)")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    from percontrast.data.persona_chat import TEMPLATE, next_reply_split
    from percontrast.generation.generate import SamplingConfig, left_pad, render_prompts
    from percontrast.modeling.load import load_model

    model, tokenizer = load_model("smollm2-135m-instruct")
    examples = next_reply_split()[1][: args.n]
    with_ids = render_prompts(examples, tokenizer, TEMPLATE, with_persona=True)
    without_ids = render_prompts(examples, tokenizer, TEMPLATE, with_persona=False)
    batch = left_pad(with_ids, tokenizer.pad_token_id)
    without = left_pad(without_ids, tokenizer.pad_token_id)
    config = SamplingConfig(max_new_tokens=args.new_tokens, greedy=True).hf_config(tokenizer)
    config.min_new_tokens = args.new_tokens

    def run(contrast: bool) -> float:
        return timed_generate(model, batch, without, config, contrast)

    print(
        f"batch {args.n}, prompt tokens with persona {batch['input_ids'].shape[1]} (padded), "
        f"persona-free {without['input_ids'].shape[1]} (padded), {args.new_tokens} new tokens, "
        f"{args.threads} threads"
    )
    run(False), run(True)  # warm-up
    plain, contrastive = [], []
    print(f"{'round':>5} {'plain s':>9} {'contrast s':>11} {'ratio':>6}")
    for index in range(args.rounds):
        plain.append(run(False))
        contrastive.append(run(True))
        print(f"{index:>5} {plain[-1]:>9.2f} {contrastive[-1]:>11.2f} {contrastive[-1] / plain[-1]:>6.2f}")
    ratio = statistics.median(contrastive) / statistics.median(plain)
    print(
        f"median plain {statistics.median(plain):.2f} s, median contrastive {statistics.median(contrastive):.2f} s"
    )
    print(f"ratio={ratio:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
