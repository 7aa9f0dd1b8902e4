"""TLS contexts, in one place for both drivers and both mailers: verifying by default."""

from __future__ import annotations

import logging
import ssl
import warnings

logger = logging.getLogger("smtp_backend")


def verifies(context: ssl.SSLContext) -> bool:
    """True when ``context`` checks both the certificate chain and the host name."""
    return context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def client_context(
    context: ssl.SSLContext | None = None,
    keyfile: str | None = None,
    certfile: str | None = None,
) -> ssl.SSLContext:
    """The caller's context, or a verifying default one (smtplib's does not verify)."""
    if keyfile is not None or certfile is not None:
        if context is not None:
            raise ValueError("context and keyfile/certfile arguments are mutually exclusive")
        warnings.warn(
            "keyfile and certfile are deprecated, use a custom context instead",
            DeprecationWarning,
            3,
        )
    if context is None:
        context = ssl.create_default_context()
        if certfile is not None:
            context.load_cert_chain(certfile, keyfile)
    return context


def mailer_context(
    ssl_context: ssl.SSLContext | None,
    ca_file: str | None,
    dangerously_skip_tls_verify: bool,
    *,
    where: str,
) -> ssl.SSLContext:
    """The one context a mailer's connections share: verifying unless told otherwise, loudly."""
    if ssl_context is not None:
        if ca_file is not None or dangerously_skip_tls_verify:
            raise ValueError("give ssl_context, or ca_file / dangerously_skip_tls_verify, not both")
        return ssl_context
    try:
        context = ssl.create_default_context(cafile=ca_file)
    except OSError as error:  # missing, unreadable, or not PEM (ssl.SSLError is an OSError)
        detail = error.strerror or str(error)
        raise type(error)(error.errno, f"cannot load the CA file {ca_file}: {detail}") from None
    if dangerously_skip_tls_verify:
        logger.warning(
            "TLS certificate and host name verification is DISABLED for %s: anyone on the "
            "path can read the mail and the credentials (dangerously_skip_tls_verify=True)",
            where,
        )
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
