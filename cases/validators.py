"""Validation and normalisation of the domain's identifiers (MPAN, MPRN, EUI-64)."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

# Weights for the MPAN core check digit (the 13th digit).
_MPAN_PRIMES = (3, 5, 7, 13, 17, 19, 23, 29, 31, 37, 41, 43)
_EUI64_HEX = re.compile(r"^[0-9A-F]{16}$")


def mpan_check_digit(first_twelve: str) -> int:
    total = sum(int(d) * p for d, p in zip(first_twelve, _MPAN_PRIMES, strict=True))
    return total % 11 % 10


def validate_mpan(value: str) -> None:
    if not (isinstance(value, str) and len(value) == 13 and value.isdigit()):
        raise ValidationError("An MPAN core is exactly 13 digits.", code="mpan_format")
    if mpan_check_digit(value[:12]) != int(value[12]):
        raise ValidationError("This MPAN core's check digit is wrong.", code="mpan_check_digit")


def validate_mprn(value: str) -> None:
    if not (isinstance(value, str) and value.isdigit() and 6 <= len(value) <= 10):
        raise ValidationError("An MPRN is 6 to 10 digits.", code="mprn_format")


def normalise_eui64(value: str) -> str:
    """Return the EUI-64 in upper-case hyphenated form, e.g. 70-B3-D5-1F-30-00-A0-08."""
    if not isinstance(value, str):
        raise ValidationError("An EUI-64 device ID is text.", code="eui64_format")
    raw = re.sub(r"[\s:\-]", "", value).upper()
    if not _EUI64_HEX.match(raw):
        raise ValidationError(
            "A device ID is an EUI-64: 8 hexadecimal octets, e.g. 70-B3-D5-1F-30-00-A0-08.", code="eui64_format"
        )
    return "-".join(raw[i : i + 2] for i in range(0, 16, 2))


def validate_eui64(value: str) -> None:
    normalised = normalise_eui64(value)
    if normalised != value:
        raise ValidationError("Device IDs are stored upper-case and hyphenated.", code="eui64_form")
