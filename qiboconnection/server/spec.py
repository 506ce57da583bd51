"""Finding and loading openapi.yaml, the single description of the protocol."""

from __future__ import annotations

from pathlib import Path
from typing import Any

_CANDIDATES = (
    Path(__file__).with_name("openapi.yaml"),
    Path(__file__).resolve().parents[2] / "openapi.yaml",
)


def spec_path(explicit: Path | None = None) -> Path:
    """The spec file: ``explicit`` if given, else the packaged copy, else the repository's."""
    if explicit is not None:
        return Path(explicit)
    for candidate in _CANDIDATES:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("openapi.yaml not found next to the server package or at the repository root")


def load_spec(explicit: Path | None = None) -> dict[str, Any]:
    """The parsed spec as a dict."""
    import yaml

    with spec_path(explicit).open(encoding="utf-8") as handle:
        spec: dict[str, Any] = yaml.safe_load(handle)
    return spec
