"""The public API: ``__all__`` is sorted, complete and every name resolves."""

from __future__ import annotations

import tabsynth


def test_all_is_sorted_and_resolves() -> None:
    assert tabsynth.__all__ == sorted(tabsynth.__all__)
    for name in tabsynth.__all__:
        assert getattr(tabsynth, name) is not None


def test_main_entry_points_are_exported() -> None:
    for name in ("Synthesizer", "TableSchema", "PrivacyLedger", "run_audit", "read_table", "infer_schema", "release"):
        assert name in tabsynth.__all__


def test_release_is_the_pipeline_function() -> None:
    import tabsynth.pipeline

    assert callable(tabsynth.release) and tabsynth.release is tabsynth.pipeline.release
