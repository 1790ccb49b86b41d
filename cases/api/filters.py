"""django-filter FilterSets for the list endpoints (applied to the visible queryset only)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import django_filters as df
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q, QuerySet

from cases.domain import (
    OPEN_STATES,
    CaseState,
    Category,
    Cohort,
    InstallationType,
    MigrationStatus,
    Party,
    Priority,
    Stage,
)
from cases.models import Case, Check, Device, Installation
from cases.validators import normalise_eui64


class ApiFilterSet(df.FilterSet):
    """A NUL character can match nothing stored (PostgreSQL text has none): such a query answers an
    empty page instead of the form field's "null characters are not allowed" error."""

    def __init__(self, data: Any = None, *args: Any, **kwargs: Any) -> None:
        self.matches_nothing = False
        if data is not None and any("\x00" in v for _, values in data.lists() for v in values):
            self.matches_nothing = True
            data = data.copy()
            for key, values in list(data.lists()):
                data.setlist(key, [v.replace("\x00", "") for v in values])
        super().__init__(data, *args, **kwargs)

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        queryset = super().filter_queryset(queryset)
        return queryset.none() if self.matches_nothing else queryset


def to_utc(value: datetime) -> datetime:
    """PostgreSQL accepts UTC offsets up to ±15:59; ISO 8601 allows more. Compare in UTC instead;
    a moment before year 1 in UTC is the earliest representable one."""
    try:
        return value.astimezone(UTC) if value.tzinfo is not None else value
    except OverflowError:
        return datetime.min.replace(tzinfo=UTC)


class _Choices(df.MultipleChoiceFilter):
    """A repeatable choice filter without SELECT DISTINCT: these filters are on the model's own columns,
    so no row can repeat, and DISTINCT would make PostgreSQL read and de-duplicate every match before
    the LIMIT of a page (seconds at a million cases instead of one index range)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("distinct", False)
        super().__init__(*args, **kwargs)


class UtcDateTimeFilter(df.IsoDateTimeFilter):
    def filter(self, qs: QuerySet, value: datetime | None) -> QuerySet:
        return super().filter(qs, to_utc(value) if value is not None else value)


class _DeviceFilter(df.CharFilter):
    def __init__(self, *args: Any, installation_field: str, **kwargs: Any) -> None:
        self.installation_field = installation_field
        super().__init__(*args, **kwargs)

    def filter(self, qs: QuerySet, value: str) -> QuerySet:
        if not value:
            return qs
        try:
            eui64 = normalise_eui64(value)
        except DjangoValidationError:
            return qs.none()
        return qs.filter(**{f"{self.installation_field}__in": Device.objects.filter(eui64=eui64).values("installation_id")})


class CaseFilter(ApiFilterSet):
    state = _Choices(choices=CaseState.choices, help_text="Repeat for several states.")
    open = df.BooleanFilter(method="filter_open", help_text="true: open states only; false: finished or closed.")
    stage = _Choices(choices=Stage.choices)
    category = _Choices(choices=Category.choices)
    check = df.CharFilter(method="filter_check", help_text="Check code(s), comma-separated, e.g. CM001,CM002.")
    cohort = _Choices(choices=Cohort.choices)
    installation_type = _Choices(choices=InstallationType.choices)
    owner_party = _Choices(choices=Party.choices)
    priority = _Choices(choices=Priority.choices)
    assignee = df.CharFilter(
        method="filter_assignee", help_text="Username of the assignee; `me` for yourself, `none` for unassigned."
    )
    supplier = df.CharFilter(field_name="supplier__code", help_text="Supplier organisation code (DCC).")
    # A choice (not a lenient BooleanFilter) so that a value other than true/false is a 400.
    sla_breached = df.ChoiceFilter(
        choices=[("true", "true"), ("false", "false")],
        method="filter_sla_breached",
        help_text="true: cases with a breached SLA clock (DCC's or the User's response or resolution clock, "
        "including a running clock past its deadline that the SLA scan has not marked yet); false: the others.",
    )
    updated_since = UtcDateTimeFilter(field_name="updated_at", lookup_expr="gte", help_text="ISO 8601 date-time.")
    raised_since = UtcDateTimeFilter(field_name="raised_at", lookup_expr="gte")
    mpxn = df.CharFilter(method="filter_mpxn", help_text="An MPAN core or an MPRN of the installation.")
    device_id = _DeviceFilter(installation_field="installation_id", help_text="EUI-64 of a device of the installation.")
    reference = df.CharFilter(method="filter_reference", help_text="MEHR-000123 (or 123).")
    installation = df.NumberFilter(method="filter_installation", help_text="Installation id.")

    class Meta:
        model = Case
        fields: list[str] = []

    def filter_open(self, qs: QuerySet, name: str, value: bool) -> QuerySet:
        if value is None:
            return qs
        return qs.filter(state__in=OPEN_STATES) if value else qs.exclude(state__in=OPEN_STATES)

    def filter_sla_breached(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        if not value:
            return qs
        # The same selector as the queue's SLA filter and the CSV export's sla=breached|ok.
        from cases.services.sla import cases_sla_breached

        return cases_sla_breached(qs, breached=value == "true")

    def filter_check(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        codes = [c.strip().upper() for c in value.split(",") if c.strip()]
        if not codes:
            return qs
        # Resolved to ids first (one small query): with literal ids the planner uses the column's
        # statistics and picks the right index at a million cases, which it cannot for a subquery.
        return qs.filter(check_type_id__in=list(Check.objects.filter(code__in=codes).values_list("pk", flat=True)))

    def filter_assignee(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if value.lower() == "none":
            return qs.filter(assignee__isnull=True)
        if value.lower() == "me":
            user = getattr(self.request, "user", None)
            return qs.filter(assignee_id=getattr(user, "pk", None)) if user is not None else qs.none()
        from django.contrib.auth import get_user_model

        # An id, not a join on the username, for the same reason as check codes above.
        ids = list(get_user_model().objects.filter(username=value).values_list("pk", flat=True))
        return qs.filter(assignee_id__in=ids)

    def filter_mpxn(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return qs
        ids = Installation.objects.filter(Q(mpan=value) | Q(mprn=value)).values("pk")
        return qs.filter(installation_id__in=ids)

    def filter_installation(self, qs: QuerySet, name: str, value: int) -> QuerySet:
        if value is None:
            return qs
        if value != int(value) or not 0 < value < 2**63:
            return qs.none()
        return qs.filter(installation_id=int(value))

    def filter_reference(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        pk = Case.pk_from_reference(value)
        if pk is None or pk > 2**62:
            return qs.none()
        return qs.filter(pk=pk)


class InstallationFilter(ApiFilterSet):
    cohort = _Choices(choices=Cohort.choices)
    installation_type = _Choices(choices=InstallationType.choices)
    migration_status = _Choices(choices=MigrationStatus.choices)
    supplier = df.CharFilter(field_name="responsible_supplier__code", help_text="Supplier code (DCC).")
    mpxn = df.CharFilter(method="filter_mpxn", help_text="An MPAN core or an MPRN.")
    device_id = _DeviceFilter(installation_field="pk", help_text="EUI-64 of one of its devices.")
    updated_since = UtcDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = Installation
        fields: list[str] = []

    def filter_mpxn(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        return qs.filter(Q(mpan=value) | Q(mprn=value)) if value else qs


class CheckFilter(ApiFilterSet):
    stage = _Choices(choices=Stage.choices)
    category = _Choices(choices=Category.choices)
    cohort = df.ChoiceFilter(choices=Cohort.choices, method="filter_cohort", help_text="Checks that apply to this cohort.")
    in_force = df.BooleanFilter(method="filter_in_force", help_text="true: checks in force today.")

    class Meta:
        model = Check
        fields: list[str] = []

    def filter_cohort(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        if not value:
            return qs
        # Evaluated in Python as the list is short (the catalogue has dozens of checks) and JSON
        # containment differs between PostgreSQL and SQLite.
        return qs.filter(pk__in=[c.pk for c in qs if c.applies_to(value)])

    def filter_in_force(self, qs: QuerySet, name: str, value: bool) -> QuerySet:
        if value is None:
            return qs
        in_force = Check.objects.in_force().values("pk")
        return qs.filter(pk__in=in_force) if value else qs.exclude(pk__in=in_force)
