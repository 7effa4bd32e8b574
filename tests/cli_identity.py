"""Byte-identity check: this tree's batch CLI against a base commit's, same model, same input.

    python -m tests.cli_identity --model models/ewt --input /tmp/ewt.txt [--base ac42b30]

Exports the base commit's `service/` with `git archive` into a temporary folder and runs
`python -m service.cli tag` from there and from this tree, once per option set in `VARIANTS`
(raw and `--pretokenized` input, JSON and CoNLL output). Output bytes, stderr and exit codes must
be the same, except for the fields added since the base on purpose (`ADDED_FIELDS`: the intent
ranking and the entity's parts and value, issue 21): a JSON line counts as the same when it is
the base's line byte for byte once those fields are taken out. Prints one JSON line; exits 1 if
anything differs.
"""

from __future__ import annotations

import argparse
import filecmp
import io
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASE_COMMIT = "ac42b30"  # the CLI before the fast-tagging changes
ADDED_FIELDS = {"result": ("intent_ranking",), "entity": ("entity", "role", "group", "value")}
_JSON = json.JSONEncoder(ensure_ascii=False)  # the CLI's own encoder settings
VARIANTS = (
    (),
    ("--pretokenized",),
    ("--format", "conll"),
    ("--pretokenized", "--format", "conll"),
)


def export_service(commit: str, target: Path) -> Path:
    """Write `commit`'s `service/` under `target`; return `target`, a root to run it from."""
    archive = subprocess.run(["git", "archive", commit, "service"], cwd=ROOT, check=True,
                             capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target


def run_cli(root: Path, model: Path, source: Path, output: Path,
            options: tuple[str, ...]) -> subprocess.CompletedProcess:
    """The CLI of the `service/` under `root`, as a user runs it."""
    command = [sys.executable, "-m", "service.cli", "tag", "--model", str(model), "--input",
               str(source), "--output", str(output), "--no-progress", *options]
    return subprocess.run(command, cwd=root, capture_output=True, check=False)


def compare(model: Path, source: Path, base_root: Path) -> list[dict]:
    """One record per variant: whether output bytes, stderr and exit code match the base's."""
    records = []
    with tempfile.TemporaryDirectory(prefix="cli-identity-") as tmp:
        for options in VARIANTS:
            base_out, new_out = Path(tmp) / "base.out", Path(tmp) / "new.out"
            base = run_cli(base_root, model.resolve(), source.resolve(), base_out, options)
            new = run_cli(ROOT, model.resolve(), source.resolve(), new_out, options)
            records.append({
                "options": " ".join(options),
                "bytes": base_out.stat().st_size,
                "identical": filecmp.cmp(base_out, new_out, shallow=False) or _same_without_added(base_out, new_out),
                "same_stderr": base.stderr == new.stderr,
                "same_exit_code": base.returncode == new.returncode,
                "exit_code": new.returncode,
            })
    return records


def _same_without_added(base_out: Path, new_out: Path) -> bool:
    """Whether each JSON line of `new_out`, without `ADDED_FIELDS`, is `base_out`'s line byte for byte."""
    base_lines = base_out.read_bytes().split(b"\n")
    new_lines = new_out.read_bytes().split(b"\n")
    if len(base_lines) != len(new_lines):
        return False
    for base_line, new_line in zip(base_lines, new_lines, strict=True):
        if base_line == new_line:
            continue
        try:
            result = json.loads(new_line)
        except ValueError:
            return False
        if not isinstance(result, dict) or _JSON.encode(_without_added(result)).encode("utf-8") != base_line:
            return False
    return True


def _without_added(result: dict) -> dict:
    kept = {key: value for key, value in result.items() if key not in ADDED_FIELDS["result"]}
    if "entities" in kept:
        kept["entities"] = [
            {key: value for key, value in entity.items() if key not in ADDED_FIELDS["entity"]}
            for entity in kept["entities"]
        ]
    return kept


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.cli_identity", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="models/<name> or a version folder")
    parser.add_argument("--input", type=Path, required=True, help="one sentence per line")
    parser.add_argument("--base", default=BASE_COMMIT, help="the commit whose CLI is the reference")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="cli-base-") as tmp:
        records = compare(args.model, args.input, export_service(args.base, Path(tmp)))
    same = all(r["identical"] and r["same_stderr"] and r["same_exit_code"] for r in records)
    print(json.dumps({"base": args.base, "model": str(args.model), "input": str(args.input),
                      "variants": records, "all_identical": same}))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
