from __future__ import annotations

from django.db import models


class NonWorkingDay(models.Model):
    """A DCC-defined non-working day on top of the England and Wales bank holidays."""

    date = models.DateField(unique=True)
    description = models.CharField(max_length=200)

    class Meta:
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.description}"
