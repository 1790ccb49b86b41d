"""Child process for the concurrent duplicate ingestion test: raise the same events as its siblings."""

from __future__ import annotations

import os
import random
import time


def raise_events(database_url: str, events: list[tuple[int, str, str]], start_at: float, seed: int) -> dict[str, int]:
    """Raise every (installation id, check code, source event id) through the service, in a shuffled order."""
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mehr_site.settings")
    import django

    django.setup()
    from django.db import connection
    from django.utils import timezone

    from cases.models import Check, Installation
    from cases.services import case_raise

    checks = {c.code: c for c in Check.objects.all()}
    installations = {i.pk: i for i in Installation.objects.filter(pk__in={e[0] for e in events})}
    order = list(events)
    random.Random(seed).shuffle(order)
    counts = {"created": 0, "duplicate": 0, "occurrence": 0}
    while time.time() < start_at:  # all children start together, so the same events really collide
        time.sleep(0.005)
    for installation_id, code, event_id in order:
        result = case_raise(installation=installations[installation_id], check=checks[code], source="s1sp",
                            source_event_id=event_id, occurred_at=timezone.now())  # fmt: skip
        counts["created" if result.created else "duplicate" if result.duplicate else "occurrence"] += 1
    connection.close()
    return counts


def post_events(
    database_url: str, token: str, batches: list[list[dict]], start_at: float, seed: int
) -> dict[str, int]:
    """POST every batch to /api/v1/exception-events/ (the whole Django and DRF stack, in this process),
    batches and events in a shuffled order; count what the API answered for each event."""
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mehr_site.settings")
    import django

    django.setup()
    from django.db import connection
    from rest_framework.test import APIClient

    rng = random.Random(seed)
    order = [rng.sample(batch, len(batch)) for batch in batches]
    rng.shuffle(order)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    counts = {"created": 0, "duplicate": 0, "occurrence": 0, "http_errors": 0}
    while time.time() < start_at:
        time.sleep(0.005)
    for batch in order:
        response = client.post("/api/v1/exception-events/", {"events": batch}, format="json")
        if response.status_code != 200:
            counts["http_errors"] += 1
            continue
        for result in response.json()["results"]:
            # status "created": the first delivery of this event opened the case (replays say so too).
            first = result["status"] == "created" and not result["duplicate"]
            counts["duplicate" if result["duplicate"] else "created" if first else "occurrence"] += 1
    connection.close()
    return counts
