"""Convert between our seq folders (seq.in, seq.out, label) and Rasa NLU YAML.

    python -m training.convert --from seq --to rasa-yaml IN_DIR OUT.yml
    python -m training.convert --from rasa --to seq IN.yml|IN.json|IN_DIR OUT_DIR

So a team can move its data either way: seq → YAML writes each sentence as its tokens joined by
single spaces with inline `[text](entity)` markup (the `{"entity": ..., "role": ...}` form when
the slot label carries a role or group), one `- intent:` block per intent in order of first
appearance, so sentences of interleaved intents come out grouped. Rasa → seq tokenizes with the
serving tokenizer through training.rasa_alignment and lists any span it had to widen on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from service.slot_labels import parse_slot_label
from training.rasa_alignment import AlignmentReport, align
from training.rasa_data import read_nlu
from training.rasa_markup import Annotation, MarkupError, format_markup
from training.readers import DatasetError, Sentence, read_seq_split

RASA_VERSION = "3.1"
_TARGETS = {"seq": "rasa-yaml", "rasa": "seq"}


def _annotations(sentence: Sentence, where: str) -> tuple[str, list[Annotation]]:
    """The sentence's text (tokens joined by single spaces) and its BIO entities as character spans."""
    starts, position = [], 0
    for token in sentence.tokens:
        starts.append(position)
        position += len(token) + 1
    text = " ".join(sentence.tokens)
    spans: list[tuple[str, int, int]] = []  # label, first token, last token
    for i, tag in enumerate(sentence.slots or ()):
        if tag.startswith("B-"):
            spans.append((tag[2:], i, i))
        elif tag.startswith("I-"):
            if not spans or spans[-1][0] != tag[2:] or spans[-1][2] != i - 1:
                raise DatasetError(f"{where}: tag {tag!r} of token {i + 1} continues no B-{tag[2:]} before it")
            spans[-1] = (spans[-1][0], spans[-1][1], i)
    annotations = []
    for label, first, last in spans:
        try:
            entity, role, group = parse_slot_label(label)
        except ValueError as err:
            raise DatasetError(f"{where}: {err}") from None
        end = starts[last] + len(sentence.tokens[last])
        annotations.append(Annotation(starts[first], end, entity, role, group))
    return text, annotations


def _yaml_scalar(value: str) -> str:
    """`value` as YAML reads it back: plain when that is safe, else JSON-quoted (valid YAML too)."""
    try:
        if yaml.safe_load(f"key: {value}") == {"key": value}:
            return value
    except yaml.YAMLError:
        pass
    return json.dumps(value, ensure_ascii=False)


def seq_to_rasa_yaml(folder: Path) -> tuple[str, int]:
    """A Rasa YAML document holding the seq split in `folder`, and how many examples it has."""
    sentences = read_seq_split(folder)
    by_intent: dict[str, list[str]] = {}
    for number, sentence in enumerate(sentences, start=1):
        if sentence.intent is None:
            raise DatasetError(f"{folder / 'label'}: file not found (every Rasa example belongs to an intent)")
        text, annotations = _annotations(sentence, f"{folder / 'seq.out'}:{number}")
        try:
            marked = format_markup(text, annotations)
        except MarkupError as err:
            raise DatasetError(f"{folder / 'seq.in'}:{number}: {err}") from None
        by_intent.setdefault(sentence.intent, []).append(marked)
    blocks = [
        f"- intent: {_yaml_scalar(intent)}\n  examples: |\n" + "".join(f"    - {line}\n" for line in lines)
        for intent, lines in by_intent.items()
    ]
    return f'version: "{RASA_VERSION}"\n\nnlu:\n' + "\n".join(blocks), len(sentences)


def rasa_to_seq(path: Path, folder: Path) -> tuple[AlignmentReport, int]:
    """Write the Rasa data at `path` as seq.in, seq.out and label in `folder`."""
    data = read_nlu(path)
    sentences, report = align(data)
    for example, sentence in zip(data.examples, sentences):
        for token in sentence.tokens:
            if any(character.isspace() for character in token):
                raise DatasetError(f"{example.source}: token {token!r} holds whitespace, which seq.in cannot")
    folder.mkdir(parents=True, exist_ok=True)
    columns = {
        "seq.in": [" ".join(s.tokens) for s in sentences],
        "seq.out": [" ".join(s.slots or ()) for s in sentences],
        "label": [s.intent or "" for s in sentences],
    }
    for name, lines in columns.items():
        (folder / name).write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return report, len(sentences)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Convert between seq folders and Rasa NLU YAML.")
    parser.add_argument("--from", dest="source", required=True, choices=tuple(_TARGETS), help="format of INPUT")
    parser.add_argument(
        "--to", dest="target", choices=tuple(_TARGETS.values()), help="format of OUTPUT (default: the other one)"
    )
    parser.add_argument("input", type=Path, help="a seq split folder, or a Rasa .yml/.yaml/.json file or folder")
    parser.add_argument("output", type=Path, help="the .yml file to write, or the folder for seq.in/seq.out/label")
    args = parser.parse_args(argv)
    if args.target not in (None, _TARGETS[args.source]):
        parser.error(f"--from {args.source} converts to {_TARGETS[args.source]}, not {args.target}")
    try:
        if args.source == "seq":
            document, count = seq_to_rasa_yaml(args.input)
            args.output.write_text(document, encoding="utf-8")
        else:
            report, count = rasa_to_seq(args.input, args.output)
            print(report.summary(), file=sys.stderr)
    except DatasetError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"error: cannot write {err.filename or args.output} ({err.strerror})", file=sys.stderr)
        return 2
    print(f"wrote {count} examples to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
