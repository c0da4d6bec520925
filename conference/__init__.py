"""The conference Django project: settings, ASGI routing, URL map and the application error."""
