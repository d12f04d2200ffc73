"""General QA (the paper's Table 11) through lm-evaluation-harness (``pip install 'percontrast[qa]'``).

We do not score QA ourselves: each task is lm-eval's own task config, loaded from the installed
package, so its prompt, answer extraction and metrics are lm-eval's:

- ``drop``: lm-eval's ``drop`` task (``lm_eval/tasks/drop/default.yaml``, EleutherAI/drop on the hub;
  metrics ``em`` and ``f1``);
- ``hotpotqa``: lm-eval's ``longbench_hotpotqa`` (``lm_eval/tasks/longbench/hotpotqa.yaml``, LongBench's
  HotpotQA split; metric ``qa_f1_score``). lm-eval has no stand-alone HotpotQA task.

With ``local_files`` a task reads a local JSON/JSONL file in its hub dataset's row format instead (the
same config with ``dataset_path: json``), so it runs offline: DROP rows ``{query_id, passage, question,
answer: {number, date: {day, month, year}, spans}, validated_answers: {number: [], date: [], spans: []}}``
and HotpotQA rows ``{context, question, answers: [..]}`` (tests/fixtures/qa holds small examples).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from percontrast.utils.errors import ConfigError

logger = logging.getLogger(__name__)

# Our name -> (lm-eval task YAML under lm_eval/tasks, the split it evaluates, metrics we report).
QA_TASKS = {
    "drop": ("drop/default.yaml", "validation_split", ("em", "f1")),
    "hotpotqa": ("longbench/hotpotqa.yaml", "test_split", ("qa_f1_score",)),
}


def task_config(name: str, local_file: str | None = None, max_gen_toks: int | None = None) -> dict[str, Any]:
    """lm-eval's own config of a QA task, pointed at ``local_file`` when one is given."""
    try:
        import lm_eval
        from lm_eval.tasks._yaml_loader import load_yaml
    except ImportError:
        raise ConfigError(
            "evaluation.qa needs lm-evaluation-harness: pip install 'percontrast[qa]'"
        ) from None
    if name not in QA_TASKS:
        raise ConfigError(f"unknown QA task {name!r}; allowed: {sorted(QA_TASKS)}")
    relative, split_key, _ = QA_TASKS[name]
    config = load_yaml(Path(lm_eval.__file__).parent / "tasks" / relative)
    config.pop("tag", None)
    if local_file is not None:
        path = Path(local_file)
        if not path.exists():
            raise ConfigError(f"qa.local_files.{name}: {path} does not exist")
        split = config[split_key]
        config.update(
            task=f"{config['task']}_local",
            dataset_path="json",
            dataset_name=None,
            dataset_kwargs={"data_files": {split: str(path.resolve())}},
        )
        for key in ("training_split", "validation_split", "test_split"):
            if key != split_key:
                config.pop(key, None)
    if max_gen_toks is not None:
        config.setdefault("generation_kwargs", {})["max_gen_toks"] = max_gen_toks
    return config


def run_qa(model_dir: str | Path, settings: Any, out_dir: Path, seed: int = 0) -> dict[str, dict[str, float]]:
    """Evaluate a saved model on the QA tasks of ``settings`` (`config.QASettings`).

    Returns:
        ``{task: {metric: value}}`` with lm-eval's metric values (fractions); the full lm-eval output
        is written to ``out_dir/results.json``.
    """
    from lm_eval import simple_evaluate

    configs = [
        task_config(name, settings.local_files.get(name), settings.max_gen_toks) for name in settings.tasks
    ]
    output = simple_evaluate(
        model="hf",
        model_args={"pretrained": str(model_dir), "device": "cpu" if not _cuda() else "cuda"},
        tasks=configs,
        limit=settings.limit,
        batch_size=settings.batch_size,
        random_seed=seed,
        numpy_random_seed=seed,
        torch_random_seed=seed,
        fewshot_random_seed=seed,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(output["results"], indent=2, default=str) + "\n")
    scores = {}
    for name, config in zip(settings.tasks, configs, strict=True):
        result = output["results"][config["task"]]
        scores[name] = {metric: float(result[f"{metric},none"]) for metric in QA_TASKS[name][2]}
        scores[name]["n"] = float(output["n-samples"][config["task"]]["effective"])
    logger.info("QA: %s", scores)
    return scores


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()
