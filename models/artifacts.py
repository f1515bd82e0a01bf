"""Model artifacts: a folder with ``model.joblib``, model cards and ``manifest.json``.

The manifest lists every file with its SHA-256 and size, and records the label-set
version, policy, thresholds, training-data fingerprint (hashes and counts, never text),
library and code versions. Loading verifies the manifest FIRST — every listed file
hashed, no unknown or missing file, optional HMAC-SHA256 signature — and only then
unpickles. A pickle is code: never load one that has not been verified.

Signature: ``manifest.sig`` holds hex HMAC-SHA256 of the exact bytes of manifest.json with
an operator key (env ``SIGNAAL_MODEL_KEY`` or a key file). When a key is configured, an
unsigned or wrongly signed model is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import sys
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

FORMAT = "signaal-model/1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
MODEL_FILE = "model.joblib"
# Models that ship with (or were trained into) the package folder are trusted like the
# code itself; any other folder must be signed, or trained on this machine (the trainer
# records its manifest's hash here: hashes only, never text).
PACKAGE_MODELS_DIR = Path(__file__).resolve().parent
TRUST_FILE_ENV = "SIGNAAL_TRUST_FILE"


def trust_file() -> Path:
    default = Path.home() / ".local" / "share" / "signaal" / "trusted-models.json"
    return Path(os.environ.get(TRUST_FILE_ENV) or default)


def record_trusted(manifest_bytes: bytes) -> None:
    """Remember a manifest this machine wrote, so its model may be loaded without a key."""
    path = trust_file()
    try:
        known = set(json.loads(path.read_text("utf-8"))) if path.is_file() else set()
    except (ValueError, OSError):
        known = set()
    known.add(sha256_bytes(manifest_bytes))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(sorted(known)), encoding="utf-8")
    tmp.replace(path)


def is_trusted(manifest_bytes: bytes) -> bool:
    path = trust_file()
    try:
        return path.is_file() and sha256_bytes(manifest_bytes) in set(json.loads(path.read_text("utf-8")))
    except (ValueError, OSError):
        return False
KEY_ENV = "SIGNAAL_MODEL_KEY"


class ArtifactError(ValueError):
    """A model folder failed verification; the message says which file and why."""


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def canonical_json(data: Any) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


# --- keys and signatures -----------------------------------------------------------------
def read_key(key_file: str | Path | None = None) -> bytes | None:
    """The operator key: from ``key_file`` when given, else env SIGNAAL_MODEL_KEY, else None."""
    if key_file:
        key = Path(key_file).read_bytes().strip()
        if not key:
            raise ArtifactError(f"key file {key_file} is empty")
        return key
    env = os.environ.get(KEY_ENV, "").strip()
    return env.encode("utf-8") if env else None


def sign(manifest_bytes: bytes, key: bytes) -> str:
    return hmac.new(key, manifest_bytes, hashlib.sha256).hexdigest()


# --- training-data fingerprint ----------------------------------------------------------
def _norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def data_fingerprint(records: list[dict]) -> dict:
    """SHA-256 of the sorted normalised records (text or client/counselor turns + sorted
    labels; ids left out) and counts per label. Never any text."""
    lines = []
    counts: Counter = Counter()
    kinds: Counter = Counter()
    for r in records:
        labels = sorted(set(r.get("labels", [])))
        counts.update(labels)
        if "messages" in r:
            kinds["conversations"] += 1
            body: Any = [[m.get("role", "client"), _norm(m.get("text", ""))] for m in r["messages"]]
        else:
            kinds["messages"] += 1
            body = _norm(r.get("text", ""))
        lines.append(json.dumps([body, labels], ensure_ascii=False, separators=(",", ":")))
    lines.sort()
    digest = hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()
    return {
        "sha256": digest,
        "n_records": len(records),
        "kinds": dict(sorted(kinds.items())),
        "label_counts": dict(sorted(counts.items())),
        "unlabelled": sum(1 for r in records if not r.get("labels")),
    }


# --- save --------------------------------------------------------------------------------
def _intern_strings(obj, seen: set[int] | None = None):
    """Make every equal string one object (sys.intern) throughout an estimator, in place.

    Pickle memoises by object identity, so whether two equal strings are written once or
    twice depends on how they were created; interning makes the bytes depend on values
    only (a reproducible artifact across processes)."""
    seen = set() if seen is None else seen
    if isinstance(obj, str):
        return sys.intern(obj)
    if id(obj) in seen or isinstance(obj, int | float | bool | bytes | type(None)):
        return obj
    seen.add(id(obj))
    if isinstance(obj, dict):
        items = [(_intern_strings(k, seen), _intern_strings(v, seen)) for k, v in obj.items()]
        obj.clear()
        obj.update(items)
        return obj
    if isinstance(obj, list):
        obj[:] = [_intern_strings(v, seen) for v in obj]
        return obj
    if isinstance(obj, tuple):
        return type(obj)(_intern_strings(v, seen) for v in obj) if type(obj) is tuple else obj
    if hasattr(obj, "__dict__") and not isinstance(obj, type):
        _intern_strings(vars(obj), seen)
    return obj


def _dump_estimator(estimator) -> bytes:
    import joblib

    if hasattr(estimator, "strip_training_state"):
        estimator.strip_training_state()
    _intern_strings(estimator)
    buf = io.BytesIO()
    joblib.dump(estimator, buf, compress=("zlib", 3))
    return buf.getvalue()


def save_artifact(
    folder: str | Path, estimator, metadata: dict, files: dict[str, bytes], key: bytes | None = None
) -> dict:
    """Write the model folder. ``files`` are extra files (cards) by plain name.

    Refuses to write into a folder holding files it does not know (never deletes what a
    person put there); replaces a previous model's own files."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    payload = {MODEL_FILE: _dump_estimator(estimator), **files}
    for name in payload:
        if Path(name).name != name or name in (MANIFEST, SIGNATURE):
            raise ArtifactError(f"bad artifact file name {name!r}")
    previous = set()
    if (folder / MANIFEST).is_file():
        try:
            previous = set(json.loads((folder / MANIFEST).read_text("utf-8")).get("files", {}))
        except (ValueError, OSError):
            previous = set()
    ours = previous | set(payload) | {MANIFEST, SIGNATURE}
    foreign = sorted(p.name for p in folder.iterdir() if p.name not in ours)
    if foreign:
        raise ArtifactError(
            f"{folder} holds files that are not part of a model: {foreign}; "
            "choose an empty or new folder"
        )
    for name in previous - set(payload):
        (folder / name).unlink(missing_ok=True)
    for name, data in payload.items():
        (folder / name).write_bytes(data)
    manifest = dict(metadata)
    manifest["format"] = FORMAT
    manifest["files"] = {
        name: {"sha256": sha256_bytes(data), "bytes": len(data)}
        for name, data in sorted(payload.items())
    }
    manifest_bytes = canonical_json(manifest)
    (folder / MANIFEST).write_bytes(manifest_bytes)
    record_trusted(manifest_bytes)
    sig = folder / SIGNATURE
    if key:
        sig.write_text(sign(manifest_bytes, key) + "\n", encoding="ascii")
    else:
        sig.unlink(missing_ok=True)
    return manifest


# --- verify and load ----------------------------------------------------------------------
def verify_artifact(folder: str | Path, key: bytes | None = None) -> dict:
    """Check a model folder without unpickling anything; return its manifest.

    Raises ArtifactError on: no manifest, unknown format, an unknown or missing file,
    a sub-folder, a size or SHA-256 mismatch, a bad or missing signature (when a key is
    configured), or a label set different from this Signaal's."""
    from signaal.signals.labels import LABEL_IDS, label_set_version

    folder = Path(folder)
    if not folder.is_dir():
        raise ArtifactError(f"{folder} is not a model folder")
    path = folder / MANIFEST
    if not path.is_file():
        raise ArtifactError(f"{folder}: no {MANIFEST}; refusing to load an unverified model")
    manifest_bytes = path.read_bytes()
    try:
        manifest = json.loads(manifest_bytes.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ArtifactError(f"{path}: not valid JSON ({exc.__class__.__name__})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArtifactError(f"{path}: unknown manifest format (expected {FORMAT})")
    listed = manifest.get("files")
    if not isinstance(listed, dict) or MODEL_FILE not in listed:
        raise ArtifactError(f"{path}: the manifest does not list {MODEL_FILE}")
    if key is None:
        key = read_key()
    sig_path = folder / SIGNATURE
    if key:
        if not sig_path.is_file():
            raise ArtifactError(f"{folder}: a signing key is configured but the model is unsigned")
        expected = sign(manifest_bytes, key)
        if not hmac.compare_digest(sig_path.read_text("ascii", errors="replace").strip(), expected):
            raise ArtifactError(
                f"{sig_path}: signature does not match (wrong key or changed manifest)"
            )
    allowed = set(listed) | {MANIFEST, SIGNATURE}
    present = {p.name: p for p in folder.iterdir()}
    unknown = sorted(name for name in present if name not in allowed)
    if unknown:
        raise ArtifactError(f"{folder}: unknown file(s) not in the manifest: {unknown}")
    for name, meta in sorted(listed.items()):
        if Path(name).name != name:
            raise ArtifactError(f"{path}: bad file name in manifest: {name!r}")
        p = present.get(name)
        if p is None or not p.is_file():
            raise ArtifactError(f"{folder}: file {name} listed in the manifest is missing")
        if p.stat().st_size != meta.get("bytes") or sha256_file(p) != meta.get("sha256"):
            raise ArtifactError(
                f"{folder / name}: SHA-256 does not match the manifest "
                "(file changed or corrupted); refusing to load"
            )
    if (
        manifest.get("label_set_version") != label_set_version()
        or tuple(manifest.get("labels", ())) != LABEL_IDS
    ):
        raise ArtifactError(
            f"{folder}: trained for label set {manifest.get('label_set_version')}, "
            f"this Signaal uses {label_set_version()}; retrain the model"
        )
    return manifest


def sign_artifact(folder: str | Path, key: bytes) -> None:
    """Sign an existing model: verify its files (without a key), then write manifest.sig."""
    folder = Path(folder)
    (folder / SIGNATURE).unlink(missing_ok=True)
    verify_artifact(folder, key=b"")  # hashes and file list only; b"" = no key
    sig = sign((folder / MANIFEST).read_bytes(), key)
    (folder / SIGNATURE).write_text(sig + "\n", encoding="ascii")


def load_artifact(folder: str | Path, key: bytes | None = None):
    """Verify, then unpickle; returns a ``SignaalModel``.

    Unpickling can run code, so the model must also be trusted: signed with the operator's
    key, in the package's models folder, or written by a trainer on this machine. The model
    file is read once; the bytes that were hashed are the bytes that are unpickled."""
    import joblib

    from signaal.models.classifier import SignaalClassifier, SignaalModel

    folder = Path(folder)
    if key is None:
        key = read_key()
    manifest = verify_artifact(folder, key)
    inside_package = PACKAGE_MODELS_DIR in folder.resolve().parents
    # the trust store holds hashes of manifests as the trainer wrote them (canonical JSON)
    if not (key or inside_package or is_trusted(canonical_json(manifest))):
        raise ArtifactError(
            f"{folder}: an unsigned model from elsewhere; refusing to unpickle it. Train it on "
            "this machine, or sign it (`signaal models sign`) and set SIGNAAL_MODEL_KEY")
    data = (folder / MODEL_FILE).read_bytes()
    if sha256_bytes(data) != manifest["files"][MODEL_FILE]["sha256"]:
        raise ArtifactError(f"{folder}: changed while loading; refusing to load")
    estimator = joblib.load(io.BytesIO(data))
    if not isinstance(estimator, SignaalClassifier):
        raise ArtifactError(f"{folder / MODEL_FILE}: not a SignaalClassifier")
    return SignaalModel(estimator, manifest, str(folder))
