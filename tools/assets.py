"""The dashboard's front-end libraries, from the npm registry into the files careline serves.

``install()`` fetches the pinned ``leaflet`` (the street map, ``careline.web.street_map``) into
``<repo>/.cache/npm`` with ``npm install --prefix`` (as ``tools.harness.axe`` does for axe-core;
idempotent: nothing is fetched when the pinned version is there) and copies its ``dist`` files
(``leaflet.js``, ``leaflet.css``, ``images/``) into ``careline/static/vendor/leaflet/``, which the
dashboard serves under ``/static/vendor/leaflet/`` (never a CDN). ``scripts/setup`` runs it; the
image build (docker/Dockerfile) copies the installed files with the package and checks they are
there. Without them the board keeps its schematic map.

Command line: ``python -m tools.assets install``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from config.settings import REPO_ROOT
from tools.harness.prism import DEFAULT_PREFIX, _installed_version

PACKAGE, VERSION = "leaflet", "1.9.4"
TARGET = REPO_ROOT / "careline" / "static" / "vendor" / "leaflet"
FILES = ("leaflet.js", "leaflet.css", "LICENSE")


def install(prefix: Path = DEFAULT_PREFIX, target: Path = TARGET, timeout: float = 600) -> Path:
    """The folder holding the pinned Leaflet's ``leaflet.js`` and ``leaflet.css``, installed from
    npm under ``prefix`` unless present; raises ``RuntimeError`` with npm's message when npm fails
    or is missing."""
    package = prefix / "node_modules" / PACKAGE
    if _installed_version(prefix, PACKAGE) != VERSION:
        prefix.mkdir(parents=True, exist_ok=True)
        cmd = ["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--loglevel=error"]
        try:
            done = subprocess.run([*cmd, f"{PACKAGE}@{VERSION}"], capture_output=True, text=True, timeout=timeout)
        except FileNotFoundError:
            raise RuntimeError("npm not found: install Node.js and npm (README, 'Set up and run')") from None
        if done.returncode != 0 or not (package / "dist" / "leaflet.js").is_file():
            raise RuntimeError(f"npm install {PACKAGE}@{VERSION} failed ({done.returncode}): {done.stderr[-2000:]}")
    stamp = target / "VERSION"
    if stamp.is_file() and stamp.read_text().strip() == VERSION and all((target / f).is_file() for f in FILES):
        return target
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for name in FILES:
        shutil.copy2(package / "dist" / name if name != "LICENSE" else package / name, target / name)
    shutil.copytree(package / "dist" / "images", target / "images")
    stamp.write_text(VERSION + "\n")
    return target


if __name__ == "__main__":
    if sys.argv[1:] != ["install"]:
        sys.exit("usage: python -m tools.assets install")
    print(install())
