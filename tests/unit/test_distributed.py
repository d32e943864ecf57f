"""The process-group helpers outside torchrun (the two-process runs are in tests/integration)."""

from __future__ import annotations

import pytest

from tabsynth.distributed import current, init_distributed, is_main_process, shutdown_distributed
from tabsynth.exceptions import ConfigError


def test_single_process_is_main_and_initialises_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert init_distributed() is None and current() is None and is_main_process()
    shutdown_distributed()  # no-op


def test_torchrun_without_a_process_group_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # each rank would otherwise train alone on the whole table and spend the budget again
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ConfigError, match="init_distributed"):
        current()
