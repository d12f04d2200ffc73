"""``percontrast identify``: PerContrast vs word matching vs an LLM judge on an annotated persona QA set.

Writes results.json (precision / recall / F1 per method, AUROC of PIR, Figure 5's breakdown, per-example
details), a markdown table beside it, and optionally Figure 5 as a PNG.
"""

from __future__ import annotations

import argparse
import logging

from percontrast.commands import positive_int

logger = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from percontrast.commands.score import add_model_arguments

    parser = subparsers.add_parser(
        "identify", help="which answer tokens carry the persona: PerContrast vs word matching vs LLM judge"
    )
    add_model_arguments(parser)
    parser.add_argument(
        "--data", default=None, help="annotated persona QA JSONL (default: the bundled 120-item dev set)"
    )
    parser.add_argument("--out", required=True, help="results JSON (a .md table is written beside it)")
    parser.add_argument("--plot", default=None, help="write Figure 5 (PIR ranges) as a PNG here")
    parser.add_argument(
        "--methods",
        default="percontrast,word_match,llm_judge",
        help="comma list of percontrast, word_match, llm_judge (default: these three), percontrast_word "
        "(PerContrast with word-level PIR), percontrast_facts and percontrast_facts_word (PIR of each persona "
        "fact alone, maximum over facts; one more forward per fact)",
    )
    parser.add_argument("--threshold", type=float, default=1.0, help="PIR above this is personal (default 1)")
    parser.add_argument("--template", default=None, help="prompt template for PIR (default: identify's own)")
    parser.add_argument(
        "--donors",
        type=int,
        default=0,
        help="0: PIR with the persona removed (Eq. 2, default); K>0: persona-free term marginalised over K other personas",
    )
    parser.add_argument(
        "--bootstrap", type=int, default=1000, help="resamples of the answers for 95%% intervals (0: none)"
    )
    parser.add_argument("--batch-size", type=int, default=16, help="sequences per forward / generate call")
    parser.add_argument(
        "--judge-max-new-tokens",
        type=positive_int,
        default=32,
        help="length of the judge's keyword reply (greedy)",
    )
    group = parser.add_argument_group("judge (default: the --model itself)")
    group.add_argument(
        "--judge-url", default=None, help="OpenAI-compatible API root, e.g. http://127.0.0.1:8000/v1"
    )
    group.add_argument("--judge-api-model", default=None, help="model name sent to --judge-url")
    group.add_argument(
        "--judge-key-env", default="OPENAI_API_KEY", help="environment variable holding the API key"
    )
    return parser


def run(args: argparse.Namespace) -> int:
    from percontrast.data.persona_qa import read_persona_qa
    from percontrast.errors import ConfigError
    from percontrast.identification import DEFAULT_IDENTIFY_TEMPLATE, plot_pir_breakdown, run_identification
    from percontrast.modeling import load_model
    from percontrast.outputs import atomic_write_json, atomic_write_text, sibling

    check_arguments(args)
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    judge = None
    if args.judge_url:
        from percontrast.evaluation.backends import OpenAIChat

        if not args.judge_api_model:
            raise ConfigError("--judge-url needs --judge-api-model, the model name the server expects")
        judge = OpenAIChat(args.judge_url, args.judge_api_model, api_key_env=args.judge_key_env)
    examples = read_persona_qa(args.data)
    if args.donors >= len(examples):
        raise ConfigError(
            f"--donors {args.donors}: only {len(examples) - 1} other personas in {args.data or 'the bundled set'}"
        )
    model, tokenizer = load_model(args.model, dtype=args.dtype, device=args.device)
    result = run_identification(
        model,
        tokenizer,
        examples,
        methods=methods,
        threshold=args.threshold,
        judge=judge,
        template=args.template or DEFAULT_IDENTIFY_TEMPLATE,
        batch_size=args.batch_size,
        judge_max_new_tokens=args.judge_max_new_tokens,
        donors=args.donors,
        bootstrap=args.bootstrap,
    )
    payload = result.to_dict() | {"model": args.model, "data": str(args.data or "bundled dev set")}
    table = result.markdown_table() + "\n\n" + result.breakdown_table() + "\n"
    atomic_write_json(args.out, payload)
    atomic_write_text(sibling(args.out, ".md"), table)
    print(table)
    logger.info("wrote %s and %s", args.out, sibling(args.out, ".md"))
    if args.plot:
        plot_pir_breakdown(result, args.plot)
        logger.info("wrote Figure 5 to %s", args.plot)
    return 0


def check_arguments(args: argparse.Namespace) -> None:
    """Refuse bad values and colliding paths before the model is loaded (a Figure 5 format, too)."""
    import math
    from pathlib import Path

    from percontrast.errors import ConfigError
    from percontrast.outputs import check_outputs, sibling

    if not math.isfinite(args.threshold):
        raise ConfigError(f"--threshold {args.threshold}: expected a finite PIR value (default 1)")
    if args.donors < 0:
        raise ConfigError(
            f"--donors {args.donors}: expected 0 (persona removed) or a positive number of personas"
        )
    if args.plot:
        from matplotlib.backend_bases import FigureCanvasBase

        formats = FigureCanvasBase.get_supported_filetypes()
        if Path(args.plot).suffix.lstrip(".").lower() not in formats:
            raise ConfigError(
                f"--plot {args.plot}: not an image file name; end it in one of "
                + ", ".join(f".{name}" for name in sorted(formats))
            )
    check_outputs(
        inputs={"--data": args.data},
        outputs={
            "--out": args.out,
            "the markdown table beside --out": sibling(args.out, ".md"),
            "--plot": args.plot,
        },
    )
