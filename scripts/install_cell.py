"""Write the shared first cell into every notebook: it installs the course package where it is missing.

In Colab (or any fresh environment) the cell installs `attention_course` from the repository at the
tag of the version this book was built with; locally and on Binder the package is already installed
and the cell does nothing. The repository URL comes from `_config.yml` (its one home) and the
version from `pyproject.toml`.

Usage: python scripts/install_cell.py          (update every notebook in notebooks/)
       python scripts/install_cell.py --check  (exit 1 if a notebook lacks the current cell)
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKER = "# Course set-up (Colab, Binder, local):"


def repository_url() -> str:
    """The repository URL from _config.yml (`repository: url:`)."""
    text = (ROOT / "_config.yml").read_text(encoding="utf-8")
    match = re.search(r"^repository:\s*\n(?:[ \t]+.*\n)*?[ \t]+url:\s*(\S+)", text, flags=re.MULTILINE)
    if not match:
        raise SystemExit("_config.yml has no repository: url:")
    return match.group(1)


def package_version() -> str:
    """The package version from pyproject.toml."""
    with open(ROOT / "pyproject.toml", "rb") as f:
        return str(tomllib.load(f)["project"]["version"])


def cell_source() -> str:
    """The exact source of the shared install cell (lines of at most 79 characters)."""
    url, version = repository_url(), package_version()
    spec = f"attention-course @ git+{url}@v{version}"
    cut = spec.rfind("/", 0, 70) + 1  # the long URL as two strings, joined by Python
    return f'''{MARKER}
# installs the course package only where it is missing.
import importlib.util
import subprocess
import sys

COURSE = (
    "{spec[:cut]}"
    "{spec[cut:]}"
)
if importlib.util.find_spec("attention_course") is None:
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", COURSE], check=True
    )'''


def install_cell() -> dict:
    """The cell as notebook JSON, tagged so the book shows it collapsed."""
    return {"cell_type": "code", "execution_count": None, "id": "course-setup",
            "metadata": {"tags": ["hide-cell"]}, "outputs": [],
            "source": cell_source().splitlines(keepends=True)}


def first_code_cell(nb: dict) -> dict | None:
    return next((c for c in nb["cells"] if c["cell_type"] == "code"), None)


def main(argv: list[str]) -> int:
    check = "--check" in argv
    wanted = install_cell()
    stale = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        first = first_code_cell(nb)
        if first is not None and "".join(first["source"]) == cell_source():
            continue
        stale.append(path.name)
        if check:
            continue
        if first is not None and "".join(first["source"]).startswith(MARKER):
            nb["cells"][nb["cells"].index(first)] = wanted  # refresh an old version
        else:
            index = nb["cells"].index(first) if first is not None else len(nb["cells"])
            nb["cells"].insert(index, wanted)
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    if check and stale:
        print("missing or outdated install cell (run python scripts/install_cell.py):", *stale)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
