"""Settings for benchmarks: the product's, plus a bare Django view as the request baseline.

``DJANGO_SETTINGS_MODULE=bench.site`` serves every product URL and ``/__bench/bare`` (returns "ok"
without touching the database; bench/site_urls.py) through the same middleware stack, so request
overhead is measured against a baseline in the same server.
"""

from mehr_site.settings import *  # noqa: F403

ROOT_URLCONF = "bench.site_urls"
