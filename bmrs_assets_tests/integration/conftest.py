"""Fixtures shared by the integration tests: a loopback webhook receiver for the alert tests."""

from __future__ import annotations

import pytest

from bmrs_assets_tests.integration.test_alerts import Receiver


@pytest.fixture
def receiver():
    """A real HTTP server on 127.0.0.1 that records each webhook POST; shut down after the test."""
    server = Receiver()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
