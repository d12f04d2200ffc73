"""Figure 1, quantified (issue 21, section 2): where the PIR mass sits, by kind of token, on three tasks.

Scores (`percontrast.scoring.pir.score_examples`, smollm2-135m-instruct by default) of:
- SPC next replies: a seeded sample of the bundled SPC test-split conversations (history 4);
- annotated answers: the 120 items of the bundled persona_tokens/dev.jsonl;
- LongLaMP fixtures: the three LongLaMP-format fixtures under tests/fixtures/longlamp (BM25, k = 4);
then `percontrast kinds` on the three scores files (table, JSON, plot).

    python benchmarks/token_kinds.py --out benchmarks/results/token_kinds [--spc 150] [--model smollm2-135m-instruct]
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LONGLAMP = {
    "abstract_generation": "abstract_generation_user_val.jsonl",
    "product_review": "product_review_user_val.json",
    "topic_writing": "topic_writing_user_val.jsonl",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/token_kinds")
    parser.add_argument("--spc", type=int, default=150, help="SPC next replies sampled (seed 0)")
    parser.add_argument("--model", default="smollm2-135m-instruct")
    args = parser.parse_args()

    from percontrast.cli import main as cli
    from percontrast.data.build import build_benchmark
    from percontrast.data.config import DataConfig
    from percontrast.data.persona_chat import next_reply_files
    from percontrast.data.persona_qa import read_persona_qa
    from percontrast.data.schema import write_jsonl
    from percontrast.modeling.load import load_model
    from percontrast.scoring.pir import score_examples
    from percontrast.utils.bundled import PERSONA_TOKENS_DEV, SPC_TEST_CONVERSATIONS, SPC_VALID_CONVERSATIONS

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model, tokenizer = load_model(args.model)
    model.eval()
    _, test, _ = next_reply_files(SPC_VALID_CONVERSATIONS, SPC_TEST_CONVERSATIONS, history=4)
    longlamp = []
    for task, name in LONGLAMP.items():
        path = ROOT / "tests" / "fixtures" / "longlamp" / name
        config = DataConfig("longlamp", task, str(path), retriever="bm25", k=4)
        longlamp += build_benchmark(config, tokenizer)[0]
    tasks = {
        "SPC next replies": random.Random(0).sample(test, args.spc),
        "annotated answers": read_persona_qa(PERSONA_TOKENS_DEV),
        "LongLaMP fixtures": longlamp,
    }
    flags = []
    for name, examples in tasks.items():
        path = out / f"{name.split()[0].lower()}_scores.jsonl"
        write_jsonl(path, score_examples(model, tokenizer, examples))
        flags += ["--scores", f"{name}={path}"]
    return cli(["kinds", *flags, "--out", str(out / "kinds.json"), "--plot", str(out / "kinds.png")])


if __name__ == "__main__":
    raise SystemExit(main())
