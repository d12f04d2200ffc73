"""PerContrast identification on the bundled dev set for every prompt variant in docs/identification.md.

Each variant is a different reading of "remove the persona" (Eq. 2's intervention); the table in
docs/identification.md was produced with this script on 2 (shared) CPU cores.

    PYTHONPATH=src python benchmarks/identification_variants.py [VARIANT ...] [--model smollm2-135m-instruct]
"""

from __future__ import annotations

import argparse
import time

from percontrast.data.persona_qa import read_persona_qa
from percontrast.identification import run_identification
from percontrast.identification.config import IdentifyConfig
from percontrast.modeling.load import load_model
from percontrast.prompts.registry import PromptTemplate, get_template

INSTRUCTION = "Answer the user's question in the first person, in one sentence."
VARIANTS: dict[str, tuple[PromptTemplate | str, int | str]] = {
    # (template, donor personas or "facts"): donors > 0 replaces the persona-free prompt by other personas;
    # "facts" scores each persona fact alone (the percontrast_facts methods).
    "persona_chat": ("persona_chat", 0),
    "persona_text": ("persona_text", 0),
    "persona_role": ("persona_role", 0),  # identify's default: "You are a person." without persona
    "null_persona": (
        PromptTemplate(
            "null_persona",
            "chat",
            "You are a person with this persona: {persona}",
            "You are a person with this persona: I am a person.",
        ),
        0,
    ),
    "keep_frame": (
        PromptTemplate(
            "keep_frame",
            "chat",
            "You are a person. {persona}\n" + INSTRUCTION,
            "You are a person.\n" + INSTRUCTION,
        ),
        0,
    ),
    "list": (
        PromptTemplate(
            "list",
            "chat",
            "You are a person. About you:\n{persona}\n\n" + INSTRUCTION,
            "You are a person.\n\n" + INSTRUCTION,
            item_format="- {item}",
            item_separator="\n",
        ),
        0,
    ),
    "persona_chat+donors4": ("persona_chat", 4),
    # Per fact: each persona fact alone against the persona-free prompt, the maximum over facts.
    "persona_role+facts": ("persona_role", "facts"),
    "persona_chat+facts": ("persona_chat", "facts"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="*", default=list(VARIANTS), help=f"any of {list(VARIANTS)}")
    parser.add_argument("--model", default="smollm2-135m-instruct")
    args = parser.parse_args()
    model, tokenizer = load_model(args.model)
    examples = read_persona_qa()
    for name in args.variants:
        template, donors = VARIANTS[name]
        methods = ("percontrast", "percontrast_word")
        if donors == "facts":
            methods, donors = ("percontrast_facts", "percontrast_facts_word"), 0
        started = time.perf_counter()
        config = IdentifyConfig(methods=",".join(methods), template=get_template(template), donors=donors)
        result = run_identification(model, tokenizer, examples, config, progress=False)
        seconds = time.perf_counter() - started
        for method in methods:
            prf, area = result.methods[method], result.aurocs[method]
            print(
                f"| {name} | {method} | {prf.precision:.3f} | {prf.recall:.3f} | {prf.f1:.3f} | {area:.3f} | "
                f"{prf.n_identified} | {seconds:.0f} s |",
                flush=True,
            )


if __name__ == "__main__":
    main()
