import pytest
from django.core.exceptions import ValidationError

from cases.validators import mpan_check_digit, normalise_eui64, validate_eui64, validate_mpan, validate_mprn


@pytest.mark.parametrize("mpan", ["1200023305967", "1100000000017", "2000053962018"])
def test_valid_mpans_pass(mpan: str) -> None:
    assert mpan_check_digit(mpan[:12]) == int(mpan[12])
    validate_mpan(mpan)


@pytest.mark.parametrize(
    "mpan, code",
    [
        ("1200023305960", "mpan_check_digit"),
        ("120002330596", "mpan_format"),
        ("12000233059671", "mpan_format"),
        ("12000233059AB", "mpan_format"),
        ("", "mpan_format"),
    ],
)
def test_bad_mpans_fail(mpan: str, code: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate_mpan(mpan)
    assert info.value.code == code


@pytest.mark.parametrize("mprn", ["123456", "1234567890", "7000001"])
def test_valid_mprns(mprn: str) -> None:
    validate_mprn(mprn)


@pytest.mark.parametrize("mprn", ["12345", "12345678901", "12a456", "", "-123456"])
def test_bad_mprns(mprn: str) -> None:
    with pytest.raises(ValidationError):
        validate_mprn(mprn)


@pytest.mark.parametrize(
    "raw",
    ["70-B3-D5-1F-30-00-A0-08", "70b3d51f3000a008", "70:b3:d5:1f:30:00:a0:08", " 70 B3 D5 1F 30 00 A0 08 "],
)
def test_eui64_normalised(raw: str) -> None:
    assert normalise_eui64(raw) == "70-B3-D5-1F-30-00-A0-08"


@pytest.mark.parametrize("raw", ["70-B3-D5-1F-30-00-A0", "70-B3-D5-1F-30-00-A0-0G", "", "70B3D51F3000A00811"])
def test_bad_eui64(raw: str) -> None:
    with pytest.raises(ValidationError):
        normalise_eui64(raw)


def test_validate_eui64_requires_normal_form() -> None:
    validate_eui64("70-B3-D5-1F-30-00-A0-08")
    with pytest.raises(ValidationError):
        validate_eui64("70b3d51f3000a008")
