"""Tag batches of sentences with a loaded export, fast and without letting one bad line win.

`predict` only runs the model and decodes its tensors; `_shape` builds the answer a client sees
(tokens, tags, entities). A predictor built with `compiled_single` (the REST server's) runs a lone
sentence through the export's XLA-compiled signature, a fifth faster per call; the CLI keeps the
plain one, so its output never depends on how lines fall into batches. Sentences are sorted by
length before batching so each batch pads to a similar width, a batch holds at most `batch_size`
sentences (and, without an intent head, `MAX_BATCH_CELLS` padded tokens), the signature is called
once per batch, and answers come back in the caller's order. Input that cannot be tagged gets an
`{"error": ...}` in its place.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import tensorflow as tf

from service.entities import group_entities
from service.errors import EmptyInput, InputError, InputTooLong, ModelCorrupt
from service.export_contract import COMPILED_MAX_WIDTH, COMPILED_WIDTH_STEP, PAD_TOKEN
from service.model_store import LoadedModel
from service.tokenizer import Token, tokenize_texts

WARM_UP_TEXT = "Book a flight from Boston to New York tomorrow."
# Padded tokens per model call (128 sentences of 32 tokens) for models without an intent head:
# batches of long sentences get fewer sentences, so a batch's longest sentence pads fewer others.
MAX_BATCH_CELLS = 4096


class Predictor:
    """Wraps a `LoadedModel`; build once per process (CLI run, REST worker), not per call."""

    def __init__(
        self, model: LoadedModel, batch_size: int = 256, max_tokens: int = 512, compiled_single: bool = False
    ) -> None:
        if batch_size < 1 or max_tokens < 1:
            raise ValueError(f"batch_size and max_tokens must be >= 1: {batch_size}, {max_tokens}")
        self.model = model
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self.max_cells = math.inf if "intent" in model.heads else MAX_BATCH_CELLS
        self.compiled_signature = model.compiled_signature if compiled_single else None

    def warm_up(self) -> None:
        """Tag one sentence so the first real request does not pay for graph and spaCy setup,
        and one of every compiled width, so no request waits for XLA to compile."""
        self.tag_texts([WARM_UP_TEXT])
        if self.compiled_signature is not None:
            for width in range(COMPILED_WIDTH_STEP, COMPILED_MAX_WIDTH + 1, COMPILED_WIDTH_STEP):
                self.predict([["warm"] * width])

    def tag_texts(self, texts: list[str], pretokenized: bool = False) -> list[dict]:
        """Tokenize raw texts (or split pre-tokenized ones on whitespace) and tag them."""
        return self.tag(tokenize_texts(texts, pretokenized), texts)

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
        for indices in self._batches(order, sentences):
            batch = [sentences[i] for i in indices]
            for i, outputs in zip(indices, self._run_batch(batch), strict=True):
                results[i] = outputs
        return results

    def _batches(self, order: list[int], sentences: list[list[str]]) -> Iterator[list[int]]:
        """Cut the length-sorted `order` into batches of at most `batch_size` sentences.

        The network's cost grows with the padded cells, and a fixed sentence count pads a batch
        of long sentences to its longest one, so batches also stop at `max_cells` padded cells.
        Not for a model with an intent head: it pools over the padded time axis, and a float sum
        over a different padded width can move its confidence in the fourth decimal. Per-token
        outputs do not depend on the padded width.
        """
        batch: list[int] = []
        for i in order:
            width = len(sentences[i])  # the widest so far, since `order` is sorted by length
            full = len(batch) == self.batch_size or (len(batch) + 1) * width > self.max_cells
            if batch and full:
                yield batch
                batch = []
            batch.append(i)
        if batch:
            yield batch

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
        padded = np.full((len(batch), int(lengths.max())), PAD_TOKEN, dtype=object)
        for row, sentence in enumerate(batch):
            padded[row, : len(sentence)] = sentence
        outputs = self._signature_for(batch)(tokens=tf.constant(padded, dtype=tf.string))
        arrays = {key: value.numpy() for key, value in outputs.items()}
        if not np.array_equal(arrays["lengths"], lengths):
            raise ModelCorrupt(
                f"model at {self.model.path} returned lengths {arrays['lengths'].tolist()} "
                f"for sentences of {lengths.tolist()} tokens; it must count non-empty tokens"
            )
        return _split_rows(arrays, self.model.heads, lengths)

    def _signature_for(self, batch: list[list[str]]) -> Callable[..., dict[str, Any]]:
        if self.compiled_signature is not None and len(batch) == 1 and len(batch[0]) <= COMPILED_MAX_WIDTH:
            return self.compiled_signature
        return self.model.signature


def _split_rows(
    arrays: dict[str, np.ndarray], heads: tuple[str, ...], lengths: np.ndarray
) -> list[dict[str, Any]]:
    """Cut batch arrays into per-sentence Python values, dropping the padding columns.

    Each array is converted to Python once for the whole batch (`tolist` of its unpadded cells,
    row after row) and then sliced per sentence, instead of a NumPy slice, decode and conversion
    per sentence and head.
    """
    ends = np.cumsum(lengths).tolist()
    bounds = list(zip([0] + ends[:-1], ends, strict=True))
    per_token: dict[str, list] = {}
    for head, confidence_key in (("slots", "slot_confidence"), ("pos", "pos_confidence")):
        if head in heads:
            valid = np.arange(arrays[head].shape[1])[None, :] < lengths[:, None]
            per_token[head] = _label_strings(arrays[head][valid])
            per_token[confidence_key] = _rounded(arrays[confidence_key][valid])
    per_sentence: dict[str, list] = {}
    if "intent" in heads:
        per_sentence["intent"] = _label_strings(arrays["intent"])
        per_sentence["intent_confidence"] = _rounded(arrays["intent_confidence"])
    return [
        {
            **{key: values[begin:end] for key, values in per_token.items()},
            **{key: values[row] for key, values in per_sentence.items()},
        }
        for row, (begin, end) in enumerate(bounds)
    ]


def _label_strings(labels: np.ndarray) -> list[str]:
    """UTF-8 label bytes as `str`, decoding each distinct label once."""
    values = labels.tolist()
    decoded = {label: label.decode("utf-8") for label in set(values)}
    return [decoded[label] for label in values]


def _rounded(confidences: np.ndarray) -> list[float]:
    """Confidences rounded to 4 places as Python floats."""
    # float64 before rounding, or float32 0.9 rounds back to 0.8999999761581421.
    return np.round(confidences.astype(np.float64), 4).tolist()


def _shape(tokens: list[Token], text: str, outputs: dict[str, Any]) -> dict:
    """The client's answer for one sentence: tokens, each head's outputs, entities."""
    result: dict[str, Any] = {"tokens": [token.text for token in tokens], **outputs}
    if "slots" in outputs:
        result["entities"] = group_entities(
            tokens, outputs["slots"], outputs["slot_confidence"], text
        )
    return result
