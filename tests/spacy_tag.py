"""The spaCy side of the paired benchmark: tag pretokenized sentences with the baseline tagger.

    python -m tests.spacy_tag --tagger models/spacy-ewt-tagger --input FILE --output FILE

The counterpart of `python -m service.cli tag --pretokenized`: one sentence per line, tokens
split on whitespace and handed to spaCy as a `Doc` (so its tokenizer does not run), tagged in
batches by `nlp.pipe`, one JSON line of tokens and tags written per sentence.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path

BATCH_SIZE = 256


def tag_lines(tagger: Path, source: Path, target: Path) -> int:
    """Tag every line of `source` into `target`; return the number of tokens tagged."""
    import spacy
    from spacy.tokens import Doc

    nlp = spacy.load(tagger)

    def docs(lines: Iterator[str]) -> Iterator[Doc]:
        for line in lines:
            yield Doc(nlp.vocab, words=line.split())

    tokens = 0
    with source.open(encoding="utf-8") as lines, target.open("w", encoding="utf-8") as sink:
        for doc in nlp.pipe(docs(lines), batch_size=BATCH_SIZE):
            words = [token.text for token in doc]
            sink.write(json.dumps({"tokens": words, "pos": [token.tag_ for token in doc]},
                                  ensure_ascii=False) + "\n")
            tokens += len(words)
    return tokens


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.spacy_tag", description=__doc__)
    parser.add_argument("--tagger", type=Path, required=True, help="a trained spaCy pipeline")
    parser.add_argument("--input", type=Path, required=True, help="one sentence per line")
    parser.add_argument("--output", type=Path, required=True, help="one JSON line per sentence")
    args = parser.parse_args(argv)
    tokens = tag_lines(args.tagger, args.input, args.output)
    print(f"tagged {tokens} tokens", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
