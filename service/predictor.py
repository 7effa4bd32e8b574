"""Tag batches of sentences with a loaded export, fast and without letting one bad line win.

`predict` only runs the model and decodes its tensors; `_shape` builds the answer a client sees
(tokens, tags, entities). A predictor built with `compiled_single` (the REST server's) runs a lone
sentence through the export's XLA-compiled signature, a fifth faster per call; the CLI keeps the
plain one, so its output never depends on how lines fall into batches. Sentences are sorted by
length before batching so each batch pads to a similar width, a batch holds at most `batch_size`
sentences (and, without an intent head, `MAX_BATCH_CELLS` padded tokens), the signature is called
once per batch, and answers come back in the caller's order. Input that cannot be tagged gets an
`{"error": ...}` in its place. An intent head's answer also ranks the `intent_ranking` most
likely intents, as Rasa does; entities carry the `value` the training data's synonyms give them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import tensorflow as tf

from service.entities import group_entities
from service.errors import EmptyInput, InputError, InputTooLong, ModelCorrupt
from service.export_contract import COMPILED_MAX_WIDTH, COMPILED_WIDTH_STEP, HEAD_KINDS, HEAD_OUTPUTS, HEADS, PAD_TOKEN
from service.model_store import LoadedModel
from service.settings import INTENT_RANKING
from service.tokenizer import Token, tokenize_texts

WARM_UP_TEXT = "Book a flight from Boston to New York tomorrow."
# Padded tokens per model call (128 sentences of 32 tokens) for models without an intent head:
# batches of long sentences get fewer sentences, so a batch's longest sentence pads fewer others.
MAX_BATCH_CELLS = 4096


class Predictor:
    """Wraps a `LoadedModel`; build once per process (CLI run, REST worker), not per call."""

    def __init__(
        self,
        model: LoadedModel,
        batch_size: int = 256,
        max_tokens: int = 512,
        compiled_single: bool = False,
        intent_ranking: int = INTENT_RANKING,
    ) -> None:
        if batch_size < 1 or max_tokens < 1 or intent_ranking < 0:
            raise ValueError(
                f"batch_size and max_tokens must be >= 1 and intent_ranking >= 0: "
                f"{batch_size}, {max_tokens}, {intent_ranking}"
            )
        self.model = model
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self.intent_ranking = intent_ranking
        self.intent_labels = model.metadata["labels"].get("intent", [])
        self.synonyms: dict[str, str] = model.metadata.get("synonyms", {})
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
            results[i] = _shape(token_lists[i], texts[i], outputs, self.synonyms)
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
        rows = _split_rows(arrays, self.model.heads, lengths)
        if "intent" in self.model.heads and self.intent_ranking:
            rankings = _rank(arrays["intent_probabilities"], self.intent_labels, self.intent_ranking)
            for row, ranking in zip(rows, rankings, strict=True):
                row["intent_ranking"] = ranking
        return rows

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
    per_sentence: dict[str, list] = {}
    for head in (head for head in HEADS if head in heads):  # the contract's order, whatever the model's
        label_key, confidence_key = HEAD_OUTPUTS[head][:2]
        if HEAD_KINDS[head] == "token":
            valid = np.arange(arrays[label_key].shape[1])[None, :] < lengths[:, None]
            per_token[label_key] = _label_strings(arrays[label_key][valid])
            per_token[confidence_key] = _rounded(arrays[confidence_key][valid])
        else:
            per_sentence[label_key] = _label_strings(arrays[label_key])
            per_sentence[confidence_key] = _rounded(arrays[confidence_key])
    return [
        {
            **{key: values[begin:end] for key, values in per_token.items()},
            **{key: values[row] for key, values in per_sentence.items()},
        }
        for row, (begin, end) in enumerate(bounds)
    ]


def _rank(probabilities: np.ndarray, labels: list[str], size: int) -> list[list[dict[str, Any]]]:
    """The `size` most probable intents of each row, most probable first (the first of equals
    first, as argmax picks it), as `{"name", "confidence"}`."""
    top = np.argsort(-probabilities, axis=1, kind="stable")[:, :size]
    confidences = _rounded(np.take_along_axis(probabilities, top, axis=1))
    return [
        [{"name": labels[i], "confidence": c} for i, c in zip(ids, row, strict=True)]
        for ids, row in zip(top.tolist(), confidences, strict=True)
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


def _shape(tokens: list[Token], text: str, outputs: dict[str, Any], synonyms: dict[str, str]) -> dict:
    """The client's answer for one sentence: tokens, each head's outputs, entities."""
    result: dict[str, Any] = {"tokens": [token.text for token in tokens], **outputs}
    if "slots" in outputs:
        result["entities"] = group_entities(
            tokens, outputs["slots"], outputs["slot_confidence"], text, synonyms
        )
    return result
