"""Webhooks: signatures, the URL rule, and delivery to a real local receiver (retries included)."""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable

import pytest
from django.core.management import call_command
from django.db import OperationalError, transaction

from integrations import delivery, events, services
from integrations.dispatcher import dispatcher
from integrations.models import WebhookDelivery
from integrations.signing import (
    WebhookVerificationError,
    sign,
    signature_header,
    verify_webhook,
)
from integrations.validators import webhook_url_problem
from meetings import services as meeting_services
from tests.support.waiting import eventually_sync

SECRET = "sk_test-secret"
BODY = json.dumps({"id": "e1", "type": "meeting.started", "created": 1, "data": {}}).encode()


def wait_until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll `check` until it holds (the dispatcher works in its own thread)."""
    def holds() -> bool:
        try:
            return check()
        except OperationalError:  # SQLite shared cache: the dispatcher is writing
            return False

    eventually_sync(holds, timeout=timeout, every=0.05, what="condition not reached in time")


# --- signatures --------------------------------------------------------------------------------


def test_verify_accepts_a_fresh_signature_and_returns_the_event():
    """A body signed now with the secret verifies; header names are case-insensitive."""
    headers = {"webhook-signature": signature_header(SECRET, BODY), "WEBHOOK-ID": "e1"}
    assert verify_webhook(BODY, headers, SECRET)["type"] == "meeting.started"


@pytest.mark.parametrize(("mutate", "words"), [
    (lambda body, headers: (body + b" ", headers), "signature mismatch"),
    (lambda body, headers: (body, {**headers, "Webhook-Signature": "t=1"}), "malformed"),
    (lambda body, headers: (body, {"Webhook-Id": "e1"}), "missing"),
    (lambda body, headers: (body, {**headers, "Webhook-Id": "e2"}), "does not match"),
])
def test_verify_refuses_tampering(mutate, words):
    """A changed body, a header without signature, no header, or another id: refused."""
    headers = {"Webhook-Signature": signature_header(SECRET, BODY), "Webhook-Id": "e1"}
    body, headers = mutate(BODY, headers)
    with pytest.raises(WebhookVerificationError, match=words):
        verify_webhook(body, headers, SECRET)


def test_verify_refuses_another_secret():
    """A signature made with another secret does not verify."""
    headers = {"Webhook-Signature": signature_header("sk_other", BODY)}
    with pytest.raises(WebhookVerificationError, match="mismatch"):
        verify_webhook(BODY, headers, SECRET)


def test_replayed_old_request_is_refused():
    """A genuine request replayed after the tolerance (here 301 s later) is refused, though
    its signature is valid; within the tolerance it passes."""
    sent = int(time.time()) - 301
    headers = {"Webhook-Signature": signature_header(SECRET, BODY, timestamp=sent)}
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        verify_webhook(BODY, headers, SECRET, tolerance=300)
    assert verify_webhook(BODY, headers, SECRET, tolerance=300, now=sent + 299)
    future = {"Webhook-Signature": signature_header(SECRET, BODY, timestamp=int(time.time())
                                                    + 3600)}
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        verify_webhook(BODY, future, SECRET)


def test_signature_is_hmac_sha256_of_timestamp_dot_body():
    """The documented formula, so receivers in any language can check it."""
    import hashlib
    import hmac

    expected = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, 1700000000, BODY) == expected
    assert signature_header(SECRET, BODY, 1700000000) == f"t=1700000000,v1={expected}"
    rotated = f"t=1700000000,v1={'0' * 64},v1={expected}"
    assert verify_webhook(BODY, {"Webhook-Signature": rotated}, SECRET, now=1700000000)


# --- the URL rule ------------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "allowed"), [
    ("https://hooks.example.com/conference", True),
    ("https://hooks.example.com:8443/x?y=1", True),
    ("http://127.0.0.1:8000/hooks", True),
    ("http://127.1.2.3/hooks", True),
    ("http://localhost/hooks", True),
    ("http://[::1]:9000/hooks", True),
    ("http://hooks.example.com/x", False),
    ("http://10.0.0.5/x", False),
    ("http://localhost.example.com/x", False),
    ("ftp://127.0.0.1/x", False),
    ("https://user:pw@hooks.example.com/x", False),
    ("https://hooks.example.com/x#frag", False),
    ("https:///nohost", False),
    ("https://example.com:99999/x", False),
])
def test_webhook_url_rule_with_loopback_http_allowed(url, allowed):
    """With WEBHOOK_ALLOW_HTTP_LOOPBACK (tests, DEBUG): https anywhere, http to loopback only."""
    assert (webhook_url_problem(url) is None) is allowed, webhook_url_problem(url)


def test_webhook_url_rule_without_loopback_http(settings):
    """With the switch off (production default) plain http is refused even to loopback."""
    settings.INTEGRATIONS = {**settings.INTEGRATIONS, "WEBHOOK_ALLOW_HTTP_LOOPBACK": False}
    assert webhook_url_problem("http://127.0.0.1:8000/hooks") == "Webhook URLs must use https."
    assert webhook_url_problem("https://hooks.example.com/") is None


@pytest.mark.django_db
def test_creating_an_integration_checks_the_url(make_user):
    """The service refuses a URL the rule refuses, with its reason."""
    from conference.errors import ApplicationError

    with pytest.raises(ApplicationError, match="loopback"):
        services.integration_create(name="X", owner=make_user("o"),
                                    webhook_url="http://example.com/hook")


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    """base·2^(n-1) ±25 %, never above the cap."""
    rng = random.Random(7)
    delays = [delivery.backoff_seconds(n, base=5, cap=3600, rng=rng) for n in range(1, 12)]
    for attempt, value in enumerate(delays[:6], start=1):
        nominal = 5 * 2 ** (attempt - 1)
        assert 0.75 * nominal <= value <= 1.25 * nominal
    assert all(value <= 3600 for value in delays) and delays[-1] > 2700


# --- delivery to a real receiver ----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_events_are_delivered_signed_after_commit(hooked, hooked_meeting, webhook_receiver):
    """An event stored in a transaction is POSTed after the commit, signed with the
    integration's secret, with a Webhook-Id equal to the body's id."""
    with transaction.atomic():
        stored = events.emit(hooked_meeting.id, events.MEETING_STARTED, {"meeting": {"id": 1}})
        assert stored is not None and not webhook_receiver.requests
    received = webhook_receiver.wait_for(1)[0]
    assert received.error == "" and received.event["id"] == str(stored.event_id)
    assert received.headers["Webhook-Id"] == str(stored.event_id)
    assert received.headers["Content-Type"] == "application/json"
    assert set(received.event) == {"id", "type", "created", "data"}
    assert received.event["type"] == "meeting.started"
    wait_until(lambda: WebhookDelivery.objects.get(pk=stored.pk).status == "delivered")
    row = WebhookDelivery.objects.get(pk=stored.pk)
    assert row.attempts == 1 and row.response_code == 200 and row.delivered_at
    assert row.next_attempt_at is None and row.last_error == ""


@pytest.mark.django_db(transaction=True)
def test_rolled_back_change_sends_nothing(hooked, hooked_meeting, webhook_receiver):
    """An event whose transaction rolls back is neither stored nor sent: the next event,
    committed after it, is the only one stored and the only one the receiver gets."""
    with pytest.raises(RuntimeError), transaction.atomic():
        events.emit(hooked_meeting.id, events.MEETING_STARTED, {})
        raise RuntimeError("rollback")
    with transaction.atomic():
        later = events.emit(hooked_meeting.id, events.MEETING_ENDED, {})
    assert later is not None
    webhook_receiver.wait_for(1)
    assert list(WebhookDelivery.objects.values_list("pk", flat=True)) == [later.pk]
    assert [e["id"] for e in webhook_receiver.events()] == [str(later.event_id)]
    assert len(webhook_receiver.requests) == 1


@pytest.mark.django_db(transaction=True)
def test_failing_receiver_gets_retries_until_it_succeeds(hooked, hooked_meeting,
                                                         webhook_receiver):
    """The receiver answers 500 twice, then 200: three signed attempts of the same event
    (same Webhook-Id), spaced by the backoff, and the delivery ends delivered."""
    webhook_receiver.script = [500, 503]
    with transaction.atomic():
        stored = events.emit(hooked_meeting.id, events.MEETING_ENDED, {"meeting": {}})
    received = webhook_receiver.wait_for(3, timeout=15)
    assert [r.answered for r in received] == [500, 503, 200]
    assert {r.headers["Webhook-Id"] for r in received} == {str(stored.event_id)}
    assert all(r.error == "" for r in received), [r.error for r in received]
    gaps = [b.at - a.at for a, b in zip(received, received[1:], strict=False)]
    assert gaps[0] >= 0.15 and gaps[1] >= 0.3, gaps  # 0.2 s then 0.4 s, ±25 %
    wait_until(lambda: WebhookDelivery.objects.get(pk=stored.pk).status == "delivered")
    row = WebhookDelivery.objects.get(pk=stored.pk)
    assert row.attempts == 3 and row.response_code == 200 and row.last_error == ""


@pytest.mark.django_db(transaction=True)
def test_attempts_run_out_then_retry_now_delivers(hooked, hooked_meeting, webhook_receiver,
                                                  settings, admin_client):
    """After WEBHOOK_MAX_ATTEMPTS failures the delivery is failed with the last error; the
    admin's "retry now" gives it another attempt, which succeeds."""
    settings.INTEGRATIONS = {**settings.INTEGRATIONS, "WEBHOOK_MAX_ATTEMPTS": 2}
    webhook_receiver.script = [500, 500]
    with transaction.atomic():
        stored = events.emit(hooked_meeting.id, events.MEETING_ENDED, {})
    webhook_receiver.wait_for(2)
    wait_until(lambda: WebhookDelivery.objects.get(pk=stored.pk).status == "failed")
    row = WebhookDelivery.objects.get(pk=stored.pk)
    assert row.attempts == 2 and row.response_code == 500 and row.last_error == "HTTP 500"
    assert row.next_attempt_at is None
    page = admin_client.get("/admin/integrations/webhookdelivery/")
    assert page.status_code == 200 and b"meeting.ended" in page.content
    answer = admin_client.post("/admin/integrations/webhookdelivery/",
                               {"action": "retry", "_selected_action": [row.pk]}, follow=True)
    assert b"1 delivery due now" in answer.content
    webhook_receiver.wait_for(3)
    wait_until(lambda: WebhookDelivery.objects.get(pk=stored.pk).status == "delivered")
    assert WebhookDelivery.objects.get(pk=stored.pk).attempts == 3


@pytest.mark.django_db(transaction=True)
def test_slow_receiver_times_out_and_is_retried(hooked, hooked_meeting, webhook_receiver,
                                                settings):
    """A receiver slower than WEBHOOK_TIMEOUT counts as a failure; the retry succeeds (and
    the first request, answered late, changes nothing)."""
    settings.INTEGRATIONS = {**settings.INTEGRATIONS, "WEBHOOK_TIMEOUT": 1}
    webhook_receiver.hold_first = True
    with transaction.atomic():
        stored = events.emit(hooked_meeting.id, events.MEETING_STARTED, {})
    wait_until(lambda: WebhookDelivery.objects.get(pk=stored.pk).status == "delivered",
               timeout=15)
    webhook_receiver.release.set()
    webhook_receiver.wait_for(2, timeout=15)
    row = WebhookDelivery.objects.get(pk=stored.pk)
    assert row.attempts == 2 and row.status == "delivered"


@pytest.mark.django_db(transaction=True)
def test_command_delivers_when_the_dispatcher_is_off(hooked, hooked_meeting, webhook_receiver,
                                                     settings):
    """With WEBHOOK_DISPATCHER off nothing is sent by the serving process; `manage.py
    deliver_webhooks` drains what is due."""
    settings.INTEGRATIONS = {**settings.INTEGRATIONS, "WEBHOOK_DISPATCHER": False}
    with transaction.atomic():
        first = events.emit(hooked_meeting.id, events.MEETING_STARTED, {})
        second = events.emit(hooked_meeting.id, events.MEETING_ENDED, {})
    # The commit has already called the dispatcher's wake(): switched off, it started nothing.
    assert not dispatcher.running and not webhook_receiver.requests
    call_command("deliver_webhooks")
    assert [e["id"] for e in webhook_receiver.events()] == [str(first.event_id),
                                                             str(second.event_id)]
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}
    call_command("deliver_webhooks")
    assert len(webhook_receiver.requests) == 2, "nothing is sent twice"


@pytest.mark.django_db(transaction=True)
def test_claims_are_exclusive(hooked, hooked_meeting, settings):
    """Two deliverers never claim the same delivery (the second claim finds it leased)."""
    settings.INTEGRATIONS = {**settings.INTEGRATIONS, "WEBHOOK_DISPATCHER": False}
    with transaction.atomic():
        events.emit(hooked_meeting.id, events.MEETING_STARTED, {})
    first, second = delivery.claim_due(), delivery.claim_due()
    assert len(first) == 1 and first[0][1] == hooked.integration.pk and second == []


@pytest.mark.django_db(transaction=True)
def test_revoked_integration_gets_nothing_more(hooked, hooked_meeting, webhook_receiver,
                                               settings):
    """Stored events of an integration revoked meanwhile fail without a request; new events
    are not stored."""
    settings.INTEGRATIONS = {**settings.INTEGRATIONS, "WEBHOOK_DISPATCHER": False}
    with transaction.atomic():
        stored = events.emit(hooked_meeting.id, events.MEETING_STARTED, {})
    services.integration_revoke(integration=hooked.integration)
    call_command("deliver_webhooks")
    row = WebhookDelivery.objects.get(pk=stored.pk)
    assert row.status == "failed" and row.last_error == "the integration is revoked"
    assert events.emit(hooked_meeting.id, events.MEETING_ENDED, {}) is None
    assert not webhook_receiver.requests


@pytest.mark.django_db
def test_meetings_without_webhooks_store_nothing(acme, acme_meeting, meeting):
    """No integration, or one without a webhook URL: emit is a no-op."""
    assert events.emit(meeting.id, events.MEETING_STARTED, {}) is None
    assert events.emit(acme_meeting.id, events.MEETING_STARTED, {}) is None
    assert events.emit(uuid.uuid4(), events.MEETING_STARTED, {}) is None
    assert not WebhookDelivery.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_meeting_services_emit_lifecycle_events(hooked, hooked_meeting, webhook_receiver,
                                                make_user):
    """Joining starts the meeting (meeting.started, participant.joined), leaving and ending
    send participant.left and meeting.ended, in order, naming the participant."""
    guest = make_user("guest")
    meeting_services.participant_invite(meeting=hooked_meeting, actor=hooked_meeting.host,
                                        username="guest")
    meeting_services.participant_mark_joined(meeting=hooked_meeting, user=guest)
    meeting_services.participant_mark_joined(meeting=hooked_meeting, user=hooked_meeting.host)
    meeting_services.participant_mark_left(meeting_id=hooked_meeting.id, user=guest)
    meeting_services.meeting_end(meeting=hooked_meeting, actor=hooked_meeting.host)
    with transaction.atomic():  # a marker after them: nothing more came before it
        marker = events.emit(hooked_meeting.id, events.MEETING_ENDED, {})
    webhook_receiver.wait_for(7)
    *got, last = webhook_receiver.events()
    assert last["id"] == str(marker.event_id)
    assert [e["type"] for e in got] == ["meeting.started", "participant.joined",
                                        "participant.joined", "participant.left",
                                        "participant.left", "meeting.ended"]
    assert got[0]["data"]["meeting"]["id"] == str(hooked_meeting.id)
    assert got[0]["data"]["meeting"]["status"] == "live"
    joined = got[1]["data"]["participant"]
    assert joined["identity"] == "guest" and joined["external"] is False and joined["joinedAt"]
    assert got[3]["data"]["participant"]["identity"] == "guest"
    assert got[4]["data"]["participant"]["identity"] == hooked_meeting.host.username
    assert got[5]["data"]["meeting"]["status"] == "ended" and got[5]["data"]["meeting"][
        "endedAt"]
    assert len({e["id"] for e in got}) == 6
