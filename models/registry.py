"""Model names -> folders. ``NAME`` is a folder shipped next to this file (``models/NAME``,
e.g. ``default``), else the argument is taken as a path to a model folder."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from signaal.models.artifacts import MANIFEST, ArtifactError, load_artifact, verify_artifact

MODELS_DIR = Path(__file__).parent
DEFAULT_NAME = "default"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
log = logging.getLogger(__name__)


def resolve(name_or_path: str | Path) -> Path:
    """The folder for a model name or path; ArtifactError when there is none."""
    text = str(name_or_path)
    if _NAME.match(text) and (MODELS_DIR / text / MANIFEST).is_file():
        return MODELS_DIR / text
    path = Path(text).expanduser()
    if path.is_dir():
        return path
    shipped = ", ".join(sorted(m.name for m in list_model_dirs())) or "none"
    raise ArtifactError(f"no model named or at {text!r} (shipped models: {shipped})")


def load_model(name_or_path: str | Path, key: bytes | None = None):
    """Verify and load a model: a ``SignaalModel`` for ``Analyzer(model=...)``."""
    return load_artifact(resolve(name_or_path), key)


def load_default_model(key: bytes | None = None):
    """The shipped default model, or None when it is not installed (rules only)."""
    folder = MODELS_DIR / DEFAULT_NAME
    if not (folder / MANIFEST).is_file():
        log.info("no default model shipped; rules only")
        return None
    return load_artifact(folder, key)


def list_model_dirs(extra: list[Path] | None = None) -> list[Path]:
    roots = [MODELS_DIR, *(extra or [])]
    found = []
    for root in roots:
        if (root / MANIFEST).is_file():
            found.append(root)
        elif root.is_dir():
            found.extend(sorted(p for p in root.iterdir() if (p / MANIFEST).is_file()))
    return found


def describe(folder: Path) -> dict:
    """Summary of a model folder for `signaal models list` (verifies; never unpickles)."""
    try:
        manifest = verify_artifact(folder)
        status = "ok"
    except ArtifactError as exc:
        status = f"REFUSED: {exc}"
        try:
            manifest = json.loads((folder / MANIFEST).read_text("utf-8"))
        except (OSError, ValueError):
            manifest = {}
    data = manifest.get("training_data", {})
    from signaal.models.train import source_fingerprint

    built_from = manifest.get("code", {}).get("source_sha256")
    return {
        "current_source": built_from == source_fingerprint(),
        "name": manifest.get("name", folder.name),
        "path": str(folder),
        "status": status,
        "created": manifest.get("created"),
        "labels": manifest.get("label_set_version"),
        "n_train": data.get("n_records"),
        "data_sha256": (data.get("sha256") or "")[:12],
        "signed": (folder / "manifest.sig").is_file(),
        "bytes": sum(f.get("bytes", 0) for f in manifest.get("files", {}).values()),
    }
