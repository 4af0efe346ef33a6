"""Suite-wide fixtures: each marker that names a server makes its tests require it."""

from __future__ import annotations

import pytest

from tests.services import require_service


@pytest.fixture(autouse=True)
def _require_marked_services(request: pytest.FixtureRequest) -> None:
    for name in ("rabbitmq", "redis", "postgres"):
        if request.node.get_closest_marker(name) is not None:
            require_service(name)
