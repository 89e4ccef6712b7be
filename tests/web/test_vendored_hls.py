"""The vendored hls.js is the release its README names, byte for byte, with its licence."""

from __future__ import annotations

import hashlib
import re
from importlib import resources
from pathlib import Path

VENDOR = Path(__file__).resolve().parents[2] / "mediaserve" / "web" / "vendor" / "hls.js"


def _documented(name: str) -> str:
    readme = (VENDOR / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"\| sha256 \(`{re.escape(name)}`\) \| `([0-9a-f]{{64}})` \|", readme)
    assert match, f"README.md has no sha256 row for {name}"
    return match.group(1)


def test_the_vendored_files_match_the_sums_in_the_readme() -> None:
    for name in ("hls.min.mjs", "LICENSE"):
        digest = hashlib.sha256((VENDOR / name).read_bytes()).hexdigest()
        assert digest == _documented(name), f"{name} is not the file the README documents"


def test_it_is_package_data_and_an_es_module_with_its_licence() -> None:
    files = resources.files("mediaserve.web").joinpath("vendor", "hls.js")
    text = files.joinpath("hls.min.mjs").read_text(encoding="utf-8")
    assert re.search(r"export\s*\{[^}]*\bas default\b", text), "not an ES module build"
    assert "Apache License" in files.joinpath("LICENSE").read_text(encoding="utf-8")
    readme = (VENDOR / "README.md").read_text(encoding="utf-8")
    version = re.search(r"version \*\*(\d+\.\d+\.\d+)\*\*", readme)
    assert version and f'"{version.group(1)}"' in text  # the build carries its version
