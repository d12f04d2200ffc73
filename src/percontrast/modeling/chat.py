"""Chat backends shared by the LLM judge and the ALOE user simulator.

- `TransformersChat`: a local transformers model (offline default ``smollm2-135m-instruct``). Besides
  generating replies it gives the exact next-token distribution over "1".."5" after the chat prompt,
  which is what G-Eval's probability-weighted score needs.
- `OpenAIChat`: any OpenAI-compatible ``/chat/completions`` endpoint (vLLM, the llama.cpp server,
  hosted APIs). Network failures and 429/5xx answers are retried with exponential backoff and then
  raised as `BackendError`; they never become a score.
"""

from __future__ import annotations

import json
import logging
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Protocol

import torch
from tqdm.auto import tqdm

from percontrast.modeling.config import ChatModelConfig
from percontrast.prompts.template import render_chat
from percontrast.utils.errors import ConfigError, PercontrastError

logger = logging.getLogger(__name__)

Messages = list[dict[str, str]]
SCORE_TOKENS = ("1", "2", "3", "4", "5")
# Qwen3 and other reasoning models open a reply with a <think> block unless told not to.
REASONING_MARKERS = ("<think>", "</think>")


def holds_reasoning(reply: str) -> bool:
    """Whether a reply still holds a reasoning block (``<think>`` ... ``</think>``).

    Such a reply is not an answer: the judge counts it apart instead of parsing it, and ALOE counts
    simulator messages that hold one (see ``chat_template_kwargs`` of `OpenAIChat` to switch it off).
    """
    return any(marker in reply for marker in REASONING_MARKERS)


class BackendError(PercontrastError):
    """A chat backend could not answer (after retries)."""


class ChatBackend(Protocol):
    """What the judge and the user simulator need from a model."""

    name: str

    def chat(
        self,
        conversations: list[Messages],
        *,
        max_new_tokens: int,
        temperature: float,
        n: int = 1,
        seed: int = 0,
    ) -> list[list[str]]:
        """``n`` replies to each conversation (temperature 0: greedy)."""
        ...


class TransformersChat:
    """A local chat model.

    Args:
        model: a causal LM.
        tokenizer: its tokenizer, with a chat template.
        batch_size: conversations per forward / generate call.
        name: what the model is called in records and logs.
        progress: the label of a progress bar over the replies of each `chat` call (generation on a CPU
            takes seconds per batch); None: no bar.
    """

    def __init__(
        self, model, tokenizer, batch_size: int = 8, name: str | None = None, progress: str | None = None
    ) -> None:
        if not getattr(tokenizer, "chat_template", None):
            raise ConfigError("the judge / simulator model's tokenizer has no chat template")
        self.model, self.tokenizer, self.batch_size = model, tokenizer, batch_size
        self.name = name or getattr(model.config, "_name_or_path", "local")
        self.progress = progress

    def prompt_ids(self, conversation: Messages) -> list[int]:
        """The prompt of ``conversation``, rendered by `prompts.registry.render_chat` (thinking off)."""
        text = render_chat(self.tokenizer, conversation)
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def chat(
        self,
        conversations: list[Messages],
        *,
        max_new_tokens: int,
        temperature: float,
        n: int = 1,
        seed: int = 0,
    ) -> list[list[str]]:
        from percontrast.generation.generate import SamplingConfig, generate_from_ids

        sampling = SamplingConfig(
            max_new_tokens=max_new_tokens, temperature=temperature or 1.0, greedy=temperature == 0, seed=seed
        )
        prompts = [self.prompt_ids(conversation) for conversation in conversations]
        replies: list[list[str]] = [[] for _ in conversations]
        bar = tqdm(total=n * len(prompts), desc=self.progress, unit="reply", disable=self.progress is None)
        with bar:
            for sample in range(n):
                for start in range(0, len(prompts), self.batch_size):
                    texts, _ = generate_from_ids(
                        self.model,
                        self.tokenizer,
                        prompts[start : start + self.batch_size],
                        sampling,
                        seed=seed + 1000 * sample + start,
                    )
                    for offset, text in enumerate(texts):
                        replies[start + offset].append(text.strip())
                    bar.update(len(texts))
        return replies

    def digit_prompt_ids(self, conversation: Messages, prefix: str = "") -> tuple[list[int], list[int]]:
        """The tokens before a digit written after ``prefix`` in the reply, and the ids of "1".."5" there.

        ``prefix`` is reply text already written (e.g. ``"4 / "``). The chat prompt, the prefix and each
        digit are tokenized together, so a tokenizer that merges a space or a newline into the digit is
        handled; the five encodings must agree on everything but one last token, else it is an error.
        """
        text = render_chat(self.tokenizer, conversation)
        encoded = [
            self.tokenizer(text + prefix + d, add_special_tokens=False)["input_ids"] for d in SCORE_TOKENS
        ]
        context = encoded[0][:-1]
        if any(ids[:-1] != context for ids in encoded) or len({ids[-1] for ids in encoded}) != 5:
            raise ConfigError(
                f"the judge tokenizer does not write each of 1..5 as one token after {prefix!r}: "
                f"{[ids[len(context) :] for ids in encoded]}; probability scores need single-token digits"
            )
        return context, [ids[-1] for ids in encoded]

    @torch.no_grad()
    def score_distribution(
        self, conversations: list[Messages], prefixes: list[str] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Next-token probabilities of "1".."5" where the reply (so far ``prefixes[i]``) goes on.

        Returns:
            ``probs`` (N, 5), the distribution renormalised over the five digits, and ``mass`` (N,),
            the share of the full next-token probability that fell on them (low mass: the model did
            not want to answer with a digit, a signal that its score means little).
        """
        from percontrast.generation.generate import check_fits_context, left_pad
        from percontrast.modeling.load import max_context

        prefixes = prefixes or [""] * len(conversations)
        probs, masses = [], []
        for start in range(0, len(conversations), self.batch_size):
            pairs = [
                self.digit_prompt_ids(c, p)
                for c, p in zip(
                    conversations[start : start + self.batch_size],
                    prefixes[start : start + self.batch_size],
                    strict=True,
                )
            ]
            check_fits_context(
                [len(context) for context, _ in pairs],
                1,
                max_context(self.model, self.tokenizer),
                "judge prompt",
            )
            batch = left_pad(
                [context for context, _ in pairs], self.tokenizer.pad_token_id, self.model.device
            )
            position_ids = (batch["attention_mask"].cumsum(-1) - 1).clamp(min=0)
            logits = (
                self.model(**batch, position_ids=position_ids, logits_to_keep=1).logits[:, -1].float()
            )  # (B, V)
            digit_ids = torch.tensor([ids for _, ids in pairs], device=logits.device)  # (B, 5)
            full = torch.softmax(logits, dim=-1).gather(1, digit_ids).cpu()  # (B, 5)
            mass = full.sum(-1)
            probs.append(full / mass.unsqueeze(-1))
            masses.append(mass)
        return torch.cat(probs), torch.cat(masses)


@dataclass
class OpenAIChat:
    """An OpenAI-compatible chat-completions endpoint.

    Attributes:
        base_url: the API root, e.g. ``http://127.0.0.1:8000/v1`` (``/chat/completions`` is appended).
        model: the model name the server expects.
        api_key_env: environment variable holding the API key (none sent if unset).
        timeout: seconds per request.
        max_retries: retries after the first failure (network errors, 429, 5xx).
        backoff: first wait in seconds; doubled after each retry.
        chat_template_kwargs: sent as ``chat_template_kwargs`` with every request (vLLM and SGLang pass
            it to the chat template), e.g. ``{"enable_thinking": False}`` for Qwen3 served locally,
            which otherwise answers in thinking mode; None: not sent (hosted APIs reject it).
    """

    base_url: str
    model: str
    api_key_env: str = ChatModelConfig.key_env
    timeout: float = 60.0
    max_retries: int = 4
    backoff: float = 1.0
    chat_template_kwargs: dict | None = None

    def __post_init__(self) -> None:
        if self.chat_template_kwargs is not None and not isinstance(self.chat_template_kwargs, dict):
            raise ConfigError(
                f"chat_template_kwargs must be a mapping such as {{'enable_thinking': false}}, "
                f"got {self.chat_template_kwargs!r}"
            )
        if not self.base_url.startswith(("http://", "https://")):
            raise ConfigError(f"judge url must start with http:// or https://, got {self.base_url!r}")
        try:
            if not urllib.parse.urlsplit(self.base_url).hostname:
                raise ValueError("no host")
        except ValueError as exc:
            raise ConfigError(f"url {self.base_url!r} is not a valid URL ({exc})") from None
        self.name = f"{self.model}@{self.base_url}"

    def _post(self, payload: dict) -> dict:
        url = self.base_url.rstrip("/") + "/chat/completions"
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        data = json.dumps(payload).encode("utf-8")
        wait, last_error = self.backoff, None
        for attempt in range(self.max_retries + 1):
            try:
                request = urllib.request.Request(url, data=data, headers=headers, method="POST")
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return json.loads(response.read().decode("utf-8"))
            except urllib.error.HTTPError as exc:
                body = exc.read().decode("utf-8", "replace")[:300]
                if exc.code != 429 and exc.code < 500:
                    raise BackendError(f"{url} answered HTTP {exc.code}: {body}") from None
                last_error = f"HTTP {exc.code}: {body}"
            except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError) as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            if attempt < self.max_retries:
                logger.warning(
                    "judge request to %s failed (%s); retry %d/%d in %.1f s",
                    url,
                    last_error,
                    attempt + 1,
                    self.max_retries,
                    wait,
                )
                time.sleep(wait)
                wait *= 2
        raise BackendError(f"{url} failed after {self.max_retries + 1} attempts: {last_error}")

    def chat(
        self,
        conversations: list[Messages],
        *,
        max_new_tokens: int,
        temperature: float,
        n: int = 1,
        seed: int = 0,
    ) -> list[list[str]]:
        check_sampling(max_new_tokens, temperature)
        replies = []
        for conversation in conversations:
            payload = {
                "model": self.model,
                "messages": conversation,
                "max_tokens": max_new_tokens,
                "temperature": temperature,
                "n": n,
                "seed": seed,
            }
            if self.chat_template_kwargs is not None:
                payload["chat_template_kwargs"] = self.chat_template_kwargs
            texts = self._texts(self._post(payload))
            # Servers that ignore `n` return one choice: ask again for the rest.
            while len(texts) < n:
                texts += self._texts(self._post(payload | {"n": 1, "seed": seed + len(texts)}))[:1]
            replies.append([text.strip() for text in texts[:n]])
        return replies

    def _texts(self, response: object) -> list[str]:
        """The reply texts of a chat-completions response; no choice or a null content is an error."""
        try:
            texts = [choice["message"]["content"] for choice in response["choices"]]
        except (KeyError, TypeError):
            texts = None
        if not texts or not all(isinstance(text, str) for text in texts):
            raise BackendError(
                f"{self.name}: unexpected chat-completions response (expected choices[].message.content "
                f"strings): {str(response)[:300]}"
            )
        return texts


def check_sampling(max_new_tokens: int, temperature: float) -> None:
    """Refuse sampling settings no backend can honour (before anything is sent)."""
    import math

    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise ConfigError(f"max_new_tokens must be a positive integer, got {max_new_tokens!r}")
    if not math.isfinite(temperature) or temperature < 0:
        raise ConfigError(f"temperature must be a finite number >= 0, got {temperature!r}")


def chat_backend(config: ChatModelConfig, prefix: str = "judge") -> ChatBackend | None:
    """The chat backend a `ChatModelConfig` names: an HTTP server, else a local model (None: neither given).

    ``prefix`` names the flags in the error message (``--judge-url``, ``--simulator-url``; ``""``:
    ``--url``).
    """
    if config.url:
        if not config.api_model:
            flags = f"--{prefix}-" if prefix else "--"
            raise ConfigError(f"{flags}url needs {flags}api-model, the model name the server expects")
        return OpenAIChat(
            config.url,
            config.api_model,
            api_key_env=config.key_env,
            chat_template_kwargs=config.chat_template_kwargs,
        )
    if not config.model:
        return None
    from percontrast.modeling.load import load_model

    return TransformersChat(*load_model(config.model), name=config.model)
