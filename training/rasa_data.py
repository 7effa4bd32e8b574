"""Rasa NLU training data read into examples with character spans.

A chatbot team keeps its intents and entities in Rasa's files: Rasa 3.x YAML (`nlu:` blocks with
inline `[text](entity)` markup) or the older `{"rasa_nlu_data": ...}` JSON. `read_nlu` takes one
such file or a folder of them and merges everything into one NluData, so the tagger can train on
that data as it is kept. Like training.readers, every problem stops reading with a DatasetError
reading `path:line: what is wrong`, the line being the bad example's own. Tokens are not this
module's business: training.rasa_alignment turns the spans into BIO tags.

Decisions where Rasa leaves room:
- An entity's `value` defaults to its own text; where that text (lower-cased) is a synonym, from a
  `- synonym:` block or from another entity annotated with a different value, it becomes the
  synonym's value. One synonym text mapped to two values is an error, not last-one-wins.
- In JSON, `start`/`end` decide the span. A `value` that differs from the span's text declares a
  synonym, as Rasa documents, unless that value is found in the text overlapping the span: that is
  what shifted offsets look like, so it is reported instead of training on half a word.
- `stories` and `rules` (dialogue data, valid in the same files) are skipped; example and intent
  `metadata` is accepted and ignored.
"""

from __future__ import annotations

import bisect
import json
import json.decoder
import json.scanner
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from training.rasa_markup import Annotation, MarkupError, annotation_from_fields, json_kind, parse_markup
from training.readers import DatasetError

DATA_SUFFIXES = (".yml", ".yaml", ".json")

_TOP_LEVEL_KEYS = ("version", "nlu")
_SKIPPED_TOP_LEVEL_KEYS = ("stories", "rules")
_BLOCK_KEYS = {
    "intent": ("examples", "metadata"),
    "synonym": ("examples",),
    "lookup": ("examples",),
    "regex": ("examples",),
}
_JSON_SECTIONS = ("common_examples", "entity_synonyms", "lookup_tables", "regex_features")
_JSON_EXAMPLE_KEYS = ("text", "intent", "entities", "metadata")
_JSON_ENTITY_KEYS = ("start", "end", "value", "entity", "role", "group")
_YAML_NULL = "tag:yaml.org,2002:null"


@dataclass(frozen=True)
class Entity:
    """One entity of an example: `text == example.text[start:end]`."""

    start: int
    end: int
    text: str
    entity: str
    value: str
    role: str | None = None
    group: str | None = None


@dataclass(frozen=True)
class Example:
    """One training utterance; `source` is `path:line` so later steps can point back at it."""

    text: str
    intent: str
    entities: tuple[Entity, ...]
    source: str


@dataclass(frozen=True)
class NluData:
    """Everything read from one file or folder, merged in file order.

    `synonyms` maps a synonym's text, lower-cased, to its canonical value; `per_file_counts` maps
    each file read (including those with no examples) to its number of examples.
    """

    examples: tuple[Example, ...]
    synonyms: dict[str, str]
    lookups: dict[str, list[str]]
    regexes: dict[str, list[str]]
    per_file_counts: dict[str, int]


def _error(path: Path, line: int, what: str) -> DatasetError:
    return DatasetError(f"{path}:{line}: {what}")


class _Collector:
    """Gathers what the files hold, checking what only makes sense across files (synonym clashes)."""

    def __init__(self) -> None:
        self.examples: list[Example] = []
        self.synonyms: dict[str, tuple[str, str]] = {}  # text.lower() -> (value, where it was defined)
        self.lookups: dict[str, list[str]] = {}
        self.regexes: dict[str, list[str]] = {}
        self.per_file_counts: dict[str, int] = {}

    def add_example(self, path: Path, line: int, text: str, intent: str, annotations: Iterable[Annotation]) -> None:
        entities = []
        for annotation in sorted(annotations, key=lambda a: (a.start, a.end)):
            span = text[annotation.start : annotation.end]
            if entities and annotation.start < entities[-1].end:
                before = entities[-1]
                raise _error(
                    path,
                    line,
                    f"entities {before.entity!r} ({before.start}-{before.end} {before.text!r}) and "
                    f"{annotation.entity!r} ({annotation.start}-{annotation.end} {span!r}) overlap",
                )
            value = span if annotation.value is None else annotation.value
            if value != span:
                self.add_synonym(path, line, span, value)
            entities.append(Entity(annotation.start, annotation.end, span, annotation.entity, value,
                                   annotation.role, annotation.group))
        self.examples.append(Example(text, intent, tuple(entities), f"{path}:{line}"))
        self.per_file_counts[str(path)] += 1

    def add_synonym(self, path: Path, line: int, text: str, value: str) -> None:
        key = text.lower()
        known = self.synonyms.get(key)
        if known is not None and known[0] != value:
            raise _error(path, line, f"synonym {text!r} maps to {value!r} here but to {known[0]!r} at {known[1]}")
        if known is None:
            self.synonyms[key] = (value, f"{path}:{line}")

    def add_regex(self, path: Path, line: int, name: str, pattern: str) -> None:
        try:
            re.compile(pattern)
        except re.error as err:
            raise _error(path, line, f"regex {name!r}: pattern {pattern!r} does not compile ({err})") from None
        self.regexes.setdefault(name, []).append(pattern)

    def result(self) -> NluData:
        synonyms = {key: value for key, (value, _) in self.synonyms.items()}

        def canonical(entity: Entity) -> Entity:
            if entity.value == entity.text and entity.text.lower() in synonyms:
                return replace(entity, value=synonyms[entity.text.lower()])
            return entity

        examples = tuple(replace(ex, entities=tuple(map(canonical, ex.entities))) for ex in self.examples)
        return NluData(examples, synonyms, self.lookups, self.regexes, self.per_file_counts)


# --- files ---------------------------------------------------------------------------------------


def _data_files(path: Path) -> list[Path]:
    if path.is_file():
        if path.suffix.lower() not in DATA_SUFFIXES:
            raise DatasetError(f"{path}: not a Rasa NLU file (expected {', '.join(DATA_SUFFIXES)})")
        return [path]
    if not path.is_dir():
        raise DatasetError(f"{path}: file or folder not found")
    files = sorted(
        file
        for file in path.rglob("*")
        if file.is_file()
        and file.suffix.lower() in DATA_SUFFIXES
        and not any(part.startswith(".") for part in file.relative_to(path).parts)
    )
    if not files:
        raise DatasetError(f"{path}: no {', '.join(DATA_SUFFIXES)} files in this folder")
    return files


def _read_text(path: Path) -> str:
    """The file's text, decoded strictly so a wrong encoding fails at its line, without a BOM."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise DatasetError(f"{path}: cannot read ({err.strerror})") from None
    try:
        return raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise _error(path, line, f"not valid UTF-8 (byte 0x{raw[err.start]:02x})") from None


def read_nlu(path: Path) -> NluData:
    """Read a Rasa NLU file (.yml, .yaml, .json) or every such file under a folder, sorted, merged."""
    collector = _Collector()
    for file in _data_files(path):
        collector.per_file_counts[str(file)] = 0
        text = _read_text(file)
        if file.suffix.lower() == ".json":
            _read_json(file, text, collector)
        else:
            _read_yaml(file, text, collector)
    return collector.result()


# --- YAML ----------------------------------------------------------------------------------------


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _describe(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return "nothing" if node.tag == _YAML_NULL else repr(node.value)


def _mapping(path: Path, node: yaml.Node, what: str) -> list[tuple[str, yaml.Node, yaml.Node]]:
    """The (key, key node, value node) triples of a mapping, refusing duplicate and non-text keys."""
    if not isinstance(node, yaml.MappingNode):
        raise _error(path, _line(node), f"{what} must be a mapping of keys, found {_describe(node)}")
    seen: dict[str, int] = {}
    triples = []
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            raise _error(path, _line(key_node), f"keys of {what} must be names, found {_describe(key_node)}")
        key = key_node.value
        if key in seen:
            raise _error(path, _line(key_node), f"duplicate key {key!r} (first at line {seen[key]})")
        seen[key] = _line(key_node)
        triples.append((key, key_node, value_node))
    return triples


def _read_yaml(path: Path, text: str, collector: _Collector) -> None:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        what = ", ".join(part for part in (err.context, err.problem) if part)
        raise _error(path, mark.line + 1 if mark else 1, f"invalid YAML: {what}") from None
    except yaml.reader.ReaderError as err:
        line = text.count("\n", 0, err.position) + 1
        character = chr(err.character) if isinstance(err.character, int) else err.character
        raise _error(path, line, f"invalid YAML: character {character!r} is not allowed") from None
    if root is None:
        raise DatasetError(f"{path}: file is empty")
    nlu = None
    for key, key_node, value in _mapping(path, root, "the file"):
        if key == "nlu":
            nlu = value
        elif key == "version":
            if not isinstance(value, yaml.ScalarNode) or value.tag == _YAML_NULL:
                raise _error(path, _line(key_node), f'version must be a string like "3.1", found {_describe(value)}')
        elif key not in _SKIPPED_TOP_LEVEL_KEYS:
            allowed = f"{', '.join(_TOP_LEVEL_KEYS)}; {' and '.join(_SKIPPED_TOP_LEVEL_KEYS)} are skipped"
            what = f"unknown top-level key {key!r} (allowed: {allowed})"
            raise _error(path, _line(key_node), what)
    if nlu is None:
        return
    if not isinstance(nlu, yaml.SequenceNode):
        what = f"nlu must be a list of {', '.join(_BLOCK_KEYS)} blocks, found {_describe(nlu)}"
        raise _error(path, _line(nlu), what)
    for block in nlu.value:
        _read_block(path, block, collector)


def _read_block(path: Path, node: yaml.Node, collector: _Collector) -> None:
    """One `- intent:`, `- synonym:`, `- lookup:` or `- regex:` item of the `nlu` list."""
    fields = _mapping(path, node, "an item of nlu")
    kinds = [key for key, _, _ in fields if key in _BLOCK_KEYS]
    if len(kinds) != 1:
        found = f"found {' and '.join(kinds)}" if kinds else f"found {', '.join(key for key, _, _ in fields)}"
        raise _error(path, _line(node), f"an item of nlu needs exactly one of {', '.join(_BLOCK_KEYS)} ({found})")
    kind = kinds[0]
    name_key, name_node = next((key_node, value) for key, key_node, value in fields if key == kind)
    name = _block_name(path, name_key, name_node, kind)
    examples_node = None
    for key, key_node, value in fields:
        if key == "examples":
            examples_node = value
        elif key != kind and key not in _BLOCK_KEYS[kind]:
            allowed = ", ".join((kind, *_BLOCK_KEYS[kind]))
            raise _error(path, _line(key_node), f"unknown key {key!r} in {kind} {name!r} (allowed: {allowed})")
    examples = _example_lines(path, examples_node, kind, name) if examples_node is not None else []
    if not examples:
        raise _error(path, _line(name_key), f"{kind} {name!r} has no examples")
    if kind == "intent":
        for line, raw in examples:
            try:
                text, annotations = parse_markup(raw)
            except MarkupError as err:
                raise _error(path, line, str(err)) from None
            collector.add_example(path, line, text, name, annotations)
    elif kind == "synonym":
        for line, raw in examples:
            collector.add_synonym(path, line, raw, name)
    elif kind == "lookup":
        collector.lookups.setdefault(name, []).extend(raw for _, raw in examples)
    else:
        for line, raw in examples:
            collector.add_regex(path, line, name, raw)


def _block_name(path: Path, key_node: yaml.Node, node: yaml.Node, kind: str) -> str:
    if not isinstance(node, yaml.ScalarNode):
        raise _error(path, _line(key_node), f"{kind} name must be a string, found {_describe(node)}")
    if node.tag == _YAML_NULL or not node.value.strip():
        raise _error(path, _line(key_node), f"empty {kind} name")
    return node.value


def _example_lines(path: Path, node: yaml.Node, kind: str, name: str) -> list[tuple[int, str]]:
    """(line, text) of each example: `examples: |` lines starting `- `, or the `- text:` list form."""
    if isinstance(node, yaml.ScalarNode):
        if node.tag == _YAML_NULL:
            return []
        if node.style != "|":
            what = f"examples of {kind} {name!r} must be a literal block (`examples: |`) of `- ` lines"
            raise _error(path, _line(node), what)
        examples = []
        first_line = node.start_mark.line + 2  # the block's text starts on the line after `|`
        for offset, raw in enumerate(node.value.split("\n")):
            stripped = raw.strip()
            if not stripped:
                continue
            if stripped == "-":
                raise _error(path, first_line + offset, "empty example")
            if not stripped.startswith("- "):
                raise _error(path, first_line + offset, f"example line must start with '- ', found {stripped!r}")
            examples.append((first_line + offset, stripped[2:].strip()))
        return examples
    if isinstance(node, yaml.SequenceNode):
        return [_listed_example(path, item) for item in node.value]
    raise _error(path, _line(node), f"examples of {kind} {name!r} must be a `|` block or a list, found a mapping")


def _listed_example(path: Path, node: yaml.Node) -> tuple[int, str]:
    """One `- text: ...` (with optional `metadata`) entry of the extended examples form."""
    text_node = None
    for key, key_node, value in _mapping(path, node, "an entry of examples"):
        if key == "text":
            text_node = value
        elif key != "metadata":
            raise _error(path, _line(key_node), f"unknown key {key!r} in an example (allowed: text, metadata)")
    if text_node is None:
        raise _error(path, _line(node), "example has no text")
    if (
        not isinstance(text_node, yaml.ScalarNode)
        or text_node.tag == _YAML_NULL
        or not text_node.value.strip()
    ):
        raise _error(path, _line(text_node), "example text is empty or not a string")
    line = _line(text_node) + (1 if text_node.style in ("|", ">") else 0)
    text = text_node.value.strip()
    if "\n" in text:
        raise _error(path, line, "example text spans several lines")
    return line, text


# --- JSON ----------------------------------------------------------------------------------------


class _JsonObject(dict):
    """A JSON object that remembers the line of its `{`, since the json module keeps no positions."""

    line = 1


class _DuplicateKey(Exception):
    def __init__(self, key: str, line: int) -> None:
        super().__init__(key)
        self.key, self.line = key, line


def _decode_json(text: str) -> object:
    """json.loads, except that objects come back as _JsonObject with their line numbers.

    The standard decoder's object parser is wrapped rather than replaced, so the grammar and the
    syntax errors stay the json module's own.
    """
    newlines = [match.start() for match in re.finditer("\n", text)]
    decoder = json.JSONDecoder()

    def parse_object(
        s_and_end: tuple[str, int], strict: bool, scan_once: Callable, object_hook: object,
        object_pairs_hook: object, memo: dict | None = None,
    ) -> tuple[_JsonObject, int]:
        pairs, end = json.decoder.JSONObject(s_and_end, strict, scan_once, None, list, memo)
        obj = _JsonObject()
        obj.line = bisect.bisect_right(newlines, s_and_end[1] - 1) + 1
        for key, value in pairs:
            if key in obj:
                raise _DuplicateKey(key, obj.line)
            obj[key] = value
        return obj, end

    decoder.parse_object = parse_object
    decoder.scan_once = json.scanner.py_make_scanner(decoder)
    return decoder.decode(text)


def _object(path: Path, value: object, line: int, what: str, allowed: tuple[str, ...]) -> _JsonObject:
    if not isinstance(value, _JsonObject):
        raise _error(path, line, f"{what} must be an object {{...}}, found {json_kind(value)}")
    unknown = [key for key in value if key not in allowed]
    if unknown:
        raise _error(path, value.line, f"unknown key {unknown[0]!r} in {what} (allowed: {', '.join(allowed)})")
    return value


def _list(path: Path, obj: _JsonObject, key: str) -> list:
    value = obj.get(key, [])
    if not isinstance(value, list):
        raise _error(path, obj.line, f'"{key}" must be a list, found {json_kind(value)}')
    return value


def _string(path: Path, obj: _JsonObject, key: str, what: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value.strip():
        found = "nothing" if key not in obj else json_kind(value) if not isinstance(value, str) else "an empty string"
        raise _error(path, obj.line, f'{what} needs a non-empty "{key}" string, found {found}')
    return value


def _strings(path: Path, obj: _JsonObject, key: str, what: str) -> list[str]:
    values = _list(path, obj, key)
    if not values or not all(isinstance(value, str) and value.strip() for value in values):
        raise _error(path, obj.line, f'"{key}" of {what} must be a non-empty list of non-empty strings')
    return values


def _read_json(path: Path, text: str, collector: _Collector) -> None:
    try:
        root = _decode_json(text)
    except json.JSONDecodeError as err:
        raise _error(path, err.lineno, f"invalid JSON: {err.msg}") from None
    except _DuplicateKey as err:
        raise _error(path, err.line, f"duplicate key {err.key!r}") from None
    top = _object(path, root, 1, "the file", ("rasa_nlu_data",))
    if "rasa_nlu_data" not in top:
        raise _error(path, top.line, 'no "rasa_nlu_data" object')
    data = _object(path, top["rasa_nlu_data"], top.line, '"rasa_nlu_data"', _JSON_SECTIONS)
    for item in _list(path, data, "common_examples"):
        _json_example(path, _object(path, item, data.line, "a common example", _JSON_EXAMPLE_KEYS), collector)
    for item in _list(path, data, "entity_synonyms"):
        synonym = _object(path, item, data.line, "an entity synonym", ("value", "synonyms"))
        value = _string(path, synonym, "value", "an entity synonym")
        for synonym_text in _strings(path, synonym, "synonyms", "an entity synonym"):
            collector.add_synonym(path, synonym.line, synonym_text, value)
    for item in _list(path, data, "lookup_tables"):
        table = _object(path, item, data.line, "a lookup table", ("name", "elements"))
        name = _string(path, table, "name", "a lookup table")
        collector.lookups.setdefault(name, []).extend(_strings(path, table, "elements", "a lookup table"))
    for item in _list(path, data, "regex_features"):
        regex = _object(path, item, data.line, "a regex feature", ("name", "pattern"))
        collector.add_regex(path, regex.line, _string(path, regex, "name", "a regex feature"),
                            _string(path, regex, "pattern", "a regex feature"))


def _json_example(path: Path, example: _JsonObject, collector: _Collector) -> None:
    text = _string(path, example, "text", "a common example")
    intent = _string(path, example, "intent", "a common example")
    annotations = [
        _json_entity(path, _object(path, item, example.line, "an entity", _JSON_ENTITY_KEYS), text)
        for item in _list(path, example, "entities")
    ]
    collector.add_example(path, example.line, text, intent, annotations)


def _json_entity(path: Path, entity: _JsonObject, text: str) -> Annotation:
    for key in ("start", "end"):
        if key not in entity:
            raise _error(path, entity.line, f'entity has no "{key}"')
        if not isinstance(entity[key], int) or isinstance(entity[key], bool):
            raise _error(path, entity.line, f'entity "{key}" must be an integer, found {json_kind(entity[key])}')
    start, end = entity["start"], entity["end"]
    if start >= end:
        raise _error(path, entity.line, f"entity span {start}-{end} is empty (start must be before end)")
    if start < 0 or end > len(text):
        raise _error(path, entity.line, f"entity span {start}-{end} is outside the text ({len(text)} characters)")
    if not text[start:end].strip():
        raise _error(path, entity.line, f"entity span {start}-{end} holds only whitespace")
    fields = {key: entity[key] for key in ("entity", "role", "group", "value") if key in entity}
    try:
        annotation = annotation_from_fields(fields, start, end)
    except MarkupError as err:
        raise _error(path, entity.line, f"entity: {err}") from None
    misplaced = _misplaced_value(text, start, end, annotation.value)
    if misplaced:
        raise _error(
            path,
            entity.line,
            f"entity span {start}-{end} reads {text[start:end]!r} but its value {annotation.value!r} is at "
            f"{misplaced[0]}-{misplaced[1]}: the offsets look shifted (start/end decide the span; a value "
            f"that differs from the span's text declares a synonym)",
        )
    return annotation


def _misplaced_value(text: str, start: int, end: int, value: str | None) -> tuple[int, int] | None:
    """Where `value` sits in `text` overlapping but not equal to the span, or None if it does not."""
    if value is None or text[start:end].lower() == value.lower():
        return None
    for match in re.finditer(re.escape(value), text, re.IGNORECASE):
        if match.start() < end and match.end() > start:
            return match.start(), match.end()
    return None
