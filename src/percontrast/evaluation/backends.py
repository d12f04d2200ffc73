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
import urllib.request
from dataclasses import dataclass
from typing import Protocol

import torch

from percontrast.errors import ConfigError, PercontrastError

logger = logging.getLogger(__name__)

Messages = list[dict[str, str]]
SCORE_TOKENS = ("1", "2", "3", "4", "5")


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
    """

    def __init__(self, model, tokenizer, batch_size: int = 8, name: str | None = None) -> None:
        if not getattr(tokenizer, "chat_template", None):
            raise ConfigError("the judge / simulator model's tokenizer has no chat template")
        self.model, self.tokenizer, self.batch_size = model, tokenizer, batch_size
        self.name = name or getattr(model.config, "_name_or_path", "local")
        self._score_ids: list[int] | None = None

    def prompt_ids(self, conversation: Messages) -> list[int]:
        text = self.tokenizer.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)
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
        from percontrast.generation import SamplingConfig, generate_from_ids

        sampling = SamplingConfig(
            max_new_tokens=max_new_tokens, temperature=temperature or 1.0, greedy=temperature == 0, seed=seed
        )
        prompts = [self.prompt_ids(conversation) for conversation in conversations]
        replies: list[list[str]] = [[] for _ in conversations]
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
        return replies

    def score_token_ids(self) -> list[int]:
        """Token ids of "1".."5"; each must be a single token of the vocabulary."""
        if self._score_ids is None:
            ids = []
            for digit in SCORE_TOKENS:
                encoded = self.tokenizer(digit, add_special_tokens=False)["input_ids"]
                if len(encoded) != 1:
                    raise ConfigError(
                        f"the judge tokenizer splits {digit!r} into {encoded}; probability scores need single-token digits"
                    )
                ids.append(encoded[0])
            self._score_ids = ids
        return self._score_ids

    @torch.no_grad()
    def score_distribution(self, conversations: list[Messages]) -> tuple[torch.Tensor, torch.Tensor]:
        """Next-token probabilities of "1".."5" right after the assistant turn starts.

        Returns:
            ``probs`` (N, 5), the distribution renormalised over the five digits, and ``mass`` (N,),
            the share of the full next-token probability that fell on them (low mass: the model did
            not want to answer with a digit, a signal that its score means little).
        """
        from percontrast.generation import check_fits_context, left_pad
        from percontrast.modeling import max_context

        score_ids = torch.tensor(self.score_token_ids())
        probs, masses = [], []
        for start in range(0, len(conversations), self.batch_size):
            prompts = [self.prompt_ids(c) for c in conversations[start : start + self.batch_size]]
            check_fits_context(
                [len(ids) for ids in prompts], 1, max_context(self.model, self.tokenizer), "judge prompt"
            )
            batch = left_pad(prompts, self.tokenizer.pad_token_id, self.model.device)
            position_ids = (batch["attention_mask"].cumsum(-1) - 1).clamp(min=0)
            logits = (
                self.model(**batch, position_ids=position_ids, logits_to_keep=1).logits[:, -1].float()
            )  # (B, V)
            full = torch.softmax(logits, dim=-1)[:, score_ids.to(logits.device)].cpu()  # (B, 5)
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
    """

    base_url: str
    model: str
    api_key_env: str = "OPENAI_API_KEY"
    timeout: float = 60.0
    max_retries: int = 4
    backoff: float = 1.0

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ConfigError(f"judge url must start with http:// or https://, got {self.base_url!r}")
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
            response = self._post(payload)
            try:
                texts = [choice["message"]["content"] or "" for choice in response["choices"]]
            except (KeyError, TypeError) as exc:
                raise BackendError(
                    f"unexpected chat-completions response (no choices[].message.content): {str(response)[:300]}"
                ) from exc
            # Servers that ignore `n` return one choice: ask again for the rest.
            while len(texts) < n:
                extra = self._post(payload | {"n": 1, "seed": seed + len(texts)})
                texts.append(extra["choices"][0]["message"]["content"] or "")
            replies.append([text.strip() for text in texts[:n]])
        return replies
