from django.urls import path

from . import auth, case_detail, dashboard, installation, queue, retry_views

urlpatterns = [
    path("", queue.queue, name="queue"),
    path("bulk/", queue.bulk, name="bulk"),
    path("cases/<str:reference>/", case_detail.case_detail, name="case_detail"),
    path("cases/<str:reference>/transitions/<str:name>/", case_detail.case_transition_view, name="case_transition"),
    path("cases/<str:reference>/assign/", case_detail.case_assign_view, name="case_assign"),
    path("cases/<str:reference>/notes/", case_detail.case_note_view, name="case_note"),
    path("cases/<str:reference>/checklist/<int:order>/", case_detail.case_tick_view, name="case_tick"),
    path("attachments/<int:pk>/", case_detail.attachment_download, name="attachment_download"),
    path("installations/<int:pk>/", installation.installation_detail, name="installation_detail"),
    path("installations/<int:pk>/retries/schedule/", retry_views.retry_schedule_view, name="retry_schedule"),
    path("installations/<int:pk>/retries/cancel/", retry_views.retry_cancel_view, name="retry_cancel"),
    path("installations/<int:pk>/retries/pause/", retry_views.retry_pause_view, name="retry_pause"),
    path("installations/<int:pk>/retries/resume/", retry_views.retry_resume_view, name="retry_resume"),
    path("dashboard/", dashboard.dashboard, name="dashboard"),
    path("accounts/login/", auth.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth.LogoutView.as_view(), name="logout"),
    path("accounts/password/", auth.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/done/", auth.PasswordChangeDoneView.as_view(), name="password_change_done"),
]
