"""The markdown table of benchmarks/gpu_acceptance.py's report (the JSON beside it holds everything)."""

from __future__ import annotations


def _number(value: object, digits: int = 3) -> str:
    return f"{value:.{digits}g}" if isinstance(value, float) else "-" if value is None else str(value)


def _cell(measurement: dict, key: str, digits: int = 3) -> str:
    """One value of a step measurement, or why there is none."""
    if measurement.get("out_of_memory"):
        return "OOM"
    if "skipped" in measurement:
        return "skipped"
    return _number(measurement.get(key), digits)


def markdown(report: dict) -> str:
    """The report as markdown tables (the JSON holds everything)."""
    env = report["environment"]
    lines = [
        f"# GPU acceptance: {'PASSED' if report['passed'] else 'FAILED'} (exit status {report['exit_status']})",
        "",
        f"{env.get('gpu', env['device'])}, torch {env['versions']['torch']}, transformers "
        f"{env['versions']['transformers']}, commit {env['git_commit']}"
        + (", --small" if report["small"] else ""),
        "",
        "| section | status | seconds | note |",
        "|---|---|---:|---|",
        *(
            f"| {name} | {s['status']} | {s['seconds']} | {s['note']} |"
            for name, s in report["sections"].items()
        ),
    ]
    if report["checks"]:
        lines += ["", "| check | value | tolerance | passed |", "|---|---:|---:|---|"]
        lines += [
            f"| {c['check']} | {c['value']:.3g} | {c['tolerance']:g} | {c['passed']} |"
            for c in report["checks"]
        ]
    if "bf16" in report:
        lines += [
            "",
            "| model | mode | PIR range (fp32) | log-prob error, max | PIR error, max | PIR error, mean | bound |",
        ]
        lines += ["|---|---|---:|---:|---:|---:|---:|"]
        for name, rows in report["bf16"].items():
            lines += [
                f"| {name} | {r['mode']} | {r['pir_range']:.2f} | {r['logp_error_max']:.3f} | {r['pir_error_max']:.3f} "
                f"| {r['pir_error_mean']:.4f} | {r['bound']:.3f} |"
                for r in rows
            ]
    if "model" in report:
        model = report["model"]
        lines += [
            "",
            f"Qwen3-like model: {model['parameters'] / 1e9:.3g} B parameters, bfloat16, built in {model['build_s']} s.",
        ]
    if "steps" in report:
        lines += [
            "",
            "| setting | prompt w. / w.o. / response | CE s | PerCE s | time ratio (floor) | CE peak GiB "
            "| PerCE peak GiB | memory ratio (above weights) | CE tok/s | PerCE tok/s |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for row in report["steps"]:
            ce, perce = row["ce"], row["perce"]
            lines.append(
                f"| {row['setting']} | {' / '.join(map(str, row['lengths']))} | {_cell(ce, 'step_s')} "
                f"| {_cell(perce, 'step_s')} | {_number(row.get('time_ratio'))} ({row['time_floor']:.3f}) "
                f"| {_cell(ce, 'peak_gib')} | {_cell(perce, 'peak_gib')} | {_number(row.get('memory_ratio'))} "
                f"({_number(row.get('extra_memory_ratio'))}) | {_cell(ce, 'tokens_per_s', 4)} "
                f"| {_cell(perce, 'tokens_per_s', 4)} |"
            )
    if "scoring" in report and "bare_ratio" in report["scoring"]:
        s = report["scoring"]
        lines += [
            "",
            "| scoring: examples | response tokens | score_units tok/s | bare forwards tok/s | bare ratio |",
        ]
        lines += ["|---:|---:|---:|---:|---:|"]
        lines.append(
            f"| {s['examples']} | {s['response_tokens']} | {s['score_tokens_per_s']:.4g} | {s['bare_tokens_per_s']:.4g} "
            f"| {s['bare_ratio']:.3f} |"
        )
    if "generation" in report and "plain_tokens_per_s" in report["generation"]:
        g = report["generation"]
        lines += [
            "",
            "| generation: batch | prompt w. / w.o. | new tokens | plain tok/s | contrastive tok/s | ratio |",
        ]
        lines += ["|---:|---|---:|---:|---:|---:|"]
        lines.append(
            f"| {g['batch']} | {' / '.join(map(str, g['prompt_tokens']))} | {g['new_tokens']} | {g['plain_tokens_per_s']:.4g} "
            f"| {g['contrastive_tokens_per_s']:.4g} | {g['tokens_per_s_ratio']:.3f} |"
        )
    if "max_response" in report:
        m = report["max_response"]
        lines += [
            "",
            f"Largest PerCE response (batch 1, prompts {' / '.join(map(str, m['prompt_tokens']))}, limit {m['limit']}): "
            f"{m['largest_fit']} fits, {m['smallest_failure']} does not; search complete: {m['complete']}. Tries: "
            + ", ".join(
                f"{t['n']} {'fits' if t['fits'] else 'OOM'}"
                + (f" ({t['step_s']:.2f} s, {_number(t.get('peak_gib'))} GiB)" if t["fits"] else "")
                for t in m["tries"]
            ),
        ]
    return "\n".join(lines) + "\n"
