"""The unit-test network guard really refuses connections."""

import socket

import pytest

from tests.unit.conftest import NetworkClosed


def test_opening_a_connection_fails_in_unit_tests() -> None:
    with pytest.raises(NetworkClosed):
        socket.create_connection(("127.0.0.1", 9))
