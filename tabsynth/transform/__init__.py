"""Turn frames into the arrays generators train on, with DP estimates of everything not public."""

from .categorical import OTHER, CategoricalEncoder
from .numeric import NumericEncoder
from .table import Activation, DPTableTransformer, EncodedTable, OutputSpan

__all__ = [
    "OTHER",
    "Activation",
    "CategoricalEncoder",
    "DPTableTransformer",
    "EncodedTable",
    "NumericEncoder",
    "OutputSpan",
]
