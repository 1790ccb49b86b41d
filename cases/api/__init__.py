"""The REST API, version 1 (/api/v1/): a thin interface over cases.services and cases.selectors."""
