"""Store notebooks clean: no outputs, no execution counts, no editor metadata.

Usage: python scripts/clean_notebooks.py [notebooks/*.ipynb]   (default: every notebook)
       python scripts/clean_notebooks.py --check                 (exit 1 if any is not clean)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

KEEP_NOTEBOOK_METADATA = {"kernelspec", "language_info"}
KEEP_CELL_METADATA = {"tags"}


def clean(nb: dict) -> dict:
    """Return the notebook dict without outputs, execution counts or editor metadata."""
    nb["metadata"] = {k: v for k, v in nb.get("metadata", {}).items() if k in KEEP_NOTEBOOK_METADATA}
    for cell in nb["cells"]:
        cell["metadata"] = {k: v for k, v in cell.get("metadata", {}).items() if k in KEEP_CELL_METADATA}
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return nb


def dumps(nb: dict) -> str:
    """Serialise as Jupyter does (1-space indent, trailing newline)."""
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    paths = [Path(a) for a in argv if a != "--check"] or sorted(Path("notebooks").glob("*.ipynb"))
    dirty = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        cleaned = dumps(clean(json.loads(text)))
        if cleaned != text:
            dirty.append(path)
            if not check:
                path.write_text(cleaned, encoding="utf-8")
    if check and dirty:
        print("not clean (run python scripts/clean_notebooks.py):", *map(str, dirty))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
