"""Tag batches of sentences with a loaded export, fast and without letting one bad line win.

`predict` only runs the model and decodes its tensors; `_shape` builds the answer a client
sees (tokens, tags, entities). Sentences are sorted by length before batching so each batch
pads to a similar width, the signature is called once per batch, and answers come back in the
caller's order. Input that cannot be tagged gets an `{"error": ...}` in its place.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from service.entities import group_entities
from service.errors import EmptyInput, InputError, InputTooLong, ModelCorrupt
from service.model_store import LoadedModel
from service.tokenizer import Token, split_pretokenized, tokenize

PAD = ""  # the export contract's padding token; real tokens are never empty
WARM_UP_TEXT = "Book a flight from Boston to New York tomorrow."


class Predictor:
    """Wraps a `LoadedModel`; build once per process (CLI run, REST worker), not per call."""

    def __init__(self, model: LoadedModel, batch_size: int = 256, max_tokens: int = 512) -> None:
        if batch_size < 1 or max_tokens < 1:
            raise ValueError(f"batch_size and max_tokens must be >= 1: {batch_size}, {max_tokens}")
        self.model = model
        self.batch_size = batch_size
        self.max_tokens = max_tokens

    def warm_up(self) -> None:
        """Tag one sentence so the first real request does not pay for graph and spaCy setup."""
        self.tag_texts([WARM_UP_TEXT])

    def tag_texts(self, texts: list[str], pretokenized: bool = False) -> list[dict]:
        """Tokenize raw texts (or split pre-tokenized ones on whitespace) and tag them."""
        split = split_pretokenized if pretokenized else tokenize
        return self.tag([split(text) for text in texts], texts)

    def tag(self, token_lists: list[list[Token]], texts: list[str]) -> list[dict]:
        """Tag each token list; `texts[i]` is the string its offsets point into."""
        results: list[dict] = [{} for _ in token_lists]
        valid: list[int] = []
        for i, tokens in enumerate(token_lists):
            error = self._check(tokens)
            if error is None:
                valid.append(i)
            else:
                results[i] = {"error": error.to_dict()}
        raw = self.predict([[token.text for token in token_lists[i]] for i in valid])
        for i, outputs in zip(valid, raw, strict=True):
            results[i] = _shape(token_lists[i], texts[i], outputs)
        return results

    def predict(self, sentences: list[list[str]]) -> list[dict[str, Any]]:
        """Run the model over non-empty token lists; return decoded outputs in input order."""
        order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))
        results: list[dict[str, Any]] = [{} for _ in sentences]
        for begin in range(0, len(order), self.batch_size):
            indices = order[begin : begin + self.batch_size]
            batch = [sentences[i] for i in indices]
            for i, outputs in zip(indices, self._run_batch(batch), strict=True):
                results[i] = outputs
        return results

    def _check(self, tokens: list[Token]) -> InputError | None:
        """The reason this sentence cannot be tagged, or None."""
        if not tokens:
            return EmptyInput("empty or whitespace-only text")
        if len(tokens) > self.max_tokens:
            return InputTooLong(f"{len(tokens)} tokens, more than the limit of {self.max_tokens}")
        return None

    def _run_batch(self, batch: list[list[str]]) -> list[dict[str, Any]]:
        """One signature call for the batch, padded with "" to its longest sentence."""
        lengths = np.array([len(sentence) for sentence in batch], dtype=np.int32)
        padded = np.full((len(batch), int(lengths.max())), PAD, dtype=object)
        for row, sentence in enumerate(batch):
            padded[row, : len(sentence)] = sentence
        outputs = self.model.signature(tokens=tf.constant(padded, dtype=tf.string))
        arrays = {key: value.numpy() for key, value in outputs.items()}
        if not np.array_equal(arrays["lengths"], lengths):
            raise ModelCorrupt(
                f"model at {self.model.path} returned lengths {arrays['lengths'].tolist()} "
                f"for sentences of {lengths.tolist()} tokens; it must count non-empty tokens"
            )
        return _split_rows(arrays, self.model.heads, lengths)


def _split_rows(
    arrays: dict[str, np.ndarray], heads: tuple[str, ...], lengths: np.ndarray
) -> list[dict[str, Any]]:
    """Cut batch arrays into per-sentence Python values, dropping the padding columns."""
    # float64 before rounding, or float32 0.9 rounds back to 0.8999999761581421.
    confidences = {
        key: np.round(arrays[key].astype(np.float64), 4)
        for key in ("slot_confidence", "pos_confidence", "intent_confidence")
        if key in arrays
    }
    rows: list[dict[str, Any]] = []
    for row, n in enumerate(lengths.tolist()):
        outputs: dict[str, Any] = {}
        for head, confidence_key in (("slots", "slot_confidence"), ("pos", "pos_confidence")):
            if head in heads:
                outputs[head] = [tag.decode("utf-8") for tag in arrays[head][row, :n]]
                outputs[confidence_key] = confidences[confidence_key][row, :n].tolist()
        if "intent" in heads:
            outputs["intent"] = arrays["intent"][row].decode("utf-8")
            outputs["intent_confidence"] = float(confidences["intent_confidence"][row])
        rows.append(outputs)
    return rows


def _shape(tokens: list[Token], text: str, outputs: dict[str, Any]) -> dict:
    """The client's answer for one sentence: tokens, each head's outputs, entities."""
    result: dict[str, Any] = {"tokens": [token.text for token in tokens], **outputs}
    if "slots" in outputs:
        result["entities"] = group_entities(
            tokens, outputs["slots"], outputs["slot_confidence"], text
        )
    return result
