"""axe-core, the accessibility rules engine, from the npm registry for the browser tests.

``install()`` puts the pinned ``axe-core`` into ``<repo>/.cache/npm`` with
``npm install --prefix`` (beside Prism; idempotent: nothing is fetched when the pinned
version is there) and returns ``axe.min.js``, which a test injects into the page it checks
(Playwright's ``add_script_tag(path=...)``; no CDN). Command line (CI setup):
``python -m tools.harness.axe install``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tools.harness.prism import DEFAULT_PREFIX, _installed_version

PACKAGE, VERSION = "axe-core", "4.14.1"


def install(prefix: Path = DEFAULT_PREFIX, timeout: float = 600) -> Path:
    """The path of ``axe.min.js`` of the pinned axe-core under ``prefix``, installed unless present;
    raises ``RuntimeError`` with npm's message when npm fails."""
    script = prefix / "node_modules" / PACKAGE / "axe.min.js"
    if script.is_file() and _installed_version(prefix, PACKAGE) == VERSION:
        return script
    prefix.mkdir(parents=True, exist_ok=True)
    cmd = ["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--loglevel=error"]
    done = subprocess.run([*cmd, f"{PACKAGE}@{VERSION}"], capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0 or not script.is_file():
        raise RuntimeError(f"npm install {PACKAGE}@{VERSION} failed ({done.returncode}): {done.stderr[-2000:]}")
    return script


if __name__ == "__main__":
    if sys.argv[1:] != ["install"]:
        sys.exit("usage: python -m tools.harness.axe install")
    print(install())
