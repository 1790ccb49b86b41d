"""The API test fixtures (token clients per role) for the retry engine's endpoints."""

from tests.cases.api.conftest import _no_throttling, api_client, clients  # noqa: F401
