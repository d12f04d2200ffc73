"""Peak memory of one PerCE step as the response grows, with a Qwen-sized vocabulary (151,936).

The response-only log-probs (`percontrast.modeling.response_forward`) project at most ``chunk`` response positions to the
vocabulary at a time, so a step's extra memory should grow with the chunk, not with response x vocabulary.
This measures one PerCE step (grad forward with persona, no-grad PIR pass without, clip(PIR) weights,
weighted CE, backward) on a small Llama with a 151,936-token head, against the same step computed the
ordinary way (the model's full (B, T, V) logits, log_softmax, gather), for responses of 300, 1,000 and
3,000 tokens. Each measurement runs in a fresh process; memory is the growth of the peak resident set over
the step (Linux ``VmHWM`` after resetting it through ``/proc/self/clear_refs``).

    python benchmarks/memory_scaling.py [--lengths 300 1000 3000] [--chunk 512] [--plot memory.png]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

VOCAB = 151_936
PROMPT_WITH, PROMPT_WITHOUT = 100, 20


def _vm_hwm_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _vm_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def measure(method: str, response: int, chunk: int) -> dict[str, float]:
    """One PerCE step in this process; returns the peak RSS growth in MiB."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from percontrast.modeling.response_forward import enable_response_forward, pair_logprobs
    from percontrast.prompts.encoding import EncodedExample, pad_pairs
    from percontrast.training.losses import token_weights, weighted_ce

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config).train()
    enable_response_forward(model)
    ids = torch.randint(0, VOCAB, (PROMPT_WITH + response,)).tolist()
    encoded = EncodedExample(
        id="x",
        prompt_with_ids=ids[:PROMPT_WITH],
        prompt_without_ids=ids[:PROMPT_WITHOUT],
        response_ids=ids[PROMPT_WITH:],
        response_offsets=[(0, 0)] * response,
        prompt_with="",
        prompt_without="",
    )
    batch = pad_pairs([encoded], pad_id=0)

    def logprobs(prefix: str) -> torch.Tensor:
        if method == "chunked":
            return pair_logprobs(model, batch, prefix, chunk_size=chunk)[0]
        start = int(batch[f"{prefix}_response_start"][0])
        logits = model(
            input_ids=batch[f"{prefix}_input_ids"],
            attention_mask=batch[f"{prefix}_attention_mask"],
            position_ids=batch[f"{prefix}_position_ids"],
        ).logits  # (B, T, V)
        logp = torch.log_softmax(logits.float(), dim=-1)[:, start - 1 : start - 1 + response]
        return logp.gather(-1, batch["response_ids"][..., None]).squeeze(-1)

    Path("/proc/self/clear_refs").write_text("5")  # reset the peak RSS to the current RSS
    before = _vm_rss_mib()
    logp_with = logprobs("with")
    with torch.no_grad():
        logp_without = logprobs("without")
    weights, _ = token_weights(
        "perce", logp_with=logp_with.detach(), logp_without=logp_without, response_mask=batch["response_mask"]
    )
    loss = weighted_ce(logp_with, weights, batch["response_mask"], normalizer=float(response))
    loss.backward()
    return {"peak_growth_mib": _vm_hwm_mib() - before}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[300, 1000, 3000])
    parser.add_argument("--chunk", type=int, default=512)
    parser.add_argument("--plot", default=None, help="also write the curve as a PNG")
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)  # worker: METHOD LENGTH
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one[0], int(args.one[1]), args.chunk)))
        return
    rows = []
    for length in args.lengths:
        row = {"response": length}
        for method in ("chunked", "full_logits"):
            out = subprocess.run(
                [sys.executable, __file__, "--one", method, str(length), "--chunk", str(args.chunk)],
                capture_output=True,
                text=True,
                check=True,
            )
            row[method] = json.loads(out.stdout.strip().splitlines()[-1])["peak_growth_mib"]
        row["logits_fp32_mib"] = (PROMPT_WITH + length) * VOCAB * 4 / 2**20
        rows.append(row)
    print(f"vocab={VOCAB} chunk={args.chunk} prompt_with={PROMPT_WITH} prompt_without={PROMPT_WITHOUT}")
    print(
        f"{'response':>8} {'chunked MiB':>12} {'full logits MiB':>16} {'ratio':>6} {'(B,T,V) fp32 MiB':>17}"
    )
    for row in rows:
        ratio = row["full_logits"] / row["chunked"]
        print(
            f"{row['response']:>8} {row['chunked']:>12.0f} {row['full_logits']:>16.0f} {ratio:>6.1f} "
            f"{row['logits_fp32_mib']:>17.0f}"
        )
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure, axis = plt.subplots(figsize=(5, 3.4))
        lengths = [row["response"] for row in rows]
        axis.plot(lengths, [row["chunked"] for row in rows], "o-", label=f"response-only, chunk {args.chunk}")
        axis.plot(lengths, [row["full_logits"] for row in rows], "s--", label="full (B, T, V) logits")
        axis.set_xlabel("response tokens")
        axis.set_ylabel("peak memory growth of one step (MiB)")
        axis.set_title(f"PerCE step, vocabulary {VOCAB:,}")
        axis.legend()
        figure.tight_layout()
        figure.savefig(args.plot, dpi=120)
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
