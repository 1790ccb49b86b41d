"""The cases admin, one module per concept. Importing this package registers every ModelAdmin.

Other apps put their own admin in their own ``admin.py`` and may reuse the building blocks in
:mod:`cases.admin.base` (visibility-scoped querysets, read-only mixins, service error messages).
"""

from . import cases, catalogue, installations, organisations  # noqa: F401  (registers)
from .base import ReadOnlyAdminMixin, ReadOnlyInlineMixin, VisibilityScopedAdminMixin, report_service_error

__all__ = ["ReadOnlyAdminMixin", "ReadOnlyInlineMixin", "VisibilityScopedAdminMixin", "report_service_error"]
