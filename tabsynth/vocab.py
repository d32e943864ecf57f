"""Public vocabularies: category lists that are common knowledge, so declaring them costs nothing.

A schema can name one instead of listing categories::

    columns:
      state: {kind: categorical, categories: us_states}

The lists are public facts (standards and common codings), never derived from any data. They
also serve, under DP, as public *candidates* during category discovery: a candidate is released
when its noisy count clears a false-positive bar, with no DP threshold; and a column found to be
written in one vocabulary (its entries' noisy counts sum to at least half the rows, well clear of
their noise) gets every entry of it as a category, however rare each one is (see
:func:`tabsynth.transform.categorical.fit_categorical`).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from types import MappingProxyType

from .exceptions import SchemaError

__all__ = ["SPELLINGS", "VOCABULARIES", "candidate_values", "vocabulary"]

_US_STATES = (
    "AK", "AL", "AR", "AZ", "CA", "CO", "CT", "DC", "DE", "FL", "GA", "HI", "IA", "ID", "IL", "IN", "KS",
    "KY", "LA", "MA", "MD", "ME", "MI", "MN", "MO", "MS", "MT", "NC", "ND", "NE", "NH", "NJ", "NM", "NV",
    "NY", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VA", "VT", "WA", "WI", "WV", "WY",
)  # fmt: skip
_US_STATE_NAMES = (
    "Alabama", "Alaska", "Arizona", "Arkansas", "California", "Colorado", "Connecticut", "Delaware",
    "District of Columbia", "Florida", "Georgia", "Hawaii", "Idaho", "Illinois", "Indiana", "Iowa",
    "Kansas", "Kentucky", "Louisiana", "Maine", "Maryland", "Massachusetts", "Michigan", "Minnesota",
    "Mississippi", "Missouri", "Montana", "Nebraska", "Nevada", "New Hampshire", "New Jersey",
    "New Mexico", "New York", "North Carolina", "North Dakota", "Ohio", "Oklahoma", "Oregon",
    "Pennsylvania", "Rhode Island", "South Carolina", "South Dakota", "Tennessee", "Texas", "Utah",
    "Vermont", "Virginia", "Washington", "West Virginia", "Wisconsin", "Wyoming",
)  # fmt: skip
# ISO 3166-1 alpha-2 (officially assigned codes).
_ISO_COUNTRIES = tuple(
    """AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT
    BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER
    ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID
    IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV
    LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR
    NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL
    SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC
    VE VG VI VN VU WF WS YE YT ZA ZM ZW""".split()
)

_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
    "November", "December",
)  # fmt: skip
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

#: Every named vocabulary (read-only). ``sex`` is the common text coding; ``sex_mf`` the one-letter
#: coding; ``sex_12`` the numeric 1 = male, 2 = female coding of many surveys; ``sub_grades`` the
#: A1..G5 scale of loan books (``letter_grades`` its letters).
VOCABULARIES: Mapping[str, tuple[str | int, ...]] = MappingProxyType(
    {
        "us_states": _US_STATES,
        "us_state_names": _US_STATE_NAMES,
        "iso_countries": _ISO_COUNTRIES,
        "yes_no": ("no", "yes"),
        "sex": ("Female", "Male"),
        "sex_mf": ("F", "M"),
        "sex_12": (1, 2),
        "letter_grades": tuple("ABCDEFG"),
        "sub_grades": tuple(f"{letter}{digit}" for letter in "ABCDEFG" for digit in range(1, 6)),
        "months": _MONTHS,
        "month_abbr": tuple(m[:3] for m in _MONTHS),
        "weekdays": _WEEKDAYS,
        "weekday_abbr": tuple(d[:3] for d in _WEEKDAYS),
    }
)


def vocabulary(name: str) -> tuple[str | int, ...]:
    """The categories of the public vocabulary ``name``.

    Raises:
        SchemaError: ``name`` is not a known vocabulary (the message lists them).
    """
    try:
        return VOCABULARIES[name]
    except KeyError:
        raise SchemaError(
            f"Unknown vocabulary {name!r}: use a list of categories or one of {', '.join(sorted(VOCABULARIES))}."
        ) from None


#: The spellings of a vocabulary entry tried in the data: as listed, lower, upper and title case.
SPELLINGS = (str, str.lower, str.upper, str.title)


@cache
def candidate_values() -> tuple[str, ...]:
    """Public text values tried during DP category discovery (every vocabulary, usual spellings)."""
    words: dict[str, None] = {}
    for values in VOCABULARIES.values():
        for v in values:
            if isinstance(v, str):
                words.update(dict.fromkeys(spell(v) for spell in SPELLINGS))
    for extra in ("y", "n", "true", "false", "unknown", "other", "none", "male", "female", "m", "f"):
        words.update(dict.fromkeys((extra, extra.upper(), extra.title())))
    return tuple(words)
