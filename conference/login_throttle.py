"""Sign-in throttling around django-axes: the client address, the lockout responses, and the
API token view that honours them.

django-axes counts failed sign-ins per username and client address and refuses the pair once
it reaches ``LOGIN_FAILURE_LIMIT`` (settings: ``AXES_*``). What it cannot know is filled in
here: which address to trust behind a reverse proxy (:func:`client_ip_address`), what a refused
person sees (:func:`lockout_response`: the login page again, or the API's JSON error), and the
token endpoint, whose DRF request object hides axes' flags from axes' middleware and which
signs nobody in, so axes would neither answer 429 nor clear the count on success there
(:class:`ObtainAuthTokenView`).
"""

from __future__ import annotations

import ipaddress
import logging
from datetime import timedelta
from math import ceil
from typing import Any

from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.db.models import Max
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from conference.errors import API_PREFIX

__all__ = [
    "LOCKED_OUT_CODE",
    "ObtainAuthTokenView",
    "client_ip_address",
    "lockout_message",
    "lockout_response",
    "seconds_left",
]

logger = logging.getLogger(__name__)

LOCKED_OUT_CODE = "locked_out"
"""The API error code of a refused sign-in."""

IPV6_PREFIX = 64
"""IPv6 clients are counted per /64: one host or household usually holds a whole /64, and
counting single addresses would give it 2**64 fresh starts."""


def _canonical(value: str | None) -> str | None:
    """The address in one spelling (IPv4-mapped IPv6 as IPv4, IPv6 as its /64 network), so
    one client cannot count as many; None for anything that is not an address."""
    try:
        address = ipaddress.ip_address((value or "").strip())
    except ValueError:
        return None
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/{IPV6_PREFIX}", strict=False).network_address)
    return str(address)


def client_ip_address(request: HttpRequest) -> str | None:
    """``AXES_CLIENT_IP_CALLABLE``: the address failures are counted against.

    ``REMOTE_ADDR`` unless ``LOGIN_TRUSTED_PROXY_COUNT`` is set: then the entry of
    ``LOGIN_CLIENT_IP_HEADER`` that the outermost trusted proxy appended (the N-th from the
    right). Entries further left were sent by the client and could name any address, so they
    are never used. A header shorter than N, or an entry that is no address, means the request
    did not come through the proxies as configured: ``REMOTE_ADDR`` again.
    """
    hops = settings.LOGIN_TRUSTED_PROXY_COUNT
    if hops:
        key = "HTTP_" + settings.LOGIN_CLIENT_IP_HEADER.upper().replace("-", "_")
        chain = [part.strip() for part in request.META.get(key, "").split(",") if part.strip()]
        trusted = _canonical(chain[-hops]) if len(chain) >= hops else None
        if trusted is not None:
            return trusted
        logger.debug("client address: %s has %d usable entries, %d proxies trusted; "
                     "using REMOTE_ADDR", key, len(chain), hops)
    return _canonical(request.META.get("REMOTE_ADDR"))


def seconds_left(request: HttpRequest | Request, username: str | None) -> int:
    """Seconds until `username` may sign in again from this request's address: the cool-off
    runs from the last counted failure (refusals during a lockout do not count)."""
    cool_off: timedelta = get_cool_off(request) or timedelta(0)
    last = AccessAttempt.objects.filter(
        ip_address=client_ip_address(request), username=username
    ).aggregate(last=Max("attempt_time"))["last"]
    if last is None:
        return ceil(cool_off.total_seconds())
    return max(1, ceil((last + cool_off - timezone.now()).total_seconds()))


def lockout_message(seconds: int) -> str:
    """What a refused person reads, in the active language."""
    minutes = max(1, ceil(seconds / 60))
    return ngettext(
        "Too many failed sign-in attempts. Try again in %(minutes)s minute.",
        "Too many failed sign-in attempts. Try again in %(minutes)s minutes.",
        minutes,
    ) % {"minutes": minutes}


def _locked_out_username(request: HttpRequest | Request) -> str | None:
    """The username of the refused attempt, as axes recorded it."""
    username = get_client_username(request, getattr(request, "axes_credentials", None))
    return username if isinstance(username, str) else None


def _api_lockout(request: HttpRequest | Request) -> tuple[dict[str, str], int]:
    """Body and Retry-After seconds of the API's refusal."""
    seconds = seconds_left(request, _locked_out_username(request))
    return {"detail": lockout_message(seconds), "code": LOCKED_OUT_CODE}, seconds


def lockout_response(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """``AXES_LOCKOUT_CALLABLE``: 429 with the login page and the message (JSON under /api/).

    Only `request` is used: axes 8.3.1's middleware passes its other arguments in a different
    order under ASGI than under WSGI.
    """
    if request.path.startswith(API_PREFIX):
        body, seconds = _api_lockout(request)
        response: HttpResponse = JsonResponse(body, status=status.HTTP_429_TOO_MANY_REQUESTS)
    else:
        username = _locked_out_username(request)
        seconds = seconds_left(request, username)
        context = {
            "form": AuthenticationForm(request, initial={"username": username or ""}),
            "next": request.POST.get("next", ""),
            "lockout_message": lockout_message(seconds),
        }
        response = render(request, "registration/login.html", context,
                          status=status.HTTP_429_TOO_MANY_REQUESTS)
    response["Retry-After"] = str(seconds)
    return response


def _username_max_length() -> int:
    model = get_user_model()
    return model._meta.get_field(model.USERNAME_FIELD).max_length or 150


@extend_schema_serializer(component_name="AuthToken")
class BoundedAuthTokenSerializer(AuthTokenSerializer):
    """A username and password; the user's API token in reply."""

    # DRF's, with the username no longer than the user model allows: a longer one names no
    # account, and axes stores the username of every failure (in a 255-character column).

    username = serializers.CharField(label=_("Username"), write_only=True,
                                     max_length=_username_max_length())


_LOCKED_OUT_SCHEMA = inline_serializer(
    "LockedOut", {"detail": serializers.CharField(), "code": serializers.CharField()})


class ObtainAuthTokenView(ObtainAuthToken):
    """``POST /api/auth/token/``: DRF's token for a username and password, with the lockout
    answered as 429 ``{"detail", "code": "locked_out"}`` and ``Retry-After``, and the
    username's failures from this address cleared when the password is right."""

    serializer_class = BoundedAuthTokenSerializer

    @extend_schema(
        description="A username and password for the user's API token. After "
        "LOGIN_FAILURE_LIMIT failures for a username from one address, that username is "
        "refused from that address (429) for LOGIN_COOLOFF_MINUTES.",
        responses={
            200: BoundedAuthTokenSerializer,
            429: OpenApiResponse(_LOCKED_OUT_SCHEMA, description="Too many failed sign-ins "
                                 "for this username from this address."),
        },
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Check the password (axes refuses first when locked out), then give the token."""
        serializer = self.get_serializer(data=request.data)
        valid = serializer.is_valid()
        # axes flags the DRF request it was given; its middleware only sees the Django one.
        if getattr(request, "axes_locked_out", False):
            body, seconds = _api_lockout(request)
            return Response(body, status=status.HTTP_429_TOO_MANY_REQUESTS,
                            headers={"Retry-After": str(seconds)})
        if not valid:
            raise ValidationError(serializer.errors)
        user = serializer.validated_data["user"]
        if settings.AXES_RESET_ON_SUCCESS:
            # Django's login() clears it through user_logged_in; a token is no login.
            AccessAttempt.objects.filter(
                username=serializer.validated_data["username"],
                ip_address=client_ip_address(request),
            ).delete()
        token, _created = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})


obtain_auth_token = ObtainAuthTokenView.as_view()
