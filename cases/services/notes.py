"""Notes, attachments and checklist ticks: additive changes recorded as events."""

from __future__ import annotations

import hashlib
import mimetypes
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from cases.domain import DCC_ROLES, DCC_STAFF_ROLES, EventKind, NoteKind, Party, Role, Visibility
from cases.errors import NotFound, NotPermitted, ValidationFailed
from cases.models import Attachment, Case, CaseEvent, ChecklistItem
from cases.roles import role_of
from cases.selectors import cases_visible_to

from .events import event_record
from .transitions import MAX_NOTE_LENGTH

NOTE_ROLES = frozenset(DCC_ROLES | {Role.USER_AGENT, Role.USER_INTEGRATION, Role.SYSTEM})


def _visible_case(actor: Any, case: Case | int) -> Case:
    case_pk = case if isinstance(case, int) else case.pk
    found = cases_visible_to(actor).filter(pk=case_pk).first() if actor is not None else Case.objects.get(pk=case_pk)
    if found is None:
        raise NotFound("No such case.")
    return found


def _clean_visibility(actor: Any, visibility: str) -> str:
    if visibility not in Visibility.values:
        raise ValidationFailed.field("visibility", f"Choose one of {', '.join(Visibility.values)}.")
    if visibility == Visibility.INTERNAL and role_of(actor) not in DCC_ROLES | {Role.SYSTEM}:
        raise ValidationFailed.field("visibility", "Only DCC staff write DCC-internal notes.")
    return visibility


def _validate_upload(upload: UploadedFile) -> str:
    """Return the content type, or raise: type from an allowed list (declared and by name), size capped."""
    limits = settings.MEHR
    allowed = set(limits["ATTACHMENT_CONTENT_TYPES"])
    declared = (getattr(upload, "content_type", "") or "").split(";")[0].strip().lower()
    guessed = (mimetypes.guess_type(upload.name or "")[0] or "").lower()
    errors = []
    if guessed not in allowed:
        errors.append(f"Files of this type are not accepted; allowed: {', '.join(sorted(allowed))}.")
    elif declared and declared not in (guessed, "application/octet-stream"):
        errors.append("The file's declared type does not match its name.")
    if upload.size is None or upload.size <= 0:
        errors.append("The file is empty.")
    elif upload.size > limits["ATTACHMENT_MAX_BYTES"]:
        errors.append(f"A file is at most {limits['ATTACHMENT_MAX_BYTES'] // (1024 * 1024)} MB.")
    if len(upload.name or "") > 200:
        errors.append("The file name is too long (200 characters at most).")
    if errors:
        raise ValidationFailed(errors={"attachments": errors})
    return guessed


def case_add_note(
    *,
    case: Case | int,
    actor: Any,
    kind: str,
    body: str,
    visibility: str = Visibility.SHARED,
    attachments: list[UploadedFile] | tuple[UploadedFile, ...] = (),
) -> CaseEvent:
    """Record an investigation, correction or communication note, with optional attachments."""
    found = _visible_case(actor, case)
    if role_of(actor) not in NOTE_ROLES:
        raise NotPermitted("Your role may not add notes.")
    errors: dict[str, list[str]] = {}
    if kind not in NoteKind.values:
        errors["kind"] = [f"Choose one of {', '.join(NoteKind.values)}."]
    body = (body or "").strip()
    if not body:
        errors["body"] = ["Write the note."]
    elif len(body) > MAX_NOTE_LENGTH:
        errors["body"] = [f"A note is at most {MAX_NOTE_LENGTH} characters."]
    if errors:
        raise ValidationFailed(errors=errors)
    visibility = _clean_visibility(actor, visibility)
    for upload in attachments:
        _validate_upload(upload)
    with transaction.atomic():
        locked = Case.objects.select_for_update().get(pk=found.pk)
        event = event_record(case=locked, kind=EventKind.NOTE, actor=actor, body=body, note_kind=kind, visibility=visibility)
        for upload in attachments:
            _store_attachment(locked, actor, upload, visibility, note_event=event)
        Case.objects.filter(pk=locked.pk).update(updated_at=timezone.now())
    return event


def case_add_attachment(
    *, case: Case | int, actor: Any, upload: UploadedFile, visibility: str = Visibility.SHARED
) -> Attachment:
    found = _visible_case(actor, case)
    if role_of(actor) not in NOTE_ROLES:
        raise NotPermitted("Your role may not add attachments.")
    visibility = _clean_visibility(actor, visibility)
    _validate_upload(upload)
    with transaction.atomic():
        locked = Case.objects.select_for_update().get(pk=found.pk)
        attachment = _store_attachment(locked, actor, upload, visibility, note_event=None)
        Case.objects.filter(pk=locked.pk).update(updated_at=timezone.now())
    return attachment


def _store_attachment(
    case: Case, actor: Any, upload: UploadedFile, visibility: str, note_event: CaseEvent | None
) -> Attachment:
    content_type = _validate_upload(upload)
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    event = event_record(
        case=case,
        kind=EventKind.ATTACHMENT,
        actor=actor,
        body=upload.name,
        visibility=visibility,
        data={"note_event": note_event.pk if note_event else None, "size": upload.size, "content_type": content_type},
    )
    attachment = Attachment(
        case=case,
        event=event,
        original_name=upload.name,
        content_type=content_type,
        size=upload.size,
        sha256=digest.hexdigest(),
        uploaded_by=actor,
        visibility=visibility,
    )
    attachment.file.save(upload.name, upload, save=False)
    attachment.save()
    return attachment


def case_tick_checklist(*, case: Case | int, order: int, actor: Any, done: bool = True) -> ChecklistItem:
    """Tick (or untick) a procedure step. DCC staff tick DCC/SMSO/DCO steps; User agents tick User steps."""
    found = _visible_case(actor, case)
    role = role_of(actor)
    if role not in NOTE_ROLES:
        raise NotPermitted("Your role may not tick checklist steps.")
    with transaction.atomic():
        item = ChecklistItem.objects.select_for_update().filter(case_id=found.pk, order=order).first()
        if item is None:
            raise NotFound(f"No step {order} on this case.")
        user_side = role not in DCC_ROLES | {Role.SYSTEM}
        if user_side and item.party != Party.USER:
            raise NotPermitted("This step is for DCC (or the SMSO/DCO through DCC); Users tick User steps.")
        if not user_side and item.party == Party.USER and role in DCC_STAFF_ROLES:
            raise NotPermitted("This step is the User's to tick.")
        if item.done == done:
            return item
        item.done = done
        item.done_by = actor if done else None
        item.done_at = timezone.now() if done else None
        item.save(update_fields=["done", "done_by", "done_at"])
        event_record(
            case=found,
            kind=EventKind.CHECKLIST,
            actor=actor,
            body=("Ticked" if done else "Unticked") + f" step {item.order}: {item.text}",
            data={"order": item.order, "done": done},
        )
        Case.objects.filter(pk=found.pk).update(updated_at=timezone.now())
    return item
