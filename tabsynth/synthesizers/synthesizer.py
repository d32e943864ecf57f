"""The scikit-learn style entry point: ``Synthesizer(...).fit(frame).sample(n_rows)``.

The facade owns the pipeline (validate, schema, ledger, DP transformer, generator training,
sampling, persistence); generators implement the small protocol of :mod:`.registry`.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..constraints import apply_constraints, restore_constraints
from ..distributed import DistributedInfo
from ..distributed import current as current_distributed
from ..entity import (
    AUTO_CELLS,
    DEFAULT_MAX_ROWS_PER_ENTITY,
    RowsPerEntity,
    assign_entities,
    bound_contribution,
    check_entity,
    choose_contribution_bound,
    entity_noise_for,
    measure_rows_per_entity,
)
from ..exceptions import ConfigError, DataError, NotFittedError, PrivacyWarning, SchemaError
from ..inference import DPInferenceNote, coerce_frame, infer_schema_dp
from ..privacy import PrivacyLedger, RDPAccountant, check_budget
from ..privacy.card import ClassTraining, PrivacyCard, TrainingSummary
from ..privacy.plan import BudgetPlan, marginals_share_for, plan_budget
from ..privacy.randomness import NoiseSource
from ..schema import TableSchema, infer_schema
from ..transform import CategoricalEncoder, DPTableTransformer, EncodedTable
from ._data import Layout, TensorTable
from ._trainer import (
    EpochInfo,
    TrainingConfig,
    TrainResult,
    dp_batch_size,
    epochs_for_min_steps,
    resolve_device,
)
from .base import GeneratorModel
from .registry import MODELS, build_model
from .stratified import MIN_CLASS_ROWS, StratifiedModel

__all__ = ["Synthesizer"]

logger = logging.getLogger(__name__)

_SAMPLE_CHUNK = 65_536
AUTO = "auto"
#: ``stratify="auto"`` trains per class when the target has from 2 to this many classes of at least
#: ``MIN_CLASS_ROWS`` rows (by their DP counts). Measured at epsilon 1 on five tables, 2 seeds each
#: (docs/benchmarks.md): TSTR up in 9 of 10 pairs (0.66 -> 0.76 with a 21% class), Adult even.
AUTO_STRATIFY_MAX_CLASSES = 10


def _largest_remainder(total: int, shares: Sequence[float]) -> list[int]:
    raw = np.asarray(shares, dtype=float) * total
    counts = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - counts), kind="stable")[: total - counts.sum()]:
        counts[i] += 1
    return [int(c) for c in counts]


def _check_target_survived(transformer: DPTableTransformer, schema: TableSchema) -> None:
    """Refuse to train when DP category discovery erased the target's classes."""
    if schema.target is None:
        return
    enc = transformer.encoder(schema.target)
    if isinstance(enc, CategoricalEncoder) and len(enc.categories) < 2:
        raise SchemaError(
            f"After DP category discovery the target {schema.target!r} kept {len(enc.categories)} class(es): the "
            "other classes have too few rows to clear the privacy threshold at this budget. Declare the target's "
            "categories in a schema (tabsynth schema infer DATA --out schema.yaml, then set 'categories: [...]' "
            "under the target and pass --schema schema.yaml), or raise epsilon."
        )


class Synthesizer:
    """A DP generator of synthetic tables.

    Args:
        model: ``"dp-tvae"`` or ``"dp-ctgan"``.
        epsilon: total privacy budget for everything that reads the data (``None``: no DP,
            loudly flagged everywhere).
        delta: total delta, fixed up front (never derived from the data's size).
        random_state: seed for what is post-processing: the weights' initialisation and sampling
            from the fitted model (same model folder + same seed, same rows). Every DP draw during
            ``fit`` (histogram noise, thresholds, Poisson masks, gradient noise) comes from secret
            randomness that no seed reproduces, so two DP fits of the same data differ.
        deterministic: TEST MODE ONLY. Replays the DP draws from ``random_state`` so that fits
            are bit-identical; the result is NOT differentially private and says so everywhere
            (privacy card ``is_dp: false``, ``secure_randomness: false``; the gate fails it).
        epochs, batch_size, learning_rate, max_grad_norm, device, max_physical_batch_size: see
            :class:`TrainingConfig`. Under ``torchrun`` (after ``tabsynth.distributed.init_distributed()``)
            ``fit`` trains data-parallel; ``batch_size`` stays the global expected batch. Under DP
            the default batch is about 1/8 of the DP row count, and ``dp-ctgan``'s default epochs
            grow on small tables so that it trains at least 1,000 steps (a GAN needs many steps).
        preprocessing_share: share of epsilon for the transformer's DP statistics (default 20%, measured
            best on Adult: 10% loses too many categories, 30% starves training).
        n_bins: bins per numeric column.
        stratify: train one generator per target class, each on its class's rows only
            (parallel composition: the budget is not split between classes). Much better
            minority-class rows on imbalanced tables; needs a categorical target and
            ``dp-tvae`` (``dp-ctgan`` refuses it). ``"auto"`` (default) stratifies ``dp-tvae``
            when the target has 2 to 10 categories of at least 32 rows each (by their DP counts;
            the "other" and "missing" slots do not count); the choice is in ``stratified_``.
        model_options: generator-specific settings (e.g. ``{"hidden": 256}``).
        verbose: log each training epoch (``logging`` at INFO); pass ``fit(callback=...)`` to draw
            progress yourself (the library never prints).
        filter: ``"marginals"``: spend ``MARGINALS_SHARE`` of epsilon (taken from training) on
            DP 1- and 2-way marginals (the target's and sensitive columns' pairs, and pairs chosen by the
            permute-and-flip selection), and at sampling time draw ``pool_factor * n_rows`` rows and keep the
            ``n_rows`` whose marginals best match them (post-processing, see :mod:`tabsynth.marginals`).
            The default. ``None``: no filter, training keeps that share. Without DP the filter is off
            (nothing is measured). It raises fidelity (credit_default at epsilon 1: quality 0.80 -> 0.85,
            TSTR 0.80 -> 0.82, 3 seeds); its raking targets move a small group only as far as its noise
            supports (see docs/benchmarks.md).
        pool_factor: size of the filter's pool, in multiples of the rows asked for.
        max_rows_per_entity: with ``fit(..., entity=COLUMN)``, the most rows one entity contributes
            (a public setting; entities with more keep a secret random subset). Every histogram's
            noise scales with it; DP-SGD's does not. See :mod:`tabsynth.entity`.

    Example:
        >>> synth = Synthesizer(epsilon=1.0, random_state=0).fit(frame, target="income")
        >>> rich = synth.sample(1000, conditions={"income": ">50K"})
    """

    manifest_: dict[str, Any]  # set by Synthesizer.load: the model folder's manifest

    def __init__(
        self,
        model: str = "dp-tvae",
        *,
        epsilon: float | None = 1.0,
        delta: float = 1e-6,
        random_state: int | None = None,
        epochs: int | None = None,
        batch_size: int | None = None,
        learning_rate: float | None = None,
        max_grad_norm: float = 1.0,
        device: str = "auto",
        max_physical_batch_size: int | None = None,
        preprocessing_share: float = 0.2,
        n_bins: int = 20,
        model_options: Mapping[str, Any] | None = None,
        stratify: bool | str = "auto",
        verbose: bool = False,
        deterministic: bool = False,
        filter: str | None = "marginals",  # noqa: A002  (the quality filter, issue 17)
        pool_factor: int = 4,
        max_rows_per_entity: int | str = DEFAULT_MAX_ROWS_PER_ENTITY,
    ) -> None:
        self.model = model
        self.epsilon = epsilon
        self.delta = delta
        self.random_state = random_state
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.max_grad_norm = max_grad_norm
        self.device = device
        self.max_physical_batch_size = max_physical_batch_size
        self.preprocessing_share = preprocessing_share
        self.n_bins = n_bins
        self.model_options = dict(model_options or {})
        self.stratify = stratify
        self.verbose = verbose
        self.deterministic = deterministic
        self.filter = filter
        self.pool_factor = pool_factor
        self.max_rows_per_entity = max_rows_per_entity

    # ---- configuration -----------------------------------------------------------------
    def _training_config(self, n_rows_estimate: int | None = None) -> TrainingConfig:
        defaults = MODELS[self.model].training_defaults(dp=self.epsilon is not None)
        if n_rows_estimate is not None and self.epsilon is not None:
            # Under DP the expected batch is about 1/8 of the (DP-estimated) rows, a power of two
            # between 128 and the model's default: small tables get more, smaller steps.
            defaults["batch_size"] = dp_batch_size(n_rows_estimate, minimum=128, maximum=defaults["batch_size"])
            defaults["epochs"] = epochs_for_min_steps(
                defaults["epochs"],
                batch_size=self.batch_size or defaults["batch_size"],
                n_rows=n_rows_estimate,
                min_steps=MODELS[self.model].dp_min_steps,
            )
        overrides = {
            k: v
            for k, v in {
                "epochs": self.epochs,
                "batch_size": self.batch_size,
                "learning_rate": self.learning_rate,
            }.items()
            if v is not None
        }
        fixed = {
            "max_grad_norm": self.max_grad_norm,
            "device": self.device,
            "max_physical_batch_size": self.max_physical_batch_size,
        }
        return TrainingConfig(**{**defaults, **overrides, **fixed})

    def _validate_params(self) -> None:
        if self.model not in MODELS:
            raise ConfigError(f"Unknown model {self.model!r}: choose one of {', '.join(sorted(MODELS))}.")
        check_budget(self.epsilon, self.delta)
        if not (0 < self.preprocessing_share < 1):
            raise ConfigError(f"preprocessing_share must be in (0, 1), got {self.preprocessing_share!r}.")
        if self.filter not in (None, "marginals"):
            raise ConfigError(f"filter must be 'marginals' or None, got {self.filter!r}.")
        if isinstance(self.pool_factor, bool) or not isinstance(self.pool_factor, int) or self.pool_factor < 1:
            raise ConfigError(f"pool_factor must be an integer >= 1, got {self.pool_factor!r}.")

    def _marginals_share(self, *, infer_schema: bool) -> float:
        """The filter's share of epsilon: ``MARGINALS_SHARE``, less when a large ``preprocessing_share``
        would leave training under ``MIN_TRAINING_SHARE`` (public settings only; 0 turns it off)."""
        on = self.filter == "marginals" and self.epsilon is not None
        return marginals_share_for(self.preprocessing_share, infer_schema=infer_schema, filter_on=on)

    # ---- fit ---------------------------------------------------------------------------
    def fit(
        self,
        frame: pd.DataFrame,
        schema: TableSchema | None = None,
        *,
        target: str | None = None,
        sensitive: Sequence[str] = (),
        callback: Callable[[EpochInfo], None] | None = None,
        entity: str | None = None,
    ) -> Synthesizer:
        """Fit the DP transformer and the generator; every statistic is spent from one ledger.

        ``entity`` (or the schema's ``entity:`` key) names the column of the person each row
        belongs to: the guarantee then protects whole entities of up to ``max_rows_per_entity``
        rows, the column is never modelled, and ``sample`` groups its rows into fake entities.
        """
        self._validate_params()
        entity = entity if entity is not None else (schema.entity if schema is not None else None)
        if not (isinstance(self.stratify, bool) or self.stratify == AUTO):
            raise ConfigError(f"stratify must be True, False or 'auto', got {self.stratify!r}.")
        if self.stratify is True and not MODELS[self.model].stratifiable:
            raise ConfigError(
                f"stratify=True is not available for {self.model}: its generator is trained to match the "
                "table-wide DP marginals of every column, so per-class models would all learn the same rows. "
                "Use model='dp-tvae' for per-class training, or stratify=False."
            )
        self._training_config()  # validates the training options before any privacy is spent
        self._check_frame(frame, target, sensitive)
        if entity is not None:
            self._check_entity(frame, entity, schema, target, sensitive)
        if self.epsilon is None:
            warnings.warn("epsilon=None: this synthesizer is NOT differentially private.", PrivacyWarning, stacklevel=2)
        dist = current_distributed()
        ledger = PrivacyLedger(
            self.epsilon,
            self.delta,
            noise=self._noise_source(dist),
            max_rows_per_entity=None if entity is None else self._initial_bound(),
        )
        np_rng = np.random.default_rng(self._shared_seed(dist))
        frame, schema, entity_codes = self._bound_entities(frame, schema, entity, ledger)
        plan = plan_budget(
            self.epsilon,
            self.delta,
            preprocessing_share=self.preprocessing_share,
            infer_schema=schema is None,
            marginals_share=self._marginals_share(infer_schema=schema is None),
        )
        ledger.plan = plan.to_dict()  # the planned split travels with the ledger (public settings only)
        schema, frame = self._resolve_schema(frame, schema, target, sensitive, ledger=ledger, plan=plan)
        frame, schema = apply_constraints(frame, schema)  # constraints hook: reversible transforms, no budget
        transformer = DPTableTransformer(n_bins=self.n_bins).fit(
            frame, schema, ledger=ledger, epsilon=plan.preprocessing, random_state=np_rng
        )
        _check_target_survived(transformer, schema)
        encoded = transformer.transform(frame)
        # --- quality filter hook (issue 17): DP marginals on the transformer's bins ---
        marginals = None
        if plan.marginals:  # without DP the filter is off (nothing to match)
            from ..marginals import measure_marginals

            marginals = measure_marginals(encoded, transformer, ledger=ledger, epsilon=plan.marginals)
        # --- end quality filter hook ---
        if dist is not None:  # the DP statistics must be one release, identical on every rank
            dist.check_same((frame.shape, ledger.to_json()), "The table or the preprocessing ledger")
        config = self._training_config(transformer.n_rows_estimate_)
        device = resolve_device(config.device)
        table = TensorTable(encoded, Layout.from_transformer(transformer), device)
        # Poisson masks and DP-SGD noise: seeded from the ledger's secret stream, never from random_state.
        generator = torch.Generator(device=device).manual_seed(ledger.noise.torch_seed())
        cond_columns = self._cond_columns(transformer, schema)
        stratified = self._decide_stratify(transformer, cond_columns, transformer.n_rows_estimate_, dist)
        model = build_model(
            self.model,
            table.layout,
            cond_columns,
            {**self.model_options, "stratify": True} if stratified else self.model_options,
            generator=torch.Generator().manual_seed(int(np_rng.integers(2**62))),
        )
        if isinstance(model, StratifiedModel):  # per-class sizes from the target's DP marginal (already paid for)
            model.class_shares = list(transformer.encoders_[cond_columns[0]].marginal)
        entity_args = {} if entity_codes is None else {"entities": torch.as_tensor(entity_codes, device=device)}
        result = model.fit(
            table,
            generator=generator,
            n_rows_estimate=transformer.n_rows_estimate_,
            ledger=ledger,
            config=config,
            callback=callback,
            progress=self.verbose and (dist is None or dist.is_main),
            distributed=dist,
            **entity_args,
        )
        self.restore_fitted(transformer, model, ledger, result, device)
        self.marginals_ = marginals
        return self

    def _check_entity(
        self, frame: pd.DataFrame, entity: str, schema: TableSchema | None, target: str | None, sensitive: Sequence[str]
    ) -> None:
        """Refuse an unusable entity declaration before anything is spent."""
        roles_target = target if target is not None else (schema.target if schema is not None else None)
        roles_sensitive = tuple(sensitive) or (schema.sensitive if schema is not None else ())
        check_entity(
            list(frame.columns),
            entity,
            target=roles_target,
            sensitive=roles_sensitive,
            max_rows_per_entity=self.max_rows_per_entity,
        )
        if self.stratify is True:
            raise ConfigError(
                "stratify=True cannot be combined with entity=...: one entity's rows may fall in several target "
                "classes, so per-class training would not be a parallel composition over entities. Use stratify=False."
            )
        if current_distributed() is not None:
            raise ConfigError("Entity-level DP (entity=...) trains in one process: run without torchrun.")

    def _bound_entities(
        self, frame: pd.DataFrame, schema: TableSchema | None, entity: str | None, ledger: PrivacyLedger
    ) -> tuple[pd.DataFrame, TableSchema | None, np.ndarray | None]:
        """Bound each entity's rows, drop the entity column and measure rows per entity (DP).

        Without an entity: the frame and schema unchanged, no codes.
        """
        self.entity_: str | None = entity
        self.rows_per_entity_: RowsPerEntity | None = None
        if entity is None:
            return frame, schema, None
        sigma = entity_noise_for(self.epsilon, self.delta) if self.epsilon is not None else 1.0
        if self.max_rows_per_entity == AUTO:  # the bound from a DP histogram, then the rows bounded to it
            wide = bound_contribution(frame, entity, max_rows_per_entity=AUTO_CELLS[-1], noise=ledger.noise)
            k, self.rows_per_entity_ = choose_contribution_bound(wide.codes, ledger=ledger, noise_multiplier=sigma)
            ledger.tighten_contribution_bound(k)
            bounded = bound_contribution(frame, entity, max_rows_per_entity=k, noise=ledger.noise)
        else:
            k = int(self.max_rows_per_entity)
            bounded = bound_contribution(frame, entity, max_rows_per_entity=k, noise=ledger.noise)
            self.rows_per_entity_ = measure_rows_per_entity(
                bounded.codes, max_rows_per_entity=k, ledger=ledger, noise_multiplier=sigma
            )
        modelled = None if schema is None else dataclasses.replace(schema, entity=entity).without_entity()
        return bounded.frame, modelled, bounded.codes

    def _initial_bound(self) -> int:
        """The ledger's bound before any spend: the setting, or the widest cell under ``"auto"``."""
        if self.max_rows_per_entity == AUTO:
            return AUTO_CELLS[-1]
        if isinstance(self.max_rows_per_entity, str):
            raise ConfigError(f"max_rows_per_entity must be an integer or 'auto', got {self.max_rows_per_entity!r}.")
        return self.max_rows_per_entity

    def _noise_source(self, dist: DistributedInfo | None) -> NoiseSource:
        """The secret randomness of this fit (rank 0's key on every rank under torchrun, in memory only)."""
        if self.deterministic:
            warnings.warn(
                "deterministic=True is a test mode: the DP noise is replayable from random_state, so this "
                "model is NOT differentially private.",
                PrivacyWarning,
                stacklevel=3,
            )
            return NoiseSource.insecure_from_seed(0 if self.random_state is None else self.random_state)
        noise = NoiseSource.fresh()
        if dist is None:
            return noise
        key = bytes.fromhex(str(dist.broadcast(noise.share_key().hex())))
        return NoiseSource(key, is_secure=True)

    def _shared_seed(self, dist: DistributedInfo | None) -> int | None:
        """The seed; under torchrun rank 0's (drawn fresh when None), so every rank fits the same transformer.

        Also refuses, before anything is spent, a generator that cannot train data-parallel.
        """
        if dist is None:
            return self.random_state
        if not MODELS[self.model].distributed:
            raise ConfigError(
                f"{self.model} cannot train data-parallel (its generator steps outside DP-SGD): use dp-tvae "
                "under torchrun, or run dp-ctgan in one process."
            )
        fresh = self.random_state if self.random_state is not None else int(np.random.default_rng().integers(2**62))
        return int(dist.broadcast(fresh))

    @staticmethod
    def _check_frame(frame: pd.DataFrame, target: str | None, sensitive: Sequence[str]) -> None:
        if not isinstance(frame, pd.DataFrame):
            raise DataError(f"fit expects a pandas DataFrame, got {type(frame).__name__}.")
        if frame.shape[0] == 0 or frame.shape[1] == 0:
            raise DataError("Cannot fit on an empty table: it needs rows and columns.")
        for col in [c for c in (target, *sensitive) if c is not None]:
            if col not in frame.columns:
                raise SchemaError(f"Column {col!r} is not in the table; columns are {list(frame.columns)}.")

    def _resolve_schema(
        self,
        frame: pd.DataFrame,
        schema: TableSchema | None,
        target: str | None,
        sensitive: Sequence[str],
        *,
        ledger: PrivacyLedger,
        plan: BudgetPlan,
    ) -> tuple[TableSchema, pd.DataFrame]:
        """The declared schema with these roles; else one inferred exactly (no DP) or from DP statistics."""
        self.schema_notes_: tuple[DPInferenceNote, ...] = ()
        if schema is not None:
            return schema.with_roles(target=target, sensitive=tuple(sensitive) or None), frame
        if plan.schema is None:  # no DP: the exact draft is fine
            return infer_schema(frame, target=target, sensitive=sensitive), frame
        inferred, notes = infer_schema_dp(frame, ledger=ledger, epsilon=plan.schema, target=target, sensitive=sensitive)
        self.schema_notes_ = notes  # the CLI shows them; names only, never values or counts
        for note in notes:
            logger.info("Column %r %s.", note.column, note.message)
        return inferred, coerce_frame(frame, inferred)

    def _decide_stratify(
        self, transformer: DPTableTransformer, cond_columns: tuple[int, ...], n_rows: float, dist: Any
    ) -> bool:
        """``stratify`` resolved: "auto" looks at the target's DP marginal (post-processing)."""
        if self.stratify != AUTO:
            if self.stratify and not cond_columns:
                raise ConfigError("stratify=True trains one model per target class: fit with a categorical target.")
            return bool(self.stratify)
        if not cond_columns or dist is not None or not MODELS[self.model].stratifiable:
            return False
        if getattr(self, "entity_", None) is not None:  # classes are not disjoint in entities
            return False
        target = transformer.encoders_[cond_columns[0]]
        assert isinstance(target, CategoricalEncoder)  # cond columns are categorical by construction
        # Only the target's categories count as classes: its "other" and "missing" slots hold DP
        # noise when the data has no such rows (on Adult ~0.5%, which would trigger stratification).
        classes = target.marginal[: len(target.categories)]
        shares = [s for s in classes if s * n_rows >= MIN_CLASS_ROWS]
        return 2 <= len(shares) <= AUTO_STRATIFY_MAX_CLASSES

    @staticmethod
    def _cond_columns(transformer: DPTableTransformer, schema: TableSchema) -> tuple[int, ...]:
        names = [e.name for e in transformer.encoders_]
        wanted = [c for c in (schema.target, *schema.sensitive) if c is not None]
        return tuple(
            names.index(c) for c in dict.fromkeys(wanted) if isinstance(transformer.encoder(c), CategoricalEncoder)
        )

    def restore_fitted(
        self,
        transformer: DPTableTransformer,
        model: GeneratorModel,
        ledger: PrivacyLedger,
        result: TrainResult | None,
        device: torch.device,
        *,
        manifest: Mapping[str, Any] | None = None,
    ) -> Synthesizer:
        """Install a fitted state (what ``fit`` learned, or what :mod:`tabsynth.artifacts` loaded).

        ``manifest`` is the model folder's manifest when the state was loaded from one.
        """
        if manifest is not None:
            self.manifest_ = dict(manifest)
        self.transformer_ = transformer
        self.generator_ = model
        self.stratified_ = isinstance(model, StratifiedModel)
        self.ledger_ = ledger
        self.train_result_ = result
        self.device_ = device
        self._sample_rng = np.random.default_rng(self.random_state)
        return self

    # ---- sampling ----------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "generator_"):
            raise NotFittedError(
                "This Synthesizer is not fitted yet: call fit(frame, ...) first (or Synthesizer.load)."
            )

    def _condition_slots(self, conditions: Mapping[str, Any] | None) -> dict[int, int]:
        if not conditions:
            return {}
        names = [e.name for e in self.transformer_.encoders_]
        cond_names = [names[c] for c in self.generator_.cond_columns]
        fixed: dict[int, int] = {}
        for col, value in conditions.items():
            if col not in self.transformer_.schema_.names:
                raise SchemaError(
                    f"Unknown condition column {col!r}; columns are {list(self.transformer_.schema_.names)}."
                )
            if col not in names:
                raise SchemaError(f"Column {col!r} is an identifier/text column and cannot be conditioned on.")
            enc = self.transformer_.encoder(col)
            if not isinstance(enc, CategoricalEncoder):
                raise SchemaError(
                    f"Conditions on numeric column {col!r} are not supported: condition on a "
                    "categorical column (the target or a sensitive attribute)."
                )
            if names.index(col) not in self.generator_.cond_columns:
                raise SchemaError(
                    f"Column {col!r} is not a conditioning column; fit with it as target or "
                    f"sensitive to condition on it. Conditioning columns: {cond_names}."
                )
            fixed[names.index(col)] = enc.slot_of(value)
        return fixed

    def sample(
        self,
        n_rows: int,
        *,
        conditions: Mapping[str, Any] | None = None,
        fair: bool = False,
        random_state: int | None = None,
    ) -> pd.DataFrame:
        """Exactly ``n_rows`` synthetic rows, all meeting ``conditions`` (no rejection sampling).

        With ``fair=True`` the target is drawn from its DP marginal *independently* of the
        (categorical) sensitive columns, which keep their joint distribution from a first,
        unconditioned pass of the model; the rest of each row is then generated given both. The
        target is statistically independent of the sensitive attributes (demographic parity by
        construction): de-biased data rather than a faithful copy of the bias.
        """
        self._check_fitted()
        if isinstance(n_rows, bool) or not isinstance(n_rows, (int, np.integer)) or n_rows <= 0:
            raise ConfigError(f"n_rows must be a positive integer, got {n_rows!r}.")
        fixed = self._condition_slots(conditions)
        if fair:
            self._check_fair()
        rng = self._sample_rng if random_state is None else np.random.default_rng(random_state)
        gen = torch.Generator(device=self.device_).manual_seed(int(rng.integers(2**62)))
        # --- quality filter hook (issue 17): a larger pool, then the rows that match the DP marginals ---
        marginals = getattr(self, "marginals_", None)
        if self.filter == "marginals" and marginals is not None and not fair:
            from ..marginals import repair_pairs, select_rows

            pool = self._generate(int(n_rows) * self.pool_factor, fixed, fair, gen)
            slots, _ = repair_pairs(pool.slots, marginals, rng=rng, locked=self._locked_columns(fixed))
            pool = EncodedTable(slots, pool.positions)
            keep = select_rows(pool.slots, marginals, int(n_rows), rng=rng, fixed=fixed)
            encoded = pool.take(np.sort(keep))
        else:
            encoded = self._generate(int(n_rows), fixed, fair, gen)
        # --- end quality filter hook ---
        frame = self.transformer_.inverse_transform(encoded, random_state=int(rng.integers(2**62)))
        frame = restore_constraints(self.transformer_.schema_, frame)  # constraints hook: invert the transforms
        return self._with_entities(frame, rng)

    def _locked_columns(self, fixed: dict[int, int]) -> list[int]:
        """Columns the filter's pair repair never redraws: the conditions and the target (drawn first)."""
        names = [e.name for e in self.transformer_.encoders_]
        target = self.transformer_.schema_.target
        return [*fixed, *([names.index(target)] if target in names else [])]

    def _with_entities(self, frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        """Fake entity ids (1..E) in front, in groups sized by the DP rows-per-entity distribution."""
        entity, distribution = getattr(self, "entity_", None), getattr(self, "rows_per_entity_", None)
        if entity is None or distribution is None:
            return frame
        ids = assign_entities(len(frame), distribution, rng) + 1
        frame.insert(0, entity, ids.astype(np.int64))
        return frame

    def _generate(self, n_rows: int, fixed: dict[int, int], fair: bool, gen: torch.Generator) -> EncodedTable:
        """``n_rows`` encoded rows from the generator, meeting the fixed condition slots."""
        slots, positions = [], []
        for start in range(0, int(n_rows), _SAMPLE_CHUNK):
            size = min(_SAMPLE_CHUNK, int(n_rows) - start)
            given = {j: torch.full((size,), s, dtype=torch.long, device=self.device_) for j, s in fixed.items()}
            if fair:
                given.update(self._fair_conditions(size, given, gen))
            given.update(self._draw_target(size, given, gen))
            s, p = self.generator_.sample(size, given, gen, self.device_)
            slots.append(s.cpu().numpy())
            positions.append(p.cpu().numpy())
        return EncodedTable(np.concatenate(slots).astype(np.int32), np.concatenate(positions).astype(np.float32))

    def record_loss(self, frame: pd.DataFrame, *, random_state: int | None = None) -> np.ndarray:
        """Each row's loss under the fitted generator (dp-tvae: its negative ELBO): low means "looks
        like a training record". Post-processing of the model; used by ``tabsynth audit-dp``.

        Raises:
            ConfigError: the generator has no per-record loss (dp-ctgan), or the schema has
                constraints (their transforms are not applied to scored rows).
        """
        self._check_fitted()
        scorer = getattr(self.generator_, "record_loss", None)
        if scorer is None:
            raise ConfigError(f"{self.model} has no per-record loss to score rows with; use dp-tvae.")
        if self.transformer_.schema_.constraints:
            raise ConfigError("Scoring rows of a model fitted with schema constraints is not supported.")
        coerced = coerce_frame(frame, self.transformer_.schema_)
        table = TensorTable(
            self.transformer_.transform(coerced), Layout.from_transformer(self.transformer_), self.device_
        )
        rng = np.random.default_rng(random_state)
        gen = torch.Generator(device=self.device_).manual_seed(int(rng.integers(2**62)))
        losses: torch.Tensor = scorer(table, generator=gen)
        return np.asarray(losses.detach().cpu().numpy(), dtype=float)

    def marginal_loss(self, frame: pd.DataFrame) -> np.ndarray:
        """Each row's loss under independent columns: ``-sum_j log share_j(slot)`` from the model's
        (DP or declared) one-way marginals. Post-processing; it calibrates :meth:`record_loss` for
        how rare a row's values are, whatever the generator learned about that row.
        """
        self._check_fitted()
        coerced = coerce_frame(frame, self.transformer_.schema_)
        slots = self.transformer_.transform(coerced).slots
        total = np.zeros(len(frame))
        for j, enc in enumerate(self.transformer_.encoders_):
            shares = np.maximum(np.asarray(enc.marginal, dtype=float), 1e-6)
            total -= np.log(shares[slots[:, j]])
        return total

    def _check_fair(self) -> None:
        schema = self.transformer_.schema_
        if schema.target is None or not schema.sensitive:
            raise ConfigError(
                "fair sampling draws the target independently of the sensitive columns: fit with a target "
                f"and at least one sensitive column (target={schema.target!r}, sensitive={list(schema.sensitive)})."
            )
        if len(self.generator_.cond_columns) < 2:
            raise ConfigError(
                f"fair sampling conditions on categorical sensitive columns, but {list(schema.sensitive)} are numeric: "
                "bin them into categories (e.g. age bands) before fitting, or declare a categorical sensitive column."
            )

    def _fair_conditions(
        self, size: int, given: dict[int, torch.Tensor], gen: torch.Generator
    ) -> dict[int, torch.Tensor]:
        """Sensitive columns from a first model pass (their joint kept), the target from its own DP marginal."""
        target, *sensitive = self.generator_.cond_columns
        first = dict(given)
        first.update(self._draw_target(size, first, gen))
        slots, _ = self.generator_.sample(size, first, gen, self.device_)
        out = {col: slots[:, col].to(torch.long) for col in sensitive if col not in given}
        if target not in given:
            enc = self.transformer_.encoders_[target]
            probs = torch.as_tensor(enc.marginal, dtype=torch.float32, device=self.device_)
            out[target] = torch.multinomial(probs, size, replacement=True, generator=gen)
        return out

    def _draw_target(self, size: int, given: dict[int, torch.Tensor], gen: torch.Generator) -> dict[int, torch.Tensor]:
        """An unconditioned target is drawn from its DP marginal (post-processing of released counts)."""
        cond = self.generator_.cond_columns
        if not cond or cond[0] in given or not self.generator_.config.needs_target:
            return {}
        enc = self.transformer_.encoders_[cond[0]]
        probs = torch.as_tensor(enc.marginal, dtype=torch.float32, device=self.device_)
        return {cond[0]: torch.multinomial(probs, size, replacement=True, generator=gen)}

    def rebalance(
        self,
        column: str,
        proportions: Mapping[Any, float],
        *,
        n_rows: int | None = None,
        random_state: int | None = None,
    ) -> pd.DataFrame:
        """A synthetic table whose ``column`` has exactly the given proportions (rounded to rows).

        ``n_rows`` defaults to the DP estimate of the training table's size.
        """
        self._check_fitted()
        total = float(sum(proportions.values())) if proportions else 0.0
        if not proportions or any(p < 0 for p in proportions.values()) or not math.isclose(total, 1.0, abs_tol=1e-6):
            raise ConfigError(f"proportions must be non-negative and sum to 1, got {dict(proportions)!r}.")
        n_rows = self.transformer_.n_rows_estimate_ if n_rows is None else n_rows
        counts = _largest_remainder(int(n_rows), list(proportions.values()))
        rng = self._sample_rng if random_state is None else np.random.default_rng(random_state)
        parts = [
            self.sample(c, conditions={column: v}, random_state=int(rng.integers(2**62)))
            for v, c in zip(proportions, counts, strict=True)
            if c > 0
        ]
        out = pd.concat(parts, ignore_index=True)
        return out.iloc[rng.permutation(len(out))].reset_index(drop=True)

    def augment(
        self,
        column: str,
        value: Any,
        *,
        target_share: float,
        n_real: int | None = None,
        n_value: int | None = None,
        random_state: int | None = None,
    ) -> pd.DataFrame:
        """The synthetic ``column == value`` rows to add to the real table to reach ``target_share``.

        Pass the real table's counts (``n_real`` rows, ``n_value`` of them with the value) when you
        hold it; otherwise the model's DP estimates are used.
        """
        self._check_fitted()
        if not (0 < target_share < 1):
            raise ConfigError(f"target_share must be in (0, 1), got {target_share!r}.")
        enc = self.transformer_.encoder(column)
        if not isinstance(enc, CategoricalEncoder):
            raise SchemaError(f"augment needs a categorical column; {column!r} is numeric.")
        if self.ledger_.is_dp and (n_real is not None or n_value is not None):
            warnings.warn(
                "augment(n_real=, n_value=) makes the number of generated rows a function of these exact counts: "
                "fine next to the real rows, but the generated rows alone then reveal them (not DP). Leave both "
                "unset to use the model's DP estimates.",
                PrivacyWarning,
                stacklevel=2,
            )
        n_real = self.transformer_.n_rows_estimate_ if n_real is None else n_real
        if n_value is None:
            n_value = round(enc.marginal[enc.slot_of(value)] * n_real)
        n_add = math.ceil((target_share * n_real - n_value) / (1 - target_share))
        if n_add <= 0:
            return self.sample(1, conditions={column: value}, random_state=random_state).iloc[:0]
        return self.sample(n_add, conditions={column: value}, random_state=random_state)

    # ---- privacy -----------------------------------------------------------------------
    def plan(self, schema: TableSchema, *, target: str | None = None, sensitive: Sequence[str] = ()) -> Any:
        """What DP preprocessing at this epsilon will keep or collapse (public inputs only, see tabsynth.plan)."""
        from ..plan import plan_table

        return plan_table(
            schema,
            epsilon=self.epsilon or math.inf,
            delta=self.delta,
            preprocessing_share=self.preprocessing_share,
            target=target,
            sensitive=tuple(sensitive) or None,
            filter_on=self.filter == "marginals" and self.epsilon is not None,
        )

    def privacy_spent(self) -> dict[str, Any]:
        """``{"epsilon", "delta", "is_dp", "unit", "secure_randomness", "entries"}`` read from the ledger."""
        self._check_fitted()
        data = self.ledger_.to_dict()
        return {
            "epsilon": data["epsilon"],
            "delta": data["delta"],
            "is_dp": data["is_dp"],
            "unit": data["unit"],
            "max_rows_per_entity": data["max_rows_per_entity"],
            "secure_randomness": data["secure_randomness"],
            "entries": data["entries"],
        }

    def _entries_with_epsilon(self, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each ledger entry with the epsilon it would cost on its own (at the ledger's delta).

        Rényi composition makes the total smaller than the sum of these; they show where the
        budget went, not an additive split.
        """
        if not self.ledger_.is_dp:
            return entries
        out = []
        for entry, raw in zip(self.ledger_.entries, entries, strict=True):
            alone = RDPAccountant().compose(entry.event).get_epsilon(self.ledger_.delta)
            out.append({**raw, "epsilon": alone})
        return out

    def privacy_card(self) -> PrivacyCard:
        """Everything a reader needs to judge the guarantee: generator, (epsilon, delta), accountant,
        DP-SGD settings and the ledger's entries (where the budget went), as a frozen
        :class:`~tabsynth.privacy.card.PrivacyCard` (``.to_dict()`` for JSON)."""
        self._check_fitted()
        ledger = self.ledger_.to_dict()
        return PrivacyCard(
            generator=self.model,
            unit=ledger["unit"],  # issue 18: "entity" when fitted with entity=...
            max_rows_per_entity=ledger["max_rows_per_entity"],
            epsilon=ledger["epsilon"],
            delta=ledger["delta"],
            is_dp=ledger["is_dp"],
            secure_randomness=ledger["secure_randomness"],
            accountant=ledger["accountant"],
            neighboring=ledger["neighboring"],
            max_grad_norm=self.max_grad_norm,
            sampling="poisson",
            stratified_by_target=self.stratified_,
            # the DP row count (already paid for): what a partner may be told about the table's size
            dp_row_count=int(self.transformer_.n_rows_estimate_) if self.ledger_.is_dp else None,
            entries=tuple(self._entries_with_epsilon(ledger["entries"])),
            training=self._training_summary(),
            per_class_training=self._per_class_training(),
        )

    def _training_summary(self) -> TrainingSummary | None:
        result = self.train_result_
        if result is not None:
            joint = result.plan is not None and not self.stratified_
            return TrainingSummary(
                noise_multiplier=result.noise_multiplier,
                sample_rate=result.sample_rate,
                steps=result.steps,
                stopped_early=result.stopped_early,
                epochs=result.plan.epochs if joint and result.plan is not None else None,
                batch_size=result.plan.batch_size if joint and result.plan is not None else None,
            )
        saved = getattr(self, "manifest_", {}).get("training")
        if isinstance(saved, Mapping):  # loaded from a model folder
            return PrivacyCard.from_dict(saved).training
        return None

    def _per_class_training(self) -> tuple[ClassTraining, ...]:
        per_class = getattr(self.generator_, "results", None)
        if not per_class:
            return ()
        target = self.transformer_.encoders_[self.generator_.cond_columns[0]]
        assert isinstance(target, CategoricalEncoder)  # conditioning columns are categorical by construction
        labels = [
            *target.categories,
            *(["<other>"] if target.has_other else []),
            *(["(missing)"] if target.nullable else []),
        ]
        return tuple(
            ClassTraining(
                label=str(labels[c]),
                noise_multiplier=r.noise_multiplier,
                sample_rate=r.sample_rate,
                steps=r.steps,
                batch_size=r.plan.batch_size if r.plan is not None else None,
                epochs=r.plan.epochs if r.plan is not None else None,
            )
            for c, r in sorted(per_class.items())
        )

    # ---- persistence -------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write weights (safetensors) and a JSON manifest to the folder ``path``."""
        self._check_fitted()
        from ..artifacts import save_synthesizer

        return save_synthesizer(self, Path(path))

    @classmethod
    def load(cls, path: str | Path, *, device: str = "auto") -> Synthesizer:
        """Load a model folder written by :meth:`save` (no code is executed)."""
        from ..artifacts import load_synthesizer

        return load_synthesizer(cls, Path(path), device=device)

    def get_params(self) -> dict[str, Any]:
        return {
            k: getattr(self, k)
            for k in (
                "model",
                "epsilon",
                "delta",
                "random_state",
                "epochs",
                "batch_size",
                "learning_rate",
                "max_grad_norm",
                "device",
                "max_physical_batch_size",
                "preprocessing_share",
                "n_bins",
                "model_options",
                "stratify",
                "verbose",
                "deterministic",
                "filter",
                "pool_factor",
                "max_rows_per_entity",
            )
        }

    # ---- display (tabsynth.summary) -------------------------------------------------------
    def summary(self) -> str:
        """What was learned, the privacy card and per-column DP notes, as text."""
        from ..summary import synthesizer_summary

        return synthesizer_summary(self)

    def _repr_html_(self) -> str:
        from ..summary import synthesizer_html

        return synthesizer_html(self)

    def __repr__(self) -> str:
        return f"Synthesizer(model={self.model!r}, epsilon={self.epsilon!r}, delta={self.delta!r})"
