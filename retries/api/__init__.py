"""REST API of the retry engine: retry policies, and an installation's migration/session attempts."""
