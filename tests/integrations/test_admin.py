"""The integrations admin: a new secret is shown once, stored encrypted; rotate; revoke."""

from __future__ import annotations

import re

import pytest

from integrations.models import Integration

pytestmark = pytest.mark.django_db

ADD = "/admin/integrations/integration/add/"
LIST = "/admin/integrations/integration/"


def secret_in(html: str) -> str:
    """The secret a page shows (the test fails if there is none)."""
    found = re.search(r"secret <code>(sk_[A-Za-z0-9_-]+)</code>", html)
    assert found, "no secret on the page"
    return found.group(1)


def test_adding_an_integration_shows_its_secret_once(admin_client, admin_user):
    """The add form has no key or secret fields; saving generates both, the message shows
    the secret (which decrypts from the database), and later pages never show it again."""
    form = admin_client.get(ADD)
    assert form.status_code == 200 and b"secret_encrypted" not in form.content
    answer = admin_client.post(ADD, {"name": "Acme", "owner": admin_user.pk,
                                     "webhook_url": "https://hooks.example.com/x",
                                     "is_active": "on",
                                     "meeting_links-TOTAL_FORMS": "0",
                                     "meeting_links-INITIAL_FORMS": "0"}, follow=True)
    assert answer.status_code == 200
    secret = secret_in(answer.content.decode())
    integration = Integration.objects.get(name="Acme")
    assert integration.secret == secret and secret not in integration.secret_encrypted
    assert integration.api_key in answer.content.decode()
    change = admin_client.get(f"{LIST}{integration.pk}/change/")
    assert secret.encode() not in change.content
    assert secret.encode() not in admin_client.get(LIST).content


def test_admin_refuses_a_plain_http_webhook_url(admin_client, admin_user, settings):
    """The URL rule applies in the admin form too."""
    settings.INTEGRATIONS = {**settings.INTEGRATIONS, "WEBHOOK_ALLOW_HTTP_LOOPBACK": False}
    answer = admin_client.post(ADD, {"name": "Acme", "owner": admin_user.pk,
                                     "webhook_url": "http://127.0.0.1:9000/x",
                                     "meeting_links-TOTAL_FORMS": "0",
                                     "meeting_links-INITIAL_FORMS": "0"})
    assert answer.status_code == 200 and b"Webhook URLs must use https." in answer.content
    assert not Integration.objects.exists()


def test_rotate_and_revoke_actions(admin_client, acme):
    """Rotating shows a new secret that replaces the old; revoking turns it off."""
    answer = admin_client.post(LIST, {"action": "rotate_secret",
                                      "_selected_action": [acme.integration.pk]}, follow=True)
    new_secret = secret_in(answer.content.decode())
    acme.integration.refresh_from_db()
    assert new_secret != acme.secret and acme.integration.secret == new_secret
    admin_client.post(LIST, {"action": "revoke", "_selected_action": [acme.integration.pk]})
    acme.integration.refresh_from_db()
    assert not acme.integration.is_active and acme.integration.revoked_at is not None
