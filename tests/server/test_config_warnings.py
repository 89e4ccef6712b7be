"""``serve --config`` with a key no setting reads: said once at start-up, not ignored in
silence (a typo such as ``max_conections`` used to change nothing without a word)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.server.conftest import MIB, blob


def test_an_unknown_server_key_is_a_warning_at_start(spawn: Callable[..., object],
                                                    tmp_path: Path) -> None:
    root = tmp_path / "lib"
    root.mkdir()
    (root / "clip.mp4").write_bytes(blob(MIB, seed=31))
    config = tmp_path / "serve.toml"
    config.write_text("[server]\nmax_conections = 5\naccess_log = \"off\"\n", encoding="utf-8")
    child = spawn(str(root), "--port", "0", "--config", str(config),
                  env={"MEDIASERVE_DATA_DIR": str(tmp_path / "data")})
    child.wait_started()  # type: ignore[attr-defined]
    warnings = [line for line in child.stderr.splitlines()  # type: ignore[attr-defined]
                if "unknown setting" in line]
    assert len(warnings) == 1, child.stderr  # type: ignore[attr-defined]
    assert "'max_conections' (did you mean 'max_connections'?)" in warnings[0]
    assert str(config) in warnings[0] and warnings[0].startswith("mediaserve: WARNING: ")
