"""Token and session authentication, the OpenAPI schema, and the login page."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db


def test_token_flow(api_client, host_user, user_password):
    """Username and password give a token; the token authenticates API calls."""
    response = api_client.post(
        "/api/auth/token/", {"username": "hazel", "password": user_password}, format="json"
    )
    assert response.status_code == 200
    token = response.json()["token"]
    assert Token.objects.get(key=token).user == host_user
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    created = api_client.post("/api/meetings/", {"title": "By token"}, format="json")
    assert created.status_code == 201
    assert "id" in created.json()


def test_wrong_password_and_bad_token_are_refused(api_client, host_user):
    """A wrong password gives no token; an unknown token is 401."""
    response = api_client.post(
        "/api/auth/token/", {"username": "hazel", "password": "wrong"}, format="json"
    )
    assert response.status_code == 400
    assert "token" not in response.json()
    api_client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert api_client.get("/api/meetings/").status_code == 401


def test_session_auth_and_login_page(host_user, user_password):
    """The login page renders, logging in sets a session, the API accepts it (with CSRF)."""
    client = Client(enforce_csrf_checks=True)
    page = client.get("/accounts/login/")
    assert page.status_code == 200 and b'name="password"' in page.content
    csrf = client.cookies["csrftoken"].value
    login = client.post(
        "/accounts/login/",
        {"username": "hazel", "password": user_password, "csrfmiddlewaretoken": csrf},
    )
    assert login.status_code == 302
    assert client.get("/api/meetings/").status_code == 200
    refused = client.post("/api/meetings/", {"title": "no csrf"}, content_type="application/json")
    assert refused.status_code == 403
    csrf = client.cookies["csrftoken"].value
    created = client.post(
        "/api/meetings/",
        {"title": "with csrf"},
        content_type="application/json",
        headers={"X-CSRFToken": csrf},
    )
    assert created.status_code == 201


def test_schema_and_docs(api_client):
    """The OpenAPI schema lists the meetings endpoints; the Swagger UI page is served."""
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in [
        "/api/meetings/",
        "/api/meetings/{id}/",
        "/api/meetings/{id}/end/",
        "/api/meetings/{id}/participants/",
        "/api/meetings/{id}/participants/{username}/",
        "/api/auth/token/",
    ]:
        assert path in paths, path
    docs = api_client.get("/api/docs/")
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()
