"""Fetch the book's JavaScript assets from the npm registry, so that its pages need no CDN.

MathJax 3 (math), require.js and the ipywidgets HTML manager (static widgets), plotly.js (the
interactive twins of some figures).

Usage: python scripts/fetch_assets.py          (called by `make assets`; fast when already done)
       python scripts/fetch_assets.py --force  (fetch and unpack again)

The pinned packages (exact version and the registry's sha512 integrity) are downloaded once with
`npm pack` into .cache/npm/, checked, and a trimmed copy is unpacked into
_vendor/_static/vendor/<name>/. `_config.yml` adds `_vendor` to `html_extra_path`, so the files land
in _build/html/_static/vendor/, where `mathjax_path` and `nb_ipywidgets_js` point. Nothing here is
committed: _vendor/ and .cache/ are in .gitignore.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "npm"
VENDOR = ROOT / "_vendor" / "_static" / "vendor"
STAMP = ROOT / "_vendor" / ".stamp"
# Small hand-written glue, committed, copied next to the fetched files.
GLUE = [ROOT / "book" / "_ext" / "widgets-mathjax-shim.js"]


@dataclass(frozen=True)
class Package:
    """One pinned npm package and the parts of it the book serves."""

    name: str
    version: str
    integrity: str  # sha512, as `npm view NAME@VERSION dist.integrity` prints it
    folder: str  # under _static/vendor/
    keep: tuple[str, ...]  # path prefixes inside the package (after "package/")
    rename: tuple[tuple[str, str], ...] = ()  # (path in the package, path in the folder)

    @property
    def tarball(self) -> str:
        return f"{self.name.lstrip('@').replace('/', '-')}-{self.version}.tgz"


PACKAGES = [
    Package(
        "mathjax",
        "3.2.2",
        "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw==",
        "mathjax",
        # The combined TeX+MathML -> CommonHTML build, the TeX extensions it loads on demand, its
        # fonts, the menu, and the accessibility parts (speech, explorer) readers can switch on.
        ("LICENSE", "package.json", "es5/tex-mml-chtml.js", "es5/input/", "es5/output/chtml",
         "es5/ui/", "es5/a11y/", "es5/sre/"),
    ),
    Package(
        "@jupyter-widgets/html-manager",
        "1.0.15",
        "sha512-5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SABeNz1yp47bCrJ3CQA==",
        "html-manager",
        # embed-amd.js bundles the widget manager and the standard controls; the rest are its fonts.
        ("package.json", "dist/embed-amd.js", "dist/embed.js.LICENSE.txt")
        + tuple(f"dist/{ext}" for ext in ("*.woff2", "*.woff", "*.ttf", "*.eot", "*.svg")),
    ),
    Package(
        "requirejs",
        "2.3.8",
        "sha512-7/cTSLOdYkNBNJcDMWf+luFvMriVm7eYxp4BcFCsAX0wF421Vyce5SXP17c+Jd5otXKGNehIonFlyQXSowL6Mw==",
        "requirejs",
        ("package.json", "require.js"),
    ),
    Package(
        # The plotly.js version the pinned plotly Python package (7.1.0) ships, as the partial bundle
        # with the cartesian traces (heatmap, bar, scatter): 1.5 MB instead of 4.8 MB. Served at
        # _static/vendor/plotly/plotly.min.js, where book/_ext/plotly_assets.py points its pages.
        "plotly.js-cartesian-dist-min",
        "4.1.1",
        "sha512-o8GrFeusncwBIxbBynRJpY4pkgVB6caM+JLpwrLYbbsO7dZ8FJ+SVN2Fr+L7kiG/Z6w4P5O0Jus/Qr5EefHVeg==",
        "plotly",
        ("LICENSE", "package.json", "plotly-cartesian.min.js"),
        rename=(("plotly-cartesian.min.js", "plotly.min.js"),),
    ),
]


def sri(path: Path) -> str:
    """Subresource-integrity string (sha512-<base64>) of a file, as npm records it."""
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def wanted(member: str, keep: tuple[str, ...]) -> bool:
    """Whether a tarball member (path after 'package/') is part of the trimmed copy."""
    for pattern in keep:
        if pattern.startswith("dist/*"):
            if member.startswith("dist/") and "/" not in member[5:] and member.endswith(pattern[6:]):
                return True
        elif member == pattern or member.startswith(pattern.rstrip("/") + "/") or (
            not pattern.endswith("/") and member.startswith(pattern)
        ):
            return True
    return False


def fetch(pkg: Package) -> Path:
    """The package tarball in the cache, downloaded with `npm pack` if needed, integrity checked."""
    path = CACHE / pkg.tarball
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        print(f"assets: npm pack {pkg.name}@{pkg.version}")
        subprocess.run(
            ["npm", "pack", f"{pkg.name}@{pkg.version}", "--pack-destination", str(CACHE), "--silent"],
            check=True, stdout=subprocess.DEVNULL,
        )
    got = sri(path)
    if got != pkg.integrity:
        path.unlink()
        raise SystemExit(f"assets: {pkg.tarball} has integrity {got}, expected {pkg.integrity}")
    return path


def unpack(pkg: Package, tarball: Path) -> int:
    """Extract the kept files into _vendor/_static/vendor/<folder>/; return the bytes written."""
    dest = VENDOR / pkg.folder
    shutil.rmtree(dest, ignore_errors=True)
    total = 0
    with tarfile.open(tarball) as tar:
        for member in tar.getmembers():
            if not member.isfile() or not member.name.startswith("package/"):
                continue
            rel = member.name[len("package/"):]
            if not wanted(rel, pkg.keep):
                continue
            target = dest / dict(pkg.rename).get(rel, rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            assert source is not None
            target.write_bytes(source.read())
            total += member.size
    return total


def fingerprint() -> str:
    """What the unpacked folder was made from: the pins, the trimming rules and the glue files."""
    spec = [[p.name, p.version, p.integrity, p.folder, list(p.keep), list(p.rename)] for p in PACKAGES]
    glue = [hashlib.sha256(g.read_bytes()).hexdigest() for g in GLUE]
    return hashlib.sha256(json.dumps([spec, glue]).encode()).hexdigest()


def main(argv: list[str]) -> int:
    stamp = fingerprint()
    if "--force" not in argv and STAMP.exists() and STAMP.read_text() == stamp:
        print("assets: up to date in _vendor/_static/vendor")
        return 0
    total = 0
    for pkg in PACKAGES:
        total += unpack(pkg, fetch(pkg))
    for glue in GLUE:
        shutil.copyfile(glue, VENDOR / glue.name)
        total += glue.stat().st_size
    STAMP.write_text(stamp)
    print(f"assets: {len(PACKAGES)} packages unpacked into _vendor/_static/vendor ({total / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
