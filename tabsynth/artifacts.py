"""Model folders: weights as safetensors plus a JSON manifest. No pickle anywhere.

Layout of a model folder (declared once, here)::

    MODEL_DIR/
      manifest.json       tabsynth version, model, config, schema, transformer state, ledger,
                          training record, SHA-256 of the weights file
      weights.safetensors state dicts of the generator's modules (tensors only)

Loading checks the manifest's format and version, the weights' hash, and the tensors'
names and shapes before anything is used; safetensors never executes code. The folder is
written to a temporary sibling and renamed, so a failed save leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ._version import __version__
from .entity import RowsPerEntity
from .exceptions import IncompatibleModelError, SchemaError
from .io import sha256_file
from .marginals import MarginalSet
from .privacy import PrivacyError, PrivacyLedger
from .synthesizers._data import Layout
from .synthesizers._trainer import TrainResult, resolve_device
from .synthesizers.registry import MODELS, build_model
from .transform import DPTableTransformer

if TYPE_CHECKING:
    from .synthesizers.synthesizer import Synthesizer

__all__ = ["MANIFEST", "WEIGHTS", "load_synthesizer", "save_synthesizer"]

MANIFEST = "manifest.json"
WEIGHTS = "weights.safetensors"
FORMAT = "tabsynth-model"
FORMAT_VERSION = 1


def _flat_state(model: Any) -> dict[str, torch.Tensor]:
    return {
        f"{name}.{k}": v.detach().cpu().contiguous()
        for name, module in model.modules().items()
        for k, v in module.state_dict().items()
    }


def save_synthesizer(synth: Synthesizer, path: Path) -> Path:
    """Write ``synth`` to the folder ``path`` atomically (replacing an existing model folder)."""
    path = Path(path)
    if path.exists() and not (path / MANIFEST).exists():
        raise IncompatibleModelError(f"{path} exists and is not a tabsynth model folder; choose another --out.")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        save_file(_flat_state(synth.generator_), str(tmp / WEIGHTS))
        manifest = _manifest(synth, sha256_file(tmp / WEIGHTS))
        manifest["integrity"] = _integrity(manifest)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return path


def _manifest(synth: Synthesizer, weights_sha256: str) -> dict[str, Any]:
    result: TrainResult | None = synth.train_result_
    model = synth.generator_
    params = synth.get_params()
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "tabsynth_version": __version__,
        "model": synth.model,
        "params": {**params, "epsilon": synth.epsilon},
        "model_config": model.config.to_dict(),
        "cond_columns": [synth.transformer_.encoders_[c].name for c in model.cond_columns],
        "transformer": synth.transformer_.to_dict(),
        "ledger": synth.ledger_.to_dict(),
        "training": synth.manifest_.get("training")
        if result is None and hasattr(synth, "manifest_")
        else None
        if result is None
        else {
            "noise_multiplier": result.noise_multiplier,
            "sample_rate": result.sample_rate,
            "steps": result.steps,
            "stopped_early": result.stopped_early,
            "max_grad_norm": synth.max_grad_norm,
            "sampling": "poisson",
            "accountant": "rdp",
            "world_size": result.world_size,  # > 1: trained data-parallel (same accounting)
        },
        "weights": {"file": WEIGHTS, "sha256": weights_sha256},
        # DP outputs of the quality filter (issue 17); absent in older folders and without the filter.
        **({"marginals": m.to_dict()} if (m := getattr(synth, "marginals_", None)) is not None else {}),
        # Entity-level DP (issue 18): the entity column's name (public: the curator's declaration)
        # and the DP rows-per-entity distribution; absent without an entity.
        **(
            {"entity": {"column": synth.entity_, "rows_per_entity": synth.rows_per_entity_.to_dict()}}
            if getattr(synth, "entity_", None) is not None and synth.rows_per_entity_ is not None
            else {}
        ),
    }


def _integrity(manifest: dict[str, Any]) -> str:
    """SHA-256 of the manifest's canonical JSON (without this field), weights hash included.

    It detects edits of the manifest (a changed ledger, schema or epsilon) by anyone who does not
    also recompute it; it is not a signature (see docs/privacy.md).
    """
    body = {k: v for k, v in manifest.items() if k != "integrity"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _read_manifest(path: Path) -> dict[str, Any]:
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise IncompatibleModelError(
            f"{path} is not a tabsynth model folder (no {MANIFEST}). Train one with 'tabsynth fit'."
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise IncompatibleModelError(
            f"{manifest_path} is not valid JSON ({exc}); the model folder is damaged."
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise IncompatibleModelError(f"{manifest_path} is not a tabsynth model manifest.")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IncompatibleModelError(
            f"Model format {manifest.get('format_version')!r} is not supported by tabsynth {__version__} "
            f"(expects {FORMAT_VERSION}); refit the model with this version."
        )
    if manifest.get("model") not in MODELS:
        raise IncompatibleModelError(f"Unknown model type {manifest.get('model')!r} in {manifest_path}.")
    if manifest.get("integrity") != _integrity(manifest):
        raise IncompatibleModelError(
            f"{manifest_path} was edited after it was written (its integrity digest does not match): "
            "its ledger and settings cannot be trusted. Refit the model, or restore the original folder."
        )
    return manifest


def _load_weights(path: Path, manifest: dict[str, Any]) -> dict[str, torch.Tensor]:
    weights_path = path / WEIGHTS
    if not weights_path.is_file():
        raise IncompatibleModelError(f"{weights_path} is missing; the model folder is incomplete.")
    expected = manifest.get("weights", {}).get("sha256")
    if sha256_file(weights_path) != expected:
        raise IncompatibleModelError(
            f"{weights_path} does not match the SHA-256 in the manifest: the model was modified or damaged."
        )
    try:
        return load_file(str(weights_path))
    except (SafetensorError, OSError) as exc:
        raise IncompatibleModelError(f"{weights_path} is not a valid safetensors file ({exc}).") from None


def load_synthesizer(cls: type[Synthesizer], path: Path, *, device: str = "auto") -> Synthesizer:
    """Rebuild a fitted synthesizer from a model folder."""
    path = Path(path)
    manifest = _read_manifest(path)
    weights = _load_weights(path, manifest)
    try:
        params = dict(manifest["params"])
        params["device"] = device
        synth = cls(**params)
        transformer = DPTableTransformer.from_dict(manifest["transformer"])
        ledger = PrivacyLedger.from_dict(manifest["ledger"])
        names = [e.name for e in transformer.encoders_]
        cond = tuple(names.index(c) for c in manifest["cond_columns"])
    except (KeyError, TypeError, ValueError, PrivacyError) as exc:
        raise IncompatibleModelError(f"The manifest in {path} is inconsistent ({exc}).") from None
    torch_device = resolve_device(device)
    model = build_model(
        synth.model,
        Layout.from_transformer(transformer),
        cond,
        manifest["model_config"],
        generator=torch.Generator().manual_seed(0),
    )
    _restore_state(model, weights, path)
    for module in model.modules().values():
        module.to(torch_device).eval()
    synth.restore_fitted(transformer, model, ledger, None, torch_device, manifest=manifest)
    # DP outputs of the quality filter (issue 17); older folders have none
    synth.marginals_ = MarginalSet.from_dict(manifest["marginals"]) if "marginals" in manifest else None
    entity = manifest.get("entity")
    try:
        synth.entity_ = str(entity["column"]) if entity else None
        synth.rows_per_entity_ = RowsPerEntity.from_dict(entity["rows_per_entity"]) if entity else None
    except (KeyError, TypeError, ValueError, SchemaError) as exc:
        raise IncompatibleModelError(f"The manifest in {path} has an unreadable entity section ({exc}).") from None
    return synth


def _restore_state(model: Any, weights: dict[str, torch.Tensor], path: Path) -> None:
    for name, module in model.modules().items():
        prefix = f"{name}."
        state = {k[len(prefix) :]: v for k, v in weights.items() if k.startswith(prefix)}
        try:
            module.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            first = str(exc).splitlines()[0]
            raise IncompatibleModelError(f"The weights in {path} do not fit the model ({first}).") from None
