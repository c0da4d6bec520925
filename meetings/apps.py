"""Django app config for meetings."""

from django.apps import AppConfig


class MeetingsConfig(AppConfig):
    """Meetings and their participants."""

    name = "meetings"
    verbose_name = "Meetings"
