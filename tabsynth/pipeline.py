"""The gated release pipeline: private table in, released synthetic table (or nothing) out.

``release(config)`` runs: read -> schema (declared or inferred) -> split a holdout off -> fit
the DP generator on the rest -> sample (optionally rebalanced or fair) -> audit against the
training rows and the holdout -> gate against the policy -> write the release folder.

The folder is built under a hidden temporary name beside the destination and renamed into
place in one step, so a crash or Ctrl-C at any stage leaves no partial release. An existing
release is never replaced unless ``overwrite`` is set.

* PASS (or CONDITIONAL when the policy allows it): ``synthetic.parquet`` / ``.csv``, the DP
  model (``model/``), ``audit.json``, ``report.html`` (+ ``report.json``) and ``manifest.json``
  with the SHA-256 of every input and output.
* FAIL / UNKNOWN: the folder holds only ``audit.json``, the report and the manifest, all marked
  BLOCKED with the failing rules; no synthetic table and no model (a model could generate one).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ._version import __version__
from .audit import AuditConfig, AuditReport, run_audit
from .entity import DEFAULT_MAX_ROWS_PER_ENTITY
from .exceptions import ConfigError, InputError
from .io import read_table, read_yaml_mapping, sha256_file, write_table
from .policy import GateDecision, Outcome, ReleasePolicy, evaluate_policy, load_policy
from .privacy.card import PrivacyCard
from .privacy.plan import parse_epsilon
from .privacy.store import BudgetStore
from .schema import TableSchema, load_schema
from .split import split_holdout, subsample_rows

__all__ = ["ReleaseConfig", "ReleaseProgress", "ReleaseResult", "load_release_config", "release"]

MANIFEST_FORMAT = 1


class RebalanceConfig(BaseModel):
    """Exact class proportions of one categorical column (default: the target)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str | None = None
    proportions: dict[str, float]


class SampleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    n_rows: int | None = Field(default=None, gt=0, description="default: the DP estimate of the training rows")
    rebalance: RebalanceConfig | None = None
    fair: bool = Field(default=False, description="draw the target independently of the sensitive columns")


class ReportConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    audience: Literal["partner", "internal"] = "partner"


class ReleaseConfig(BaseModel):
    """What ``tabsynth release CONFIG.yaml`` reads. Relative paths are relative to the config file."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    input: Path
    output: Path
    table_schema: Path | None = Field(default=None, alias="schema")
    target: str | None = None
    sensitive: tuple[str, ...] = ()
    entity: str | None = Field(
        default=None, description="column naming the person of each row: the guarantee protects whole entities"
    )
    max_rows_per_entity: int | str = Field(
        default=DEFAULT_MAX_ROWS_PER_ENTITY,
        description="with entity: rows kept per entity (1..1000), or 'auto' (chosen with DP)",
    )
    holdout: float = Field(default=0.2, gt=0, lt=1, description="expected share of rows held out for the audit")
    max_input_rows: int | None = Field(
        default=None, gt=0, description="use a keyed-hash subsample of about this many rows (each row kept on its own)"
    )
    model: str = "dp-tvae"
    stratify: bool | Literal["auto"] = Field(
        default="auto", description="one DP generator per target class (auto: a target of 2 to 10 classes of 32+ rows)"
    )
    epsilon: float | None = Field(default=1.0, gt=0)
    delta: float = Field(default=1e-6, gt=0, lt=1)
    epochs: int | None = Field(default=None, gt=0)
    batch_size: int | None = Field(default=None, gt=0)
    seed: int = 0
    device: str = "auto"
    policy: str = "partner"
    formats: tuple[Literal["parquet", "csv"], ...] = ("parquet",)
    sample: SampleConfig = SampleConfig()
    report: ReportConfig = ReportConfig()
    audit: dict[str, Any] = Field(default_factory=dict, description="AuditConfig overrides")
    budget_store: Path | None = Field(default=None, description="JSON ledger of every DP release on this dataset")
    lifetime_epsilon: float | None = Field(default=None, gt=0, description="the dataset's budget across releases")
    curator_key: Path | None = Field(
        default=None, description="file holding a secret key: the manifest then records an HMAC of the input"
    )

    @field_validator("epsilon", mode="before")
    @classmethod
    def _epsilon(cls, value: Any) -> float | None:
        return parse_epsilon(value)  # None / 'none' = no DP; inf and non-positive refused

    @field_validator("formats")
    @classmethod
    def _some_format(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("name at least one output format (parquet, csv)")
        return tuple(dict.fromkeys(value))

    def resolved(self, base: Path) -> ReleaseConfig:
        """A copy whose relative paths (input, output, schema, policy file) start at ``base``."""

        def at(path: Path | None) -> Path | None:
            return None if path is None else (path if path.is_absolute() else base / path)

        policy = self.policy
        if policy.endswith((".yaml", ".yml")) and not Path(policy).is_absolute():
            policy = str(base / policy)
        return self.model_copy(
            update={
                "input": at(self.input),
                "output": at(self.output),
                "table_schema": at(self.table_schema),
                "budget_store": at(self.budget_store),
                "curator_key": at(self.curator_key),
                "policy": policy,
            }
        )

    def audit_config(self) -> AuditConfig:
        try:
            return AuditConfig(**self.audit)
        except TypeError as exc:
            raise ConfigError(
                f"Invalid 'audit' settings in the release config: {exc}; known: {AuditConfig.field_names()}."
            ) from None


def load_release_config(path: str | Path) -> tuple[ReleaseConfig, str]:
    """Read and validate a release config; returns it (paths resolved) and the file's SHA-256.

    Raises:
        ConfigError: the file is missing, not YAML, or not a valid config (every problem listed).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Release config {path} not found: expected a YAML file (see examples/release_adult.yaml).")
    raw, raw_bytes = read_yaml_mapping(
        path, what="Release config", expected="at least 'input' and 'output'", error=ConfigError
    )
    return parse_release_config(raw, where=str(path)).resolved(path.resolve().parent), hashlib.sha256(
        raw_bytes
    ).hexdigest()


def parse_release_config(raw: Mapping[str, Any], *, where: str = "release config") -> ReleaseConfig:
    """Validate a mapping as a :class:`ReleaseConfig` (unknown keys are errors)."""
    try:
        return ReleaseConfig.model_validate(dict(raw))
    except ValidationError as exc:
        problems = []
        for item in exc.errors():
            loc = ".".join(str(p) for p in item["loc"])
            msg = "unknown key (check the spelling)" if item["type"] == "extra_forbidden" else item["msg"]
            problems.append(f"{loc}: {msg}" if loc else str(msg))
        raise ConfigError(f"Invalid {where}: " + "; ".join(problems) + ".") from None


@dataclass(frozen=True, slots=True)
class ReleaseResult:
    """What a release run produced."""

    path: Path
    decision: GateDecision
    audit: AuditReport
    privacy: PrivacyCard
    files: dict[str, str]
    seconds: dict[str, float]

    @property
    def released(self) -> bool:
        return self.decision.released


# ---- helpers ---------------------------------------------------------------------------------
def _split(
    frame: pd.DataFrame, holdout: float, min_rows: int, entity: str | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train / holdout by a keyed hash of each row under a fresh secret key (:func:`tabsynth.split_holdout`).

    With an ``entity`` column the hash is of the entity id alone, so all of an entity's rows land
    on the same side (an entity is never half trained on, half audited against).

    Each row's side depends only on that row, so one added or removed row moves no other row
    between train and holdout. The holdout is internal (the audit's unseen rows); the key is
    never stored.
    """
    if not (0 < holdout < 1):
        raise ConfigError(
            f"holdout must be a share in (0, 1), got {holdout:g}: the split draws each row's side on its own "
            "(a fixed number of rows would make one row's side depend on the others)."
        )
    if entity is not None and entity in frame.columns:
        train_ids, held_ids = split_holdout(frame[[entity]].astype("string").fillna(""), holdout)
        train, held = frame.loc[train_ids.index], frame.loc[held_ids.index]
    else:
        train, held = split_holdout(frame, holdout)
    if min(len(train), len(held)) < min_rows:
        raise ConfigError(
            f"holdout={holdout:g} leaves too few rows on one side: the audit needs at least {min_rows} holdout rows "
            "and the generator at least as many training rows. Use a share nearer 0.5, or a larger table."
        )
    return train.reset_index(drop=True), held.reset_index(drop=True)


def _declared_schema(config: ReleaseConfig) -> TableSchema | None:
    """The declared schema with the config's roles; None lets the fit infer one (with DP under DP)."""
    if config.table_schema is None:
        return None
    schema = load_schema(config.table_schema)
    return schema.with_roles(target=config.target, sensitive=config.sensitive or None)


def _input_digest(config: ReleaseConfig) -> dict[str, str]:
    """A keyed digest of the input when a curator key is given; never a plain hash of the private file.

    A plain SHA-256 is a deterministic function of the data: anyone holding a candidate table
    could confirm it. An HMAC under a key only the curator holds lets the curator (and nobody
    else) check which file a release came from.
    """
    if config.curator_key is None:
        return {"digest": "withheld (set curator_key in the release config to record a keyed HMAC-SHA256)"}
    try:
        key = config.curator_key.read_bytes().strip()
    except OSError as exc:
        raise ConfigError(f"Cannot read the curator key {config.curator_key}: {exc.strerror}.") from None
    if len(key) < 16:
        raise ConfigError(f"The curator key in {config.curator_key} is too short: use at least 16 bytes of secret.")
    mac = hmac.new(key, digestmod=hashlib.sha256)
    with open(config.input, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            mac.update(block)
    return {"hmac_sha256": mac.hexdigest()}


@contextmanager
def _budget_reservation(config: ReleaseConfig) -> Iterator[Callable[[str, float | None], None]]:
    """Reserve this release's budget in the dataset's store before the data is read (exit 3 if over)."""
    if config.budget_store is None:
        if config.lifetime_epsilon is not None:
            raise ConfigError("lifetime_epsilon needs a budget_store (a JSON file that records every release).")
        yield lambda status, spent: None
        return
    if config.lifetime_epsilon is None:
        raise ConfigError("budget_store needs lifetime_epsilon: the dataset's total epsilon across releases.")
    store = BudgetStore(config.budget_store)
    rid = store.reserve(
        str(config.output), epsilon=config.epsilon, delta=config.delta, lifetime_epsilon=config.lifetime_epsilon
    )
    outcome: dict[str, Any] = {"status": "failed", "spent": None}

    def settle(status: str, spent: float | None) -> None:
        outcome.update(status=status, spent=spent)

    try:
        yield settle
    finally:
        store.settle(rid, status=outcome["status"], epsilon_spent=outcome["spent"])


@contextmanager
def _staging(output: Path, overwrite: bool) -> Iterator[Path]:
    """A hidden folder beside ``output``; moved into place only if the block completes."""
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = output.parent / f".{output.name}.partial-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        yield staging
        old = None
        if output.exists():
            if not overwrite:
                raise InputError(f"{output} appeared while the release ran; nothing was overwritten.")
            old = output.parent / f".{output.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(output, old)
        os.replace(staging, output)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _check_output(output: Path, overwrite: bool) -> None:
    if output.exists() and not overwrite:
        raise InputError(
            f"The release folder {output} already exists: an earlier release is never replaced silently. "
            "Choose another 'output' or pass --overwrite."
        )
    if output.exists() and not output.is_dir():
        raise InputError(f"{output} exists and is not a folder; choose another 'output'.")


def _sample(synth: Any, config: ReleaseConfig, schema: TableSchema) -> pd.DataFrame:
    n_rows = config.sample.n_rows or int(synth.transformer_.n_rows_estimate_)
    rebalance = config.sample.rebalance
    if rebalance is not None:
        if config.sample.fair:
            raise ConfigError("sample.rebalance and sample.fair cannot be combined; choose one.")
        column = rebalance.column or schema.target
        if column is None:
            raise ConfigError("sample.rebalance needs a 'column' (or a target in the config or schema).")
        return synth.rebalance(column, rebalance.proportions, n_rows=n_rows, random_state=config.seed + 1)
    return synth.sample(n_rows, fair=config.sample.fair, random_state=config.seed + 1)


def _gated_audit(audit: AuditReport, decision: GateDecision) -> AuditReport:
    """The audit as released: its meta says RELEASED or BLOCKED, with every failing rule and its advice."""
    failing = [o.to_dict() for o in decision.outcomes if o.outcome in (Outcome.FAIL, Outcome.UNKNOWN)]
    release = {
        "status": "RELEASED" if decision.released else "BLOCKED",
        "verdict": decision.verdict.value,
        "policy": decision.policy.name,
        "failing_rules": [
            {k: r[k] for k in ("metric", "hard", "judged_value", "threshold", "reason", "advice")} for r in failing
        ],
    }
    return AuditReport(
        metrics=audit.metrics, meta={**audit.meta, "release": release}, notes=audit.notes, figures=audit.figures
    )


def _write_report(
    folder: Path, audit: AuditReport, decision: GateDecision, privacy: PrivacyCard, audience: str
) -> None:
    from .report import write_report

    write_report(folder / "report.html", audit=audit, decision=decision.to_dict(), privacy=privacy, audience=audience)


def _manifest(
    *,
    config: ReleaseConfig,
    config_sha256: str | None,
    input_digest: dict[str, str],
    policy: ReleasePolicy,
    decision: GateDecision,
    privacy: PrivacyCard,
    model_sha256: str | None,
    files: dict[str, str],
) -> dict[str, Any]:
    return {
        "format": MANIFEST_FORMAT,
        "tabsynth_version": __version__,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "verdict": decision.verdict.value,
        "released": decision.released,
        "input": {"path": str(config.input), **input_digest},
        "config": {"sha256": config_sha256, "settings": config.model_dump(mode="json", by_alias=True)},
        "policy": {"name": policy.name, "path": policy.source, "sha256": policy.sha256},
        "model": {"name": config.model, "sha256": model_sha256},
        "privacy": {
            "epsilon": privacy.epsilon,
            "delta": privacy.delta,
            "is_dp": privacy.is_dp,
            "unit": privacy.unit,  # issue 18: what (epsilon, delta) protects
            "max_rows_per_entity": privacy.max_rows_per_entity,
            "ledger": privacy.to_dict(),
        },
        # Pass/fail per rule only: the judged values are exact statistics of the real rows (audit.json).
        "gate": {
            "verdict": decision.verdict.value,
            "policy": decision.policy.name,
            "rules": [
                {k: r[k] for k in ("metric", "hard", "outcome", "advice")}
                for r in (o.to_dict() for o in decision.outcomes)
            ],
        },
        "internal_files": ["audit.json"],
        "files": files,
    }


@dataclass(frozen=True, slots=True)
class ReleaseProgress:
    """Callbacks through which ``release`` reports progress (the library never prints or draws).

    Attributes:
        stage: ``stage(index, total, description)`` at the start of each of the six stages.
        audit: ``audit(done, total, step)`` while the audit runs (see :func:`tabsynth.run_audit`).
        epoch: ``epoch(info)`` after each training epoch (see ``Synthesizer.fit(callback=...)``);
            its loss and rows/s are not DP and are for the curator's terminal only.
    """

    stage: Callable[[int, int, str], None] | None = None
    audit: Callable[[int, int, str], None] | None = None
    epoch: Callable[[Any], None] | None = None

    def at(self, index: int, description: str) -> None:
        if self.stage is not None:
            self.stage(index, 6, description)


# ---- the pipeline ----------------------------------------------------------------------------
def release(
    config: ReleaseConfig | Mapping[str, Any] | str | Path,
    *,
    overwrite: bool = False,
    progress: ReleaseProgress | None = None,
) -> ReleaseResult:
    """Run the gated release pipeline described by ``config`` (a YAML path, mapping or :class:`ReleaseConfig`).

    Returns:
        A :class:`ReleaseResult`; ``result.released`` is False when the gate blocked the release
        (the folder then holds only the audit, the report and the manifest, marked BLOCKED).

    Raises:
        ConfigError / InputError / DataError / SchemaError / PolicyError: bad input, before any
            training where possible (exit code 2 in the CLI).
        BudgetExceededError: the privacy budget cannot cover the requested training (exit code 3).
    """
    progress = progress or ReleaseProgress()
    config_sha256: str | None = None
    if isinstance(config, (str, Path)):
        config, config_sha256 = load_release_config(config)
    elif not isinstance(config, ReleaseConfig):
        config = parse_release_config(config).resolved(Path.cwd())
    policy = load_policy(config.policy)
    audit_config = config.audit_config()
    _check_output(config.output, overwrite)
    with _budget_reservation(config) as settle:
        result = _run_release(config, config_sha256, policy, audit_config, overwrite, progress)
        settle("released" if result.released else "blocked", result.privacy.epsilon)
    return result


def _run_release(
    config: ReleaseConfig,
    config_sha256: str | None,
    policy: ReleasePolicy,
    audit_config: AuditConfig,
    overwrite: bool,
    progress: ReleaseProgress,
) -> ReleaseResult:
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    progress.at(1, f"reading {config.input}")
    frame = read_table(config.input)
    input_digest = _input_digest(config)
    declared = _declared_schema(config)
    entity = config.entity if config.entity is not None else (declared.entity if declared is not None else None)
    if entity is not None:
        from .entity import check_entity

        check_entity(
            list(frame.columns),
            entity,
            target=config.target if declared is None else declared.target,
            sensitive=config.sensitive if declared is None else declared.sensitive,
            max_rows_per_entity=config.max_rows_per_entity,
        )
    if config.max_input_rows is not None and len(frame) > config.max_input_rows:
        if entity is not None and entity in frame.columns:  # whole entities: the hash of the entity id alone
            kept = subsample_rows(frame[[entity]].astype("string").fillna(""), config.max_input_rows)
            frame = frame.loc[kept.index].reset_index(drop=True)
        else:
            frame = subsample_rows(frame, config.max_input_rows).reset_index(drop=True)
    target = config.target if declared is None else declared.target
    if target is None:
        raise ConfigError(
            "A release audits utility against a target column: set 'target' in the release config or the schema."
        )
    train, holdout = _split(frame, config.holdout, audit_config.min_holdout_rows, entity)
    seconds["read"] = time.perf_counter() - started

    from .inference import coerce_frame
    from .synthesizers import Synthesizer

    progress.at(2, f"fitting {config.model} (epsilon={config.epsilon}, delta={config.delta:g})")
    t = time.perf_counter()
    synth = Synthesizer(
        config.model,
        epsilon=config.epsilon,
        delta=config.delta,
        random_state=config.seed,
        epochs=config.epochs,
        batch_size=config.batch_size,
        device=config.device,
        stratify=config.stratify,
        max_rows_per_entity=config.max_rows_per_entity,
    ).fit(train, declared, target=config.target, sensitive=config.sensitive, callback=progress.epoch, entity=entity)
    schema = synth.transformer_.schema_
    privacy = synth.privacy_card()
    seconds["fit"] = time.perf_counter() - t

    progress.at(3, "sampling")
    t = time.perf_counter()
    synthetic = _sample(synth, config, schema)
    seconds["sample"] = time.perf_counter() - t

    progress.at(4, "auditing fidelity, privacy leakage and fairness")
    t = time.perf_counter()
    # the model's schema is the one constraints transformed for training (merged, derived columns dropped);
    # the audit reads the tables as declared, and checks the declared constraints on them
    audited = declared if declared is not None and declared.constraints else schema
    if entity is not None and audited is declared:  # the entity column is never modelled, so never audited
        audited = dataclasses.replace(audited, entity=entity).without_entity()
    audit = run_audit(
        coerce_frame(train, audited),
        synthetic.drop(columns=[entity]) if entity is not None else synthetic,  # fake ids: nothing to audit
        holdout=coerce_frame(holdout, audited),
        target=target,
        sensitive=schema.sensitive,
        epsilon_claimed=privacy.epsilon if privacy.is_dp else None,
        delta_claimed=privacy.delta if privacy.is_dp else None,
        random_state=config.seed,
        schema=audited,
        config=audit_config,
        progress=progress.audit,
    )
    audit = AuditReport(
        metrics=audit.metrics,
        meta={**audit.meta, "privacy": privacy.to_dict()},
        notes=audit.notes,
        figures=audit.figures,
    )
    seconds["audit"] = time.perf_counter() - t

    progress.at(5, f"gating against policy {policy.name!r}")
    decision = evaluate_policy(policy, audit, privacy=privacy)
    decision = decision.with_released(not decision.blocks)

    progress.at(6, f"writing {config.output}")
    with _staging(config.output, overwrite) as folder:
        files: dict[str, str] = {}
        model_sha256 = None
        if decision.released:
            for fmt in config.formats:
                write_table(synthetic, folder / f"synthetic.{fmt}")
            synth.save(folder / "model")
            model_sha256 = sha256_file(folder / "model" / "weights.safetensors")
        (folder / "audit.json").write_text(_gated_audit(audit, decision).to_json(), encoding="utf-8")
        _write_report(folder, audit, decision, privacy, config.report.audience)
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            files[path.relative_to(folder).as_posix()] = sha256_file(path)
        manifest = _manifest(
            config=config,
            config_sha256=config_sha256,
            input_digest=input_digest,
            policy=policy,
            decision=decision,
            privacy=privacy,
            model_sha256=model_sha256,
            files=files,
        )
        (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    seconds["total"] = time.perf_counter() - started
    return ReleaseResult(
        path=config.output, decision=decision, audit=audit, privacy=privacy, files=files, seconds=seconds
    )
