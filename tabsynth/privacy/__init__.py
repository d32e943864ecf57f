"""Differential-privacy accounting: events, the RDP accountant, the ledger, calibration and
the mechanisms the data transformer uses. Depends on nothing else in tabsynth."""

from .accountant import RDPAccountant
from .calibration import gaussian_noise_for, noise_multiplier_for, split_budget, threshold_for
from .errors import BudgetExceededError, PrivacyError
from .events import (
    DPEvent,
    DPSGDEvent,
    GaussianEvent,
    LaplaceEvent,
    ParallelEvent,
    PureDPEvent,
    ThresholdedGaussianEvent,
    event_from_dict,
    event_to_dict,
)
from .ledger import LedgerEntry, PrivacyLedger, check_budget

__all__ = [
    "BudgetExceededError",
    "DPEvent",
    "DPSGDEvent",
    "GaussianEvent",
    "LaplaceEvent",
    "LedgerEntry",
    "ParallelEvent",
    "PrivacyError",
    "PrivacyLedger",
    "PureDPEvent",
    "RDPAccountant",
    "ThresholdedGaussianEvent",
    "check_budget",
    "event_from_dict",
    "event_to_dict",
    "gaussian_noise_for",
    "noise_multiplier_for",
    "split_budget",
    "threshold_for",
]
