#!/usr/bin/env python3
"""Independent check of the shipped schema catalog.

Uses the reference Python implementation of JSON Schema (the `jsonschema`
package, >= 4.18) rather than our own validator:

- every `catalog/<name>/<major>.<minor>.json` is a valid Draft 2020-12 schema
  (`Draft202012Validator.check_schema`), whose `$id` names its own file;
- every document in its `examples` validates, with format checking on;
- every schema has a citizen-facing title (`x-title`) in each language of the
  portal (English, French, Dutch); validators ignore the keyword.

References resolve only among the catalog files; nothing is fetched from the
network (an unknown reference is an error). Exits non-zero on any failure and
prints a summary line.

Usage: python3 schemas/check_catalog.py [catalog-dir]
"""

import json
import re
import sys
from pathlib import Path

try:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError
    from referencing import Registry, Resource
    from referencing.exceptions import NoSuchResource
    from referencing.jsonschema import DRAFT202012
except ImportError:  # pragma: no cover
    sys.exit("check_catalog: needs the jsonschema package >= 4.18 (pip install jsonschema)")

ID_PATTERN = re.compile(r"^https://crossroads\.example/schemas/(?P<name>[^/]+)/(?P<version>\d+\.\d+)$")
TITLE_LANGUAGES = ("en", "fr", "nl")
VERSION_FILE = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.json$")


def refuse_remote(uri):
    """Registry retrieval hook: the catalog is closed, never go to the network."""
    raise NoSuchResource(ref=uri)


def load(catalog_dir):
    documents = []
    for path in sorted(catalog_dir.glob("*/*")):
        if not VERSION_FILE.match(path.name):
            raise ValueError(f"{path}: not named <major>.<minor>.json")
        with path.open(encoding="utf-8") as f:
            documents.append((path, json.load(f)))
    return documents


def main(argv):
    catalog_dir = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent / "catalog"
    failures = []
    try:
        documents = load(catalog_dir)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if not documents:
        print(f"error: no schema found under {catalog_dir}", file=sys.stderr)
        return 1

    registry = Registry(retrieve=refuse_remote).with_resources(
        (doc.get("$id", str(path)), Resource.from_contents(doc, default_specification=DRAFT202012))
        for path, doc in documents
    )

    examples = 0
    for path, doc in documents:
        where = f"{path.parent.name}/{path.name}"
        try:
            Draft202012Validator.check_schema(doc)
        except SchemaError as e:
            failures.append(f"{where}: not a valid 2020-12 schema: {e.message}")
            continue
        if doc.get("$schema") != "https://json-schema.org/draft/2020-12/schema":
            failures.append(f"{where}: $schema is not Draft 2020-12")
        match = ID_PATTERN.match(doc.get("$id", ""))
        if not match or (match["name"], match["version"] + ".json") != (path.parent.name, path.name):
            failures.append(f"{where}: $id {doc.get('$id')!r} does not name this file")
        if not doc.get("examples"):
            failures.append(f"{where}: no examples")
        titles = doc.get("x-title")
        if not isinstance(titles, dict):
            failures.append(f"{where}: no x-title object")
        else:
            for lang in TITLE_LANGUAGES:
                title = titles.get(lang)
                if not isinstance(title, str) or not title.strip():
                    failures.append(f"{where}: no x-title in {lang!r}")

        validator = Draft202012Validator(
            doc, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
        )
        for index, example in enumerate(doc.get("examples", [])):
            errors = sorted(validator.iter_errors(example), key=lambda e: list(e.absolute_path))
            for error in errors:
                at = "/" + "/".join(str(p) for p in error.absolute_path)
                failures.append(f"{where}: example {index} at {at}: {error.message}")
            if not errors:
                examples += 1

    for failure in failures:
        print(f"FAIL {failure}", file=sys.stderr)
    if failures:
        print(f"catalog: {len(documents)} schemas, {len(failures)} failure(s)")
        return 1
    print(f"catalog: {len(documents)} schemas, {examples} examples valid")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
