"""The library calls an experiment cell makes, kept in one module so API changes land in one place.

Each function wraps one public function of the library: data (`data.build.build_benchmark`,
`data.persona_chat.next_reply_split`), training (`training.trainer.train`, or ``percontrast train`` under
``torchrun`` / ``accelerate launch``), generation (`generation.generate_predictions`), evaluation
(`evaluation.files.evaluate_predictions`, `evaluation.judge`, `evaluation.aloe`) and general QA
(`experiments.qa`, lm-evaluation-harness). The runner (`experiments.runner`) decides what to run
and when; nothing here knows about grids or result tables.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from percontrast.experiments import replies
from percontrast.experiments.config import ExperimentConfig, LaunchSettings, TaskConfig
from percontrast.experiments.grid import Cell
from percontrast.utils.errors import ConfigError

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------- data


def build_task_data(task: TaskConfig, tokenizer: Any, out_dir: Path) -> dict[str, Any]:
    """Write ``train.jsonl`` and ``test.jsonl`` of one task into ``out_dir``; return a summary.

    The summary holds the counts and the mean prompt tokens of the test examples with and without
    the persona (Table 6), measured with ``tokenizer`` and each example's own template.
    """
    from percontrast.generation.generate import render_prompts
    from percontrast.utils.files import write_jsonl

    if task.source == "persona_chat":
        from percontrast.data.build import sample_records
        from percontrast.data.persona_chat import next_reply_split

        if task.train_input:  # two conversation files, e.g. SPC's validation (train) and test splits
            from percontrast.data.persona_chat import next_reply_files

            train, test, counts = next_reply_files(task.train_input, task.test_input, history=task.history)
        else:
            train, test, counts = next_reply_split(history=task.history)
        train, test = (
            sample_records(train, task.train_sample, task.data_seed),
            sample_records(test, task.test_sample, task.data_seed),
        )
        summary: dict[str, Any] = {"split_counts": counts}
    else:
        from percontrast.data.build import build_benchmark

        train, train_summary = build_benchmark(task.data_config("train"), tokenizer)
        test, test_summary = build_benchmark(task.data_config("test"), tokenizer)
        summary = {"train_build": train_summary.to_dict(), "test_build": test_summary.to_dict()}
    out_dir.mkdir(parents=True, exist_ok=True)
    write_jsonl(out_dir / "train.jsonl", train)
    write_jsonl(out_dir / "test.jsonl", test)
    lengths = {}
    for with_persona in (True, False):
        prompts = render_prompts(test, tokenizer, None, with_persona)
        lengths[with_persona] = sum(map(len, prompts)) / len(prompts) if prompts else None
    summary |= {
        "n_train": len(train),
        "n_test": len(test),
        "prompt_tokens_with_persona": lengths[True],
        "prompt_tokens_without_persona": lengths[False],
    }
    return summary


# ------------------------------------------------------------------------------------------- training


def training_values(config: ExperimentConfig, cell: Cell, data: Path, output_dir: Path) -> dict[str, Any]:
    """The `PerCEConfig` values of a cell: the shared ``training`` section plus the cell's axes."""
    values = dict(config.training)
    values.update(
        model=cell.model,
        data=str(data),
        loss="perce" if cell.loss == "perce_frozen" else cell.loss,
        learning_rate=cell.learning_rate,
        seed=cell.seed,
        output_dir=str(output_dir),
        save_strategy="steps",
        save_steps=config.save_steps,
    )
    values.setdefault("save_total_limit", 1)  # the resume point; the final model is saved apart
    values.setdefault("report_to", "none")
    if cell.clip_min is not None:
        values.update(clip_min=cell.clip_min, clip_max=cell.clip_max)
    if cell.loss == "perce_frozen":
        # Every seed and rate starts from the same model on the same pool: one scoring, beside the data.
        values.update(pir_source="frozen", frozen_pir_cache=str(Path(data).with_name("frozen_pir.pt")))
    return values


def last_checkpoint(output_dir: Path) -> Path | None:
    """The newest complete ``checkpoint-N`` folder in ``output_dir`` (a torn one is skipped), if any."""
    from percontrast.training.checkpoints import last_checkpoint as newest_complete

    return newest_complete(output_dir)


def train_cell(
    values: dict[str, Any], launch: LaunchSettings, callbacks: list | None = None
) -> dict[str, Any]:
    """Train one cell, resuming from its last checkpoint when there is one. Trained in this process, it
    returns the mean training loss, the Trainer's own training time (which leaves out the one-off frozen
    PIR scoring, timed apart) and that scoring's seconds; under a launcher, an empty dict."""
    output_dir = Path(values["output_dir"])
    checkpoint = last_checkpoint(output_dir) if output_dir.exists() else None
    if checkpoint is not None:
        logger.info("resuming training from %s", checkpoint)
        values = values | {"resume_from_checkpoint": str(checkpoint)}
    if launch.mode == "single":
        from percontrast.training.config import PerCEConfig
        from percontrast.training.trainer import train

        run = train(PerCEConfig(**values), callbacks=callbacks)
        return {
            "train_loss": float(run.output.training_loss),
            "train_seconds": run.output.metrics.get("train_runtime"),
            "frozen_pir_seconds": run.frozen_pir_seconds,
        }
    output_dir.mkdir(parents=True, exist_ok=True)
    config_path = output_dir.parent / "train_config.yaml"
    config_path.write_text(yaml.safe_dump(values, sort_keys=True), encoding="utf-8")
    command = launch_command(launch, config_path)
    logger.info("launching: %s", " ".join(command))
    result = subprocess.run(command, env=_launch_env(), capture_output=True, text=True, check=False)
    (output_dir.parent / "train.log").write_text(result.stdout + result.stderr, encoding="utf-8")
    if result.returncode != 0:
        tail = (result.stderr or result.stdout)[-2000:]
        raise RuntimeError(f"{launch.mode} training exited with {result.returncode}:\n{tail}")
    return {}


def launch_command(launch: LaunchSettings, train_config: Path) -> list[str]:
    """The command line of a multi-process training run of ``percontrast train --config``."""
    module = ["-m", "percontrast.cli", "train", "--config", str(train_config)]
    if launch.mode == "torchrun":
        port = os.environ.get("MASTER_PORT") or str(_free_port())
        head = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(launch.nproc)]
        if "--nnodes" not in launch.extra_args:
            head += ["--master_addr", "127.0.0.1", "--master_port", port]
        return head + list(launch.extra_args) + module
    if launch.mode == "accelerate":
        head = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(launch.nproc)]
        if launch.config_file:
            head += ["--config_file", launch.config_file]
        return head + list(launch.extra_args) + module
    raise ConfigError(f"launch_command: mode {launch.mode!r} runs in-process")


def _free_port() -> int:
    with socket.socket() as probe:  # torchrun's port 0 hangs its static rendezvous
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _launch_env() -> dict[str, str]:
    """This process's environment, with our source on PYTHONPATH for the child processes."""
    src = str(Path(__file__).resolve().parents[2])  # .../src
    path = os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))
    return dict(os.environ, PYTHONPATH=path)


# ------------------------------------------------------------------------------------ generate, score


def generate(model: Any, tokenizer: Any, data: Path, out: Path, config: ExperimentConfig, seed: int) -> None:
    """Predictions for every test example of ``data`` (resumable: ids already in ``out`` are kept)."""
    from percontrast.data.sources import read_examples
    from percontrast.generation.generate import generate_predictions

    generation = config.generation.decoding_config(seed)
    generate_predictions(model, tokenizer, read_examples(data), out, generation, progress=False)


def lexical_scores(predictions: Path, data: Path, metrics: list[str]) -> dict[str, Any]:
    """ROUGE-1/L and METEOR of a predictions file, ids checked against its data, with the per-example
    scores (``per_example``: ids and a list per metric)."""
    from percontrast.evaluation.config import EvaluateConfig
    from percontrast.evaluation.files import evaluate_predictions

    config = EvaluateConfig(metrics=",".join(metrics))
    return evaluate_predictions(predictions, config, data_path=data, per_example=True)


def score_missing_replies(out_dir: Path, metrics: list[str]) -> dict[str, int]:
    """Write the per-example scores of every cell's predictions that lack them, from the predictions and
    the examples they were generated for (the cell's ``generated_<target>.jsonl``, else the task's test
    file); returns ``{"scored": n, "present": n}`` (files written, files already there)."""
    counts = {"scored": 0, "present": 0}
    for predictions in sorted(out_dir.glob("cells/*/predictions/*.jsonl")):
        cell_dir, target = predictions.parent.parent, predictions.stem
        if replies.scores_path(cell_dir, target).exists():
            counts["present"] += 1
            continue
        data = cell_dir / f"generated_{target}.jsonl"
        if not data.exists():
            model = cell_dir.name.split("__")[0]
            data = out_dir / "data" / model / target / "test.jsonl"
        scores = lexical_scores(predictions, data, metrics)
        replies.write_example_scores(cell_dir, target, scores["per_example"])
        counts["scored"] += 1
    return counts


def judge_scores(predictions: Path, data: Path, judge: Any, partial: bool = False) -> dict[str, float | None]:
    """The judge's mean score per criterion (1-5) on a predictions file (``partial``: of a subset of
    the examples in ``data``, as a judge limit keeps)."""
    from percontrast.evaluation.config import EvaluateConfig
    from percontrast.evaluation.files import evaluate_predictions

    config = EvaluateConfig(metrics="judge", partial=partial)
    result = evaluate_predictions(predictions, config, data_path=data, judge=judge)
    return {key[len("judge_") :]: value for key, value in result.items() if key.startswith("judge_")}


def judge_backend(settings: Any) -> Any:
    """The chat backend of the experiment's judge settings (a `JudgeConfig`: local model or server)."""
    from percontrast.modeling.chat import chat_backend

    return chat_backend(settings, "judge")


def build_judge(settings: Any, backend: Any) -> Any:
    """The Table 10 `Judge` of the experiment's judge settings on ``backend`` (`judge_from_config`)."""
    from percontrast.evaluation.judge import judge_from_config

    return judge_from_config(settings, backend)


def judge_identity(settings: Any) -> list:
    """What names the judge backend in ALOE's settings record (as ``percontrast aloe`` names it)."""
    if settings.url:
        kwargs = settings.chat_template_kwargs
        return [settings.url, settings.api_model] + ([kwargs] if kwargs else [])
    return [settings.model]


def aloe_scores(
    model: Any, tokenizer: Any, aloe: Any, judge: Any, judge_settings: Any, seed: int, out: Path, name: str
) -> dict[str, Any]:
    """ALOE AL(k) of the trained model through `evaluation.aloe.evaluate_aloe`, as ``percontrast aloe``
    runs it (resumable from ``out``); the simulator and the judge are the judge section's backend."""
    import dataclasses

    from percontrast.evaluation.aloe import evaluate_aloe
    from percontrast.modeling.chat import TransformersChat

    config = dataclasses.replace(aloe, seed=seed)
    who = judge_identity(judge_settings)
    identity = {"model": name, "dtype": "auto", "simulator": who, "judge": who}
    summary = evaluate_aloe(
        config,
        out,
        lambda: (TransformersChat(model, tokenizer, name=name), judge(), judge()),
        identity,
        progress=False,
    )
    return {"al": summary["al"], "al_avg": summary["al_avg"], "n": summary["n_conversations"]}


def load_trained(model_dir: Path) -> tuple[Any, Any]:
    """The trained model and tokenizer saved in a cell's ``model`` folder."""
    from percontrast.modeling.load import load_model

    return load_model(str(model_dir))


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
