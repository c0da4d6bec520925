#!/usr/bin/env python
"""Django's command-line utility for the conference project."""

import os
import sys


def main() -> None:
    """Run administrative tasks with the project's settings module as the default."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "conference.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
