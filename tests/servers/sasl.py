"""SASL mechanisms aiosmtpd lacks (CRAM-MD5, XOAUTH2, OAUTHBEARER) and the credential check.

aiosmtpd finds ``auth_<NAME>`` methods on its SMTP class (``__`` becomes ``-``) and calls
them as ``method(server, args)``; they return an ``AuthResult``.
"""

from __future__ import annotations

import base64
import hmac
import json
import secrets
from typing import Any

from aiosmtpd.smtp import MISSING, AuthResult, Envelope, LoginPassword, Session

from .options import AUTH_PASSWORD, AUTH_USER, OAUTH_TOKEN

_OAUTH_FAILURE = json.dumps({"status": "401", "schemes": "bearer", "scope": "mail"}).encode()


def check_password(
    server: Any, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    """aiosmtpd ``authenticator`` for PLAIN and LOGIN: accept only the fixed test user."""
    if (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == AUTH_USER.encode()
        and auth_data.password == AUTH_PASSWORD.encode()
    ):
        return AuthResult(success=True, auth_data=auth_data)
    return AuthResult(success=False, handled=False)


def _success(login: str) -> AuthResult:
    return AuthResult(success=True, auth_data=LoginPassword(login.encode(), b""))


def _bearer_fields(fields: list[bytes]) -> dict[str, bytes]:
    return dict(field.partition(b"=")[::2] for field in fields if field)


class ExtraSaslMechanisms:
    """Mixin for an aiosmtpd ``SMTP`` subclass; ``challenge_auth`` comes from that class."""

    challenge_auth: Any

    async def auth_CRAM__MD5(self, _: Any, args: list[str]) -> AuthResult:
        challenge = f"<{secrets.token_hex(8)}@localhost>".encode()
        response = await self.challenge_auth(challenge)
        if response is MISSING:
            return AuthResult(success=False)
        login, _space, digest = response.partition(b" ")
        expected = hmac.new(AUTH_PASSWORD.encode(), challenge, "md5").hexdigest().encode()
        if login == AUTH_USER.encode() and hmac.compare_digest(digest, expected):
            return _success(AUTH_USER)
        return AuthResult(success=False, handled=False)

    async def auth_XOAUTH2(self, _: Any, args: list[str]) -> AuthResult:
        # initial response: "user=<user>\x01auth=Bearer <token>\x01\x01"
        fields = _bearer_fields((await self._initial_response(args) or b"").split(b"\x01"))
        return await self._check_bearer(fields.get(b"user"), fields.get(b"auth"))

    async def auth_OAUTHBEARER(self, _: Any, args: list[str]) -> AuthResult:
        # initial response (RFC 7628): "n,a=<user>,\x01host=..\x01auth=Bearer <token>\x01\x01"
        gs2_header, _sep, rest = (await self._initial_response(args) or b"").partition(b"\x01")
        user = next((part[2:] for part in gs2_header.split(b",") if part.startswith(b"a=")), None)
        fields = _bearer_fields(rest.split(b"\x01"))
        return await self._check_bearer(user, fields.get(b"auth"))

    async def _initial_response(self, args: list[str]) -> bytes | None:
        if len(args) == 1:
            response = await self.challenge_auth("")
            return None if response is MISSING else response
        try:
            return base64.b64decode(args[1], validate=True)
        except ValueError:
            return None

    async def _check_bearer(self, user: bytes | None, auth: bytes | None) -> AuthResult:
        if user == AUTH_USER.encode() and auth == b"Bearer " + OAUTH_TOKEN.encode():
            return _success(AUTH_USER)
        # RFC 7628 3.2.2: an error challenge, the client answers (empty or \x01), then 535
        if await self.challenge_auth(_OAUTH_FAILURE) is MISSING:
            return AuthResult(success=False)  # challenge_auth already replied 501
        return AuthResult(success=False, handled=False)
