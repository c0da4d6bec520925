"""Join tokens: minting, and every reason `verify_join_token` refuses one, each with its code."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from conference.errors import HTTP_STATUS, ApplicationError, ErrorCode
from integrations import services
from integrations.tokens import (
    AUDIENCE,
    JoinGrant,
    JoinTokenError,
    mint_join_token,
    verify_join_token,
)
from meetings import services as meeting_services
from rtc.policy.grants import Grants

pytestmark = pytest.mark.django_db


def refusal(token: str, meeting_id: object) -> JoinTokenError:
    """The error verifying `token` raises (the test fails if it verifies)."""
    with pytest.raises(JoinTokenError) as caught:
        verify_join_token(token, meeting_id)
    assert caught.value.message and "Traceback" not in caught.value.message
    return caught.value


def forge(claims: dict, secret: str, **headers: object) -> str:
    """A token with exactly these claims and headers."""
    return jwt.encode(claims, secret, algorithm=headers.pop("alg", "HS256"), headers=headers)


def claims_for(acme, target, **changes: object) -> dict:
    """Valid claims for meeting `target`, changed by `changes` (None removes a claim)."""
    now = int(datetime.now(UTC).timestamp())
    claims = {"iss": acme.api_key, "aud": AUDIENCE, "sub": "user-42", "name": "Ada",
              "meeting": str(target.id), "iat": now, "exp": now + 600, "jti": "j-1",
              "grants": {"publish": ["mic"], "subscribe": True, "hidden": False, "host": False}}
    for key, value in changes.items():
        if value is None:
            claims.pop(key, None)
        else:
            claims[key] = value
    return claims


def test_minted_token_verifies_into_a_typed_grant(acme, acme_meeting):
    """A minted token gives a JoinGrant naming the integration, meeting, identity and grants;
    its header carries the API key as kid."""
    token = mint_join_token(api_key=acme.api_key, secret=acme.secret, meeting_id=acme_meeting.id,
                            identity="user-42", name="Ada Lovelace", ttl=600,
                            publish=["mic", "screen"], subscribe=False, host=True, jti="abc")
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT",
                                                "kid": acme.api_key}
    grant = verify_join_token(token, str(acme_meeting.id))
    assert isinstance(grant, JoinGrant)
    assert grant.integration_id == acme.integration.pk and grant.api_key == acme.api_key
    assert grant.meeting_id == acme_meeting.id and grant.identity == "user-42"
    assert grant.display_name == "Ada Lovelace" and grant.jti == "abc"
    assert grant.grants == Grants(publish=frozenset({"mic", "screen"}), subscribe=False,
                                  hidden=False, host=True)
    left = grant.expires_at - datetime.now(UTC)
    assert timedelta(seconds=590) < left <= timedelta(seconds=600)


def test_defaults_are_full_media_grants_and_the_identity_as_name(acme, acme_meeting):
    """Without options a token publishes every source, subscribes, is visible, not host,
    and may chat and draw."""
    grant = verify_join_token(acme.token(acme_meeting, "bob"), acme_meeting.id)
    assert grant.grants == Grants()
    assert grant.grants.as_dict() == {"publish": ["mic", "webcam", "screen"],
                                      "subscribe": True, "hidden": False, "host": False,
                                      "record": False, "chat": True, "whiteboard": True}
    assert grant.display_name == "bob"


@pytest.mark.parametrize("token", ["", "not-a-jwt", "a.b", "a.b.c.d", "x" * 5000,
                                   "eyJhbGciOiJIUzI1NiJ9.e30.sig"])
def test_garbage_is_malformed(acme_meeting, token):
    """Strings that are not JWTs (or have no usable header) are `token_malformed`."""
    assert refusal(token, acme_meeting.id).code == ErrorCode.TOKEN_MALFORMED


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_other_algorithms_and_missing_kid_are_malformed(acme, acme_meeting):
    """Only HS256 with an API key as kid is accepted: `alg: none`, HS512 or no kid are not."""
    claims = claims_for(acme, acme_meeting)
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": acme.api_key})
    assert refusal(unsigned, acme_meeting.id).code == ErrorCode.TOKEN_MALFORMED
    hs512 = forge(claims, acme.secret, alg="HS512", kid=acme.api_key)
    error = refusal(hs512, acme_meeting.id)
    assert error.code == ErrorCode.TOKEN_MALFORMED and "HS256" in error.message
    no_kid = forge(claims, acme.secret)
    assert "kid" in refusal(no_kid, acme_meeting.id).message


@pytest.mark.parametrize(("changes", "words"), [
    ({"meeting": None}, "missing claim meeting"),
    ({"grants": None}, "missing claim grants"),
    ({"jti": None}, "missing claim jti"),
    ({"exp": None}, "missing claim exp"),
    ({"aud": "someone-else"}, "aud must be"),
    ({"sub": ""}, "claim sub"),
    ({"sub": "x" * 200}, "claim sub"),
    ({"name": "line\nbreak"}, "control characters"),
    ({"meeting": "not-a-uuid"}, "meeting id"),
    ({"grants": {"publish": ["camera"]}}, "grants.publish"),
    ({"grants": {"subscribe": "yes"}}, "grants.subscribe"),
    ({"grants": {"admin": True}}, "unknown grants"),
    ({"grants": ["mic"]}, "grants must be an object"),
    ({"role": "admin"}, "unknown claims"),
    ({"iss": "ak_somebodyelse123"}, "iss must be"),
])
def test_bad_claims_are_malformed_with_the_reason(acme, acme_meeting, changes, words):
    """Each broken claim is refused as `token_malformed` with a message naming it."""
    token = forge(claims_for(acme, acme_meeting, **changes), acme.secret, kid=acme.api_key)
    error = refusal(token, acme_meeting.id)
    assert error.code == ErrorCode.TOKEN_MALFORMED and words in error.message, error.message
    assert error.close_code == 4401


def test_a_lifetime_beyond_the_maximum_is_refused(acme, acme_meeting, settings):
    """exp - iat above INTEGRATIONS TOKEN_MAX_LIFETIME is refused, even if not expired."""
    settings.INTEGRATIONS = {**settings.INTEGRATIONS, "TOKEN_MAX_LIFETIME": 3600}
    token = acme.token(acme_meeting, ttl=7200)
    error = refusal(token, acme_meeting.id)
    assert error.code == ErrorCode.TOKEN_MALFORMED and "3600 seconds" in error.message
    assert verify_join_token(acme.token(acme_meeting, ttl=3600), acme_meeting.id)


def test_expired_token_is_refused(acme, acme_meeting):
    """A token past its exp (beyond the leeway) is `token_expired`."""
    issued = datetime.now(UTC) - timedelta(minutes=10)
    token = acme.token(acme_meeting, ttl=60, now=issued)
    error = refusal(token, acme_meeting.id)
    assert error.code == ErrorCode.TOKEN_EXPIRED and error.close_code == 4401


def test_not_yet_valid_token_is_refused(acme, acme_meeting):
    """A token whose nbf is in the future is `token_not_yet_valid`."""
    now = int(datetime.now(UTC).timestamp())
    token = forge(claims_for(acme, acme_meeting, nbf=now + 600), acme.secret, kid=acme.api_key)
    assert refusal(token, acme_meeting.id).code == ErrorCode.TOKEN_NOT_YET_VALID


def test_forged_and_tampered_tokens_fail_the_signature(acme, acme_meeting):
    """Signed with another secret, or with its payload changed: `token_bad_signature`."""
    forged = mint_join_token(api_key=acme.api_key, secret="sk_" + "guessed" * 6,
                             meeting_id=acme_meeting.id, identity="mallory")
    assert refusal(forged, acme_meeting.id).code == ErrorCode.TOKEN_BAD_SIGNATURE
    header, _, signature = acme.token(acme_meeting, publish=[]).split(".")
    greedy = jwt.utils.base64url_encode(
        jwt.api_jws.json.dumps(claims_for(acme, acme_meeting, grants={"host": True})).encode()
    ).decode()
    tampered = f"{header}.{greedy}.{signature}"
    assert refusal(tampered, acme_meeting.id).code == ErrorCode.TOKEN_BAD_SIGNATURE


def test_unknown_key_is_refused(acme, acme_meeting):
    """A kid that names no integration is `token_unknown_key`."""
    token = mint_join_token(api_key="ak_doesnotexist0000", secret=acme.secret,
                            meeting_id=acme_meeting.id, identity="x")
    assert refusal(token, acme_meeting.id).code == ErrorCode.TOKEN_UNKNOWN_KEY


def test_rotated_secret_invalidates_old_tokens(acme, acme_meeting):
    """After a rotation, tokens signed with the old secret fail; new ones verify."""
    old = acme.token(acme_meeting)
    new_secret = services.integration_rotate_secret(integration=acme.integration)
    assert refusal(old, acme_meeting.id).code == ErrorCode.TOKEN_BAD_SIGNATURE
    token = mint_join_token(api_key=acme.api_key, secret=new_secret, meeting_id=acme_meeting.id,
                            identity="x")
    assert verify_join_token(token, acme_meeting.id).identity == "x"


def test_changed_encryption_key_makes_the_key_unusable(acme, acme_meeting, settings):
    """Secrets encrypted under another key cannot be read: refused, not crashed."""
    token = acme.token(acme_meeting)
    settings.INTEGRATIONS_ENCRYPTION_KEY = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4="
    error = refusal(token, acme_meeting.id)
    assert error.code == ErrorCode.TOKEN_UNKNOWN_KEY and "secret unavailable" in error.message


def test_revoked_integration_is_refused(acme, acme_meeting):
    """Tokens of a revoked integration are `integration_revoked`."""
    token = acme.token(acme_meeting)
    services.integration_revoke(integration=acme.integration)
    assert refusal(token, acme_meeting.id).code == ErrorCode.INTEGRATION_REVOKED


def test_revoked_jti_is_refused_and_others_are_not(acme, acme_meeting):
    """A revoked jti is `token_revoked`; another token of the same integration still works."""
    token = acme.token(acme_meeting, jti="leaked")
    services.token_revoke(integration=acme.integration, jti="leaked")
    services.token_revoke(integration=acme.integration, jti="leaked")  # idempotent
    assert refusal(token, acme_meeting.id).code == ErrorCode.TOKEN_REVOKED
    assert verify_join_token(acme.token(acme_meeting, jti="fine"), acme_meeting.id)


def test_token_for_another_meeting_is_refused(acme, acme_meeting):
    """A token names one meeting; presenting it for another is `token_wrong_meeting` (4403)."""
    other = services.meeting_create_for_integration(integration=acme.integration, title="Other")
    error = refusal(acme.token(acme_meeting), other.id)
    assert error.code == ErrorCode.TOKEN_WRONG_MEETING and error.close_code == 4403
    assert refusal(acme.token(acme_meeting), "garbage").code == ErrorCode.TOKEN_WRONG_MEETING


def test_meeting_of_another_integration_is_refused(acme, globex_meeting, host_user):
    """An integration cannot let people into meetings it does not own (another integration's,
    or a plain meeting), even with a correctly signed token naming them."""
    error = refusal(acme.token(globex_meeting), globex_meeting.id)
    assert error.code == ErrorCode.MEETING_NOT_OWNED and error.close_code == 4403
    plain = meeting_services.meeting_create(host=host_user, title="Plain")
    assert refusal(acme.token(plain), plain.id).code == ErrorCode.MEETING_NOT_OWNED
    missing = uuid.uuid4()
    token = mint_join_token(api_key=acme.api_key, secret=acme.secret, meeting_id=missing,
                            identity="x")
    assert refusal(token, missing).code == ErrorCode.MEETING_NOT_OWNED


def test_ended_meeting_is_refused(acme, acme_meeting):
    """Once the meeting ended its tokens are `meeting_ended` (close code 4410)."""
    token = acme.token(acme_meeting)
    meeting_services.meeting_end(meeting=acme_meeting, actor=acme_meeting.host)
    error = refusal(token, acme_meeting.id)
    assert error.code == ErrorCode.MEETING_ENDED and error.close_code == 4410


def test_secret_is_stored_encrypted(acme):
    """The database holds a Fernet token, not the secret; the model decrypts it."""
    row = type(acme.integration).objects.get(pk=acme.integration.pk)
    assert acme.secret not in row.secret_encrypted and row.secret_encrypted.startswith("gAAAA")
    assert row.secret == acme.secret and acme.secret.startswith("sk_")
    assert row.api_key.startswith("ak_")


def test_a_refused_join_token_is_the_application_error_with_a_code_of_the_one_enum() -> None:
    """One error model: a join token's refusal is an `ApplicationError` whose code is an
    `ErrorCode` (the enum the socket's `error` event, the REST API and the clients' generated
    code tables share), with its HTTP status and its close code."""
    error = JoinTokenError(ErrorCode.TOKEN_EXPIRED, "the token has expired")
    assert isinstance(error, ApplicationError)
    assert error.code is ErrorCode.TOKEN_EXPIRED and error.http_status == 401
    assert error.as_dict() == {"detail": "the token has expired", "code": "token_expired"}
    assert error.close_code == 4401
    assert JoinTokenError(ErrorCode.TOKEN_WRONG_MEETING, "x").close_code == 4403
    assert JoinTokenError(ErrorCode.MEETING_ENDED, "x").close_code == 4410
    assert set(HTTP_STATUS) == set(ErrorCode)
