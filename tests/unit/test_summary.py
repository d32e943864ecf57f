"""Synthesizer.summary() and the notebook display: what was learned, the privacy card, DP notes."""

from __future__ import annotations

import warnings

import pytest

from tabsynth import Synthesizer
from tabsynth.constraints import with_constraints
from tabsynth.schema import infer_schema
from tests.conftest import make_frame


@pytest.fixture(scope="module")
def fitted() -> Synthesizer:
    frame = make_frame(800, seed=1)
    schema = infer_schema(frame, target="label", sensitive=["sex"]).with_categories("label", ["no", "yes"])
    schema = with_constraints(schema, [{"type": "range", "column": "age", "min": 18, "max": 80}])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Synthesizer(epsilon=4.0, epochs=1, random_state=0).fit(frame, schema)


def test_summary_before_fit() -> None:
    synth = Synthesizer(epsilon=2.0)
    assert "not fitted" in synth.summary()
    assert "not fitted" in synth._repr_html_()


def test_summary_lists_privacy_columns_and_constraints(fitted: Synthesizer) -> None:
    text = fitted.summary()
    card = fitted.privacy_card()
    assert f"epsilon={card['epsilon']:.4g}" in text and "DP-SGD" in text
    lines = {line.split()[0]: line for line in text.splitlines() if line.startswith("  ") and line.split()}
    assert "2 categories declared (public)" in lines["label"] and "[target]" in lines["label"]
    assert "bounds declared (public): [18, 80]" in lines["age"]  # the range constraint made them public
    assert "bounds estimated with DP" in lines["income"]
    assert "never modelled" in lines["customer_id"]
    assert '"type": "range"' in text


def test_html_is_escaped(fitted: Synthesizer) -> None:
    page = fitted._repr_html_()
    assert page.startswith("<div") and "<table>" in page and "<td>label</td>" in page
    assert "&quot;type&quot;: &quot;range&quot;" in page  # the constraint's JSON, escaped
