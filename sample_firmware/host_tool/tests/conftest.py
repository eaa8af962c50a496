"""Fixtures of the host tool's tests."""

from __future__ import annotations

import pytest

from tests.fakepump import FakePump


@pytest.fixture
def pump() -> FakePump:
    return FakePump()
