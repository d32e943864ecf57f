"""DP generators behind one scikit-learn style facade."""

from ._trainer import EpochInfo, TrainingConfig
from .registry import MODELS
from .synthesizer import Synthesizer

__all__ = ["MODELS", "EpochInfo", "Synthesizer", "TrainingConfig"]
