"""Sign in (throttled, browser roles only), sign out, password change."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.urls import reverse_lazy

from cases.roles import role_of

from . import throttle
from .common import BROWSER_ROLES


def client_address(request: Any) -> str:
    # REMOTE_ADDR only: X-Forwarded-For is client-controlled unless a trusted proxy rewrites it.
    return request.META.get("REMOTE_ADDR", "") if request is not None else ""


class ThrottledAuthenticationForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "locked_out": "Too many failed sign-ins. Wait a few minutes and try again, or ask DCC support.",
        "not_for_browser": "This account cannot sign in to the web interface (it is an integration or has no role).",
    }

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        address = client_address(self.request)
        if throttle.is_locked_out(username=username, address=address):
            raise forms.ValidationError(self.error_messages["locked_out"], code="locked_out")
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            throttle.record_failure(username=username, address=address)
            raise
        throttle.reset(username=username)
        return cleaned

    def confirm_login_allowed(self, user: Any) -> None:
        super().confirm_login_allowed(user)
        if role_of(user) not in BROWSER_ROLES:
            raise forms.ValidationError(self.error_messages["not_for_browser"], code="not_for_browser")


class LoginView(auth_views.LoginView):
    authentication_form = ThrottledAuthenticationForm
    template_name = "registration/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "registration/password_change_form.html"
    success_url = reverse_lazy("password_change_done")


class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    template_name = "registration/password_change_done.html"
