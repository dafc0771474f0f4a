"""book/references.bib: parses, and every entry has what a reader needs to find the work."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pybtex_database = pytest.importorskip("pybtex.database", reason="pybtex comes with the book's requirements")

BIB = Path(__file__).resolve().parents[1] / "book" / "references.bib"


def test_references_parse_with_unique_keys() -> None:
    keys = re.findall(r"^@\w+\{([^,\s]+),", BIB.read_text(encoding="utf-8"), flags=re.MULTILINE)
    assert len(keys) == len(set(keys)), f"duplicate keys: {sorted(k for k in set(keys) if keys.count(k) > 1)}"
    entries = pybtex_database.parse_file(str(BIB)).entries
    assert sorted(entries) == sorted(keys)


def test_entries_are_complete_and_plain() -> None:
    for key, entry in pybtex_database.parse_file(str(BIB)).entries.items():
        missing = [f for f in ("title", "year") if f not in entry.fields]
        missing += [] if entry.persons.get("author") else ["author"]
        missing += [] if {"url", "doi"} & set(entry.fields) else ["url or doi"]
        assert not missing, f"{key} lacks {missing}"
        assert "\\" not in entry.fields["title"], f"{key}: no LaTeX macros in titles (pybtex prints them literally)"
        assert re.fullmatch(r"[a-z]+\d{4}[a-z0-9]+", key), f"{key}: keys look like authorYEARfirstword"
