"""Forms of the web UI: create or change a meeting, invite someone.

They only parse and check the shape of input; the rules (host only, end after start,
capacity range, not once ended) are the services' job, and their `ApplicationError` messages
are shown as form errors by the views.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from meetings.models import MAX_CAPACITY, TITLE_MAX_LENGTH, Meeting

__all__ = ["InviteForm", "MeetingForm"]

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


class DateTimeLocalInput(forms.DateTimeInput):
    """`<input type="datetime-local">`: the browser's own date and time picker."""

    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format=DATETIME_LOCAL)


class MeetingForm(forms.Form):
    """Title, schedule, who may join, and how many at once."""

    title = forms.CharField(
        label=_("Title"),
        max_length=TITLE_MAX_LENGTH,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autofocus": True}),
    )
    scheduled_start = forms.DateTimeField(
        label=_("Starts"),
        required=False,
        input_formats=[DATETIME_LOCAL, "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
        widget=DateTimeLocalInput(),
    )
    scheduled_end = forms.DateTimeField(
        label=_("Ends"),
        required=False,
        input_formats=[DATETIME_LOCAL, "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
        widget=DateTimeLocalInput(),
    )
    access = forms.ChoiceField(
        label=_("Who may join"),
        choices=[
            (Meeting.Access.INVITED, _("Invited people only")),
            (Meeting.Access.AUTHENTICATED, _("Anyone signed in who has the link")),
            (Meeting.Access.LOBBY, _("Anyone with the link, after the host admits them")),
        ],
        initial=Meeting.Access.INVITED,
    )
    capacity = forms.IntegerField(
        label=_("Capacity"),
        min_value=1,
        max_value=MAX_CAPACITY,
        initial=50,
        help_text=_("Most people in the call at once."),
    )

    def clean_title(self) -> str:
        """Blank titles are refused here, with the field's own message."""
        title = self.cleaned_data["title"].strip()
        if not title:
            raise forms.ValidationError(_("Give the meeting a title."))
        return title

    def clean(self) -> dict[str, Any]:
        """End after start, checked here too so the error sits beside the field."""
        cleaned = super().clean()
        start, end = cleaned.get("scheduled_start"), cleaned.get("scheduled_end")
        if start and end and end <= start:
            self.add_error("scheduled_end", _("The end must be after the start."))
        return cleaned

    @classmethod
    def initial_for(cls, meeting: Meeting) -> dict[str, Any]:
        """The form's initial values for an existing meeting."""
        return {
            "title": meeting.title,
            "scheduled_start": meeting.scheduled_start,
            "scheduled_end": meeting.scheduled_end,
            "access": meeting.access,
            "capacity": meeting.capacity,
        }


class InviteForm(forms.Form):
    """Invite a user by username."""

    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
