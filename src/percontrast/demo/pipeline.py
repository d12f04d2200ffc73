"""`run_demo`: the whole method on the embedded model, offline, in one call (``percontrast demo``).

1. PerContrast scores the bundled persona answers; token heatmap (``heatmap.html``, ``scores.jsonl``).
2. Identification of personal tokens on the bundled annotated set: PerContrast, word matching and an LLM
   judge against the annotation (``identification.json``, Figure 5's plot), when
   `percontrast.identification` is installed.
3. CE versus PerCE (both normalisations) fine-tuned on the Synthetic-Persona-Chat next-reply task and
   evaluated with the untrained model on held-out personas (`percontrast.demo.comparison`,
   ``comparison.json``).
4. One self-contained HTML report (``report.html``).

    from percontrast.demo.config import DemoConfig
    from percontrast.demo.pipeline import run_demo
    result = run_demo(DemoConfig.preset_config("quick"))
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from percontrast.demo.config import DemoConfig

logger = logging.getLogger(__name__)


@dataclass
class DemoResult:
    """What the demo measured and where it wrote it."""

    out_dir: Path
    report: Path
    results: dict
    seconds: dict[str, float] = field(default_factory=dict)


def demo_examples_path() -> Path:
    from percontrast.utils.bundled import RESOURCES

    return RESOURCES / "demo_examples.jsonl"


def run_demo(config: DemoConfig, say: Callable[[str], None] = logger.info) -> DemoResult:
    """Run the four steps of the demo and write everything under ``config.out_dir``.

    Args:
        config: sizes and paths.
        say: where the progress lines and tables go (the CLI passes ``print``).
    """
    from percontrast.demo.report import write_demo_report
    from percontrast.modeling.load import load_model

    out_dir = Path(config.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    cpu_started = time.process_time()

    from percontrast.modeling.load import SMOLLM2_ALIAS

    note = " (the first load converts the GGUF file, about 30 s)" if config.model == SMOLLM2_ALIAS else ""
    say(f"[0/4] loading {config.model}{note}")
    tick, cpu_tick = time.perf_counter(), time.process_time()
    model, tokenizer = load_model(config.model)
    seconds["load"] = time.perf_counter() - tick
    seconds["load_cpu"] = time.process_time() - cpu_tick

    say("[1/4] PerContrast token scores of the bundled persona answers")
    tick, cpu_tick = time.perf_counter(), time.process_time()
    scores, spans = _heatmap(model, tokenizer, config, out_dir, say)
    seconds["heatmap"] = time.perf_counter() - tick
    seconds["heatmap_cpu"] = time.process_time() - cpu_tick

    identification = None
    figure5 = None
    if config.identify:
        say(
            "[2/4] identifying personal tokens on the bundled annotated set (PerContrast, word match, LLM judge)"
        )
        tick, cpu_tick = time.perf_counter(), time.process_time()
        identification, figure5 = _identify(model, tokenizer, config, out_dir, say)
        seconds["identify"] = time.perf_counter() - tick
        seconds["identify_cpu"] = time.process_time() - cpu_tick
    else:
        say("[2/4] identification skipped (--no-identify)")

    say("[3/4] CE vs PerCE on the Synthetic-Persona-Chat next-reply task, held-out personas")
    tick, cpu_tick = time.perf_counter(), time.process_time()
    comparison, summary, groups, counts = _compare(model, tokenizer, config, say)
    seconds["compare"] = time.perf_counter() - tick
    seconds["compare_cpu"] = time.process_time() - cpu_tick
    _say_comparison(say, comparison, summary, groups)

    say("[4/4] writing the report")
    tick, cpu_tick = time.perf_counter(), time.process_time()
    seconds["total"] = time.perf_counter() - started
    results = _results(config, counts, comparison, summary, groups, identification, seconds)
    report = write_demo_report(
        out_dir / "report.html",
        results=results,
        scores=scores,
        personal_spans=spans,
        figure5_png=figure5,
        model_name=config.model,
    )
    seconds["report"] = time.perf_counter() - tick
    seconds["report_cpu"] = time.process_time() - cpu_tick
    seconds["total"] = time.perf_counter() - started
    # CPU time of this process (all threads): on a shared machine, wall time overstates what the demo
    # needs; cpu / threads is what it would take with the cores to itself.
    seconds["cpu_total"] = time.process_time() - cpu_started
    results["seconds"] = seconds
    (out_dir / "comparison.json").write_text(json.dumps(results, indent=2, default=float), encoding="utf-8")
    _say_done(say, seconds, report, out_dir)
    return DemoResult(out_dir=out_dir, report=report, results=results, seconds=seconds)


def _heatmap(model, tokenizer, config: DemoConfig, out_dir: Path, say) -> tuple[list, dict[str, list]]:
    """Step 1: PerContrast scores of the bundled persona answers, ``scores.jsonl`` and ``heatmap.html``;
    returns the scores and each example's annotated personal spans."""
    from percontrast.data.sources import read_examples
    from percontrast.demo.tables import top_tokens_lines
    from percontrast.scoring.heatmap import write_heatmap
    from percontrast.scoring.pir import score_examples
    from percontrast.utils.files import write_jsonl

    examples = read_examples(demo_examples_path())
    scores = score_examples(model, tokenizer, examples, progress=config.progress)
    spans = {example.id: example.meta.get("personal_spans", []) for example in examples}
    write_jsonl(out_dir / "scores.jsonl", scores)
    write_heatmap(
        scores,
        out_dir / "heatmap.html",
        title=f"PerContrast token scores ({config.model})",
        personal_spans=spans,
    )
    for line in top_tokens_lines(examples, scores):
        say(line)
    return scores, spans


def _compare(model, tokenizer, config: DemoConfig, say):
    """Step 3: CE versus PerCE on the next-reply task; returns the comparison, its summary with intervals,
    the same by token group (the groups defined by the untrained model) and the task's counts."""
    from percontrast.analysis.bootstrap import summarize
    from percontrast.analysis.token_groups import summarize_groups
    from percontrast.data.persona_chat import next_reply_split
    from percontrast.demo.comparison import UNTRAINED, run_comparison

    train_pool, test_pool, counts = next_reply_split(history=config.history)
    say(
        f"  task: {counts['train']} training and {counts['test']} held-out examples from "
        f"{counts['conversations']} conversations ({counts['train_dropped_test_persona']} training examples "
        "dropped because their persona is held out)"
    )
    comparison = run_comparison(model, tokenizer, train_pool, test_pool, config, say=say)
    summary = summarize(comparison.evaluations, n_bootstrap=config.bootstrap)
    groups = summarize_groups(
        comparison.evaluations[UNTRAINED][0].groups,
        {name: [item.group_sums for item in items] for name, items in comparison.evaluations.items()},
        baseline="ce",
        n_bootstrap=config.bootstrap,
    )
    return comparison, summary, groups, counts


def _say_comparison(say, comparison, summary: dict, groups: dict) -> None:
    """Step 3's tables: the whole-response comparison with its intervals, then by token group."""
    from percontrast.analysis.token_groups import markdown_table as groups_table
    from percontrast.demo.tables import comparison_table

    say("")
    say(comparison_table(summary))
    say(f"  intervals: {summary['method']}")
    say("  by token group (PIR > 1 under the untrained model):")
    say(groups_table(groups))
    if comparison.meteor_note:
        say(f"  {comparison.meteor_note}")


def _say_done(say, seconds: dict[str, float], report: Path, out_dir: Path) -> None:
    """The closing lines: wall and CPU time, and where the outputs are."""
    say(
        f"\ndone in {seconds['total']:.0f} s (load {seconds['load']:.0f} s, identification "
        f"{seconds.get('identify', 0):.0f} s, training + evaluation {seconds['compare']:.0f} s)"
    )
    say(
        f"CPU time {seconds['cpu_total']:.0f} s over {torch.get_num_threads()} threads "
        "(wall time is longer than CPU time / threads when other processes share the cores)"
    )
    say(f"report: {report.resolve()}  (open it in a browser)")
    say(f"also: {out_dir / 'heatmap.html'}, {out_dir / 'scores.jsonl'}, {out_dir / 'comparison.json'}")


def _results(
    config: DemoConfig, counts: dict, comparison, summary: dict, groups: dict, identification, seconds: dict
) -> dict:
    """``comparison.json``: the config, the comparison with its intervals, every training log, timings."""
    return {
        "config": config.to_dict(),
        "task_counts": counts,
        "too_long": comparison.dropped,
        "comparison": summary,
        "token_groups": groups,
        "eval_ids": comparison.eval_ids,
        "generate_ids": comparison.generate_ids,
        "samples": _samples(comparison),
        "training": [
            {
                "variant": run.variant,
                "seed": run.seed,
                "seconds": run.seconds,
                "skipped": run.skipped,
                "truncated": run.truncated,
                "log_history": run.log_history,
            }
            for run in comparison.runs
        ],
        "comparison_seconds": comparison.seconds,
        "meteor_note": comparison.meteor_note,
        "identification": identification,
        "seconds": seconds,
    }


def _identify(model, tokenizer, config: DemoConfig, out_dir: Path, say) -> tuple[dict | None, Path | None]:
    """Step 2, if `percontrast.identification` is available; returns its results dict and Figure 5's PNG."""
    try:
        from percontrast.identification.config import IdentifyConfig
        from percontrast.identification.identify import run_identification
        from percontrast.identification.plot import plot_pir_breakdown
    except ImportError as exc:
        say(f"  identification not available in this installation ({exc}); skipping step 2")
        return None, None
    from percontrast.data.persona_qa import read_persona_qa

    examples = read_persona_qa()
    if config.identify_limit is not None:
        examples = examples[: config.identify_limit]
    methods = ("percontrast", "word_match", "llm_judge")
    try:
        from percontrast.identification.word_match import tagger_available

        if not tagger_available():
            say("  word matching needs the Lingua::EN::Tagger Perl module (`make tagger`); left out")
            methods = ("percontrast", "llm_judge")
    except ImportError:
        pass
    settings = IdentifyConfig(
        methods=",".join(methods), batch_size=config.eval_batch_size, bootstrap=config.bootstrap
    )
    result = run_identification(model, tokenizer, examples, settings, progress=config.progress)
    values = result.to_dict()
    (out_dir / "identification.json").write_text(json.dumps(values, indent=2), encoding="utf-8")
    figure5 = plot_pir_breakdown(result, out_dir / "figure5_pir_breakdown.png")
    say("")
    say(result.markdown_table())
    say("")
    return values, figure5


def _samples(comparison, limit: int = 8) -> list[dict]:
    """The first few generated replies of every model (first seed), beside the reference."""
    rows = []
    for index, (example_id, reference) in enumerate(
        zip(comparison.generate_ids[:limit], comparison.references[:limit], strict=True)
    ):
        row = {"id": example_id, "query": comparison.queries[index], "reference": reference}
        for name, items in comparison.evaluations.items():
            row[name] = items[0].predictions[index]
        rows.append(row)
    return rows
