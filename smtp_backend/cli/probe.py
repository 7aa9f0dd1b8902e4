"""What ``check`` finds out about a server, step by step, without sending a message.

Connect and read the greeting, EHLO, TLS (one verified handshake; when it fails, the
reason, then an unverified one only to read the certificate), EHLO again, and AUTH
with the given credentials. Credentials are never sent over a connection whose
certificate did not verify, nor in clear text to a remote host.
"""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass, field

from ..client import SMTP
from ..errors import (
    SMTPAuthenticationError,
    SMTPException,
    SMTPInsecureAuthError,
)
from ..mailer.connect import client_for, default_port
from .certificates import CertificateInfo, peer_certificate, verification_failure
from .options import ServerTarget


@dataclass
class TLSReport:
    mode: str  # "STARTTLS" or "implicit TLS"
    verified: bool = False
    failure: str | None = None  # why the verified handshake failed
    version: str | None = None
    cipher: str | None = None
    bits: int | None = None
    certificate: CertificateInfo | None = None  # from an unverified handshake when not verified


@dataclass
class AuthReport:
    mechanisms: tuple[str, ...]
    outcome: str  # "accepted", "rejected", "not tried", "not given" or "not offered"
    detail: str = ""


@dataclass
class ProbeReport:
    shown: str  # the server as a URL, password redacted
    host: str
    connected_in: float | None = None  # seconds
    greeting: str | None = None
    ehlo: list[str] = field(default_factory=list)  # extension lines, as the server sent them
    esmtp: bool = True
    tls: TLSReport | None = None
    ehlo_after_tls: list[str] | None = None
    auth: AuthReport | None = None
    problems: list[str] = field(default_factory=list)  # why sending would fail
    notes: list[str] = field(default_factory=list)  # worth knowing, not a failure
    unreachable: bool = False  # no SMTP conversation at all

    @property
    def exit_status(self) -> int:
        """0 all good, 1 a problem found, 2 the server could not be reached."""
        return 2 if self.unreachable else 1 if self.problems else 0


def probe(target: ServerTarget, *, debug: bool = False) -> ProbeReport:
    """Check the server ``target`` names; every failure ends up in the report, not raised."""
    report = ProbeReport(target.shown, target.host)
    smtp = _greet(target, report, debug, _verifying_context(target))
    if smtp is None:
        return report
    try:
        _ehlo(smtp, report, after_tls=False)
        secure = _secure(target, report, smtp, debug)
        if secure is not None:
            _authenticate(target, report, secure)
    except (SMTPException, OSError) as exc:
        report.problems.append(f"the conversation failed: {_describe(exc)}")
    finally:
        try:
            smtp.quit()
        except (SMTPException, OSError):
            smtp.close()
    return report


def _verifying_context(target: ServerTarget) -> ssl.SSLContext:
    context = target.mailer_arguments.get("ssl_context")
    return context if isinstance(context, ssl.SSLContext) else ssl.create_default_context()


def _unverified_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _client(target: ServerTarget, context: ssl.SSLContext, debug: bool) -> SMTP:
    arguments = target.mailer_arguments
    smtp = client_for(
        arguments.get("protocol", "smtp"),
        target.security,
        target.host,
        local_hostname=arguments.get("local_hostname"),
        timeout=arguments.get("timeout"),
        context=context,
    )
    smtp.set_debuglevel(1 if debug else 0)
    return smtp


def _port(target: ServerTarget) -> int:
    arguments = target.mailer_arguments
    port = arguments.get("port")
    return int(port) if port else default_port(target.security, arguments.get("protocol", "smtp"))


def _greet(
    target: ServerTarget, report: ProbeReport, debug: bool, context: ssl.SSLContext
) -> SMTP | None:
    """Connect, read the greeting, EHLO; for implicit TLS, report the handshake too."""
    smtp = _client(target, context, debug)
    started = time.monotonic()
    try:
        code, message = smtp.connect(target.host, _port(target))
    except ssl.SSLCertVerificationError as exc:
        report.tls = TLSReport("implicit TLS", failure=verification_failure(exc, target.host))
        report.problems.append(f"TLS: {report.tls.failure}")
        return _greet_unverified(target, report, debug)
    except (OSError, ValueError) as exc:
        report.problems.append(f"cannot connect to {target.shown}: {_describe(exc)}")
        report.unreachable = True
        return None
    report.connected_in = time.monotonic() - started
    report.greeting = f"{code} {message.decode('utf-8', 'replace')}"
    if target.security == "tls" and report.tls is None:
        report.tls = _tls_report("implicit TLS", smtp, verified=True)
    if code != 220:
        report.problems.append(f"the server refused the session: {report.greeting}")
        smtp.close()
        return None
    return smtp


def _greet_unverified(target: ServerTarget, report: ProbeReport, debug: bool) -> SMTP | None:
    """Implicit TLS failed verification: connect again, unverified, to read the certificate."""
    smtp = _client(target, _unverified_context(), debug)
    try:
        code, message = smtp.connect(target.host, _port(target))
        report.greeting = f"{code} {message.decode('utf-8', 'replace')}"
        assert report.tls is not None
        _read_tls(report.tls, smtp)
        _ehlo(smtp, report, after_tls=False)
        _refuse_unverified_auth(report, smtp)
        smtp.quit()
    except (OSError, ValueError):
        smtp.close()
    return None


def _ehlo(smtp: SMTP, report: ProbeReport, *, after_tls: bool) -> None:
    code, message = smtp.ehlo()
    lines: list[str] = []
    if 200 <= code < 300:
        lines = message.decode("utf-8", "replace").split("\n")[1:]
    else:
        report.esmtp = False
        report.notes.append(f"EHLO refused ({code}); the server speaks only HELO")
        smtp.helo()
    if after_tls:
        report.ehlo_after_tls = lines
    else:
        report.ehlo = lines


def _tls_report(mode: str, smtp: SMTP, *, verified: bool) -> TLSReport:
    tls = TLSReport(mode, verified=verified)
    _read_tls(tls, smtp)
    return tls


def _read_tls(tls: TLSReport, smtp: SMTP) -> None:
    sock = smtp.sock
    if isinstance(sock, ssl.SSLSocket):
        tls.version = sock.version()
        cipher = sock.cipher()
        if cipher is not None:
            tls.cipher, _, tls.bits = cipher
        tls.certificate = peer_certificate(sock)


def _secure(target: ServerTarget, report: ProbeReport, smtp: SMTP, debug: bool) -> SMTP | None:
    """The connection to authenticate on, after STARTTLS where the URL asks for it;
    None when credentials must not be sent on it."""
    if target.security == "tls":
        return smtp
    if target.security == "none":
        if smtp.has_extn("starttls"):
            report.notes.append("the server offers STARTTLS; this URL does not use it")
        return smtp
    if not smtp.has_extn("starttls"):
        if target.security == "starttls-opportunistic":
            report.notes.append(
                "the server does not offer STARTTLS: opportunistic mode sends in clear text"
            )
            return smtp
        report.problems.append(
            "the server does not offer STARTTLS: a Mailer with security='starttls' refuses "
            "to send mail or credentials in clear text"
        )
        return None
    try:
        smtp.starttls(context=_verifying_context(target))
    except ssl.SSLCertVerificationError as exc:
        report.tls = TLSReport("STARTTLS", failure=verification_failure(exc, target.host))
        report.problems.append(f"TLS: {report.tls.failure}")
        _starttls_unverified(target, report, debug)
        return None
    except (SMTPException, OSError) as exc:
        report.tls = TLSReport("STARTTLS", failure=_describe(exc))
        report.problems.append(f"STARTTLS failed: {_describe(exc)}")
        return None
    report.tls = _tls_report("STARTTLS", smtp, verified=True)
    _ehlo(smtp, report, after_tls=True)
    return smtp


def _starttls_unverified(target: ServerTarget, report: ProbeReport, debug: bool) -> None:
    """Read the certificate (and the EHLO after TLS) over a new, unverified connection."""
    smtp = _client(target, _unverified_context(), debug)
    try:
        smtp.connect(target.host, _port(target))
        smtp.ehlo()
        smtp.starttls(context=_unverified_context())
        assert report.tls is not None
        _read_tls(report.tls, smtp)
        _ehlo(smtp, report, after_tls=True)
        _refuse_unverified_auth(report, smtp)
        smtp.quit()
    except (OSError, ValueError):
        smtp.close()


def _offered_mechanisms(smtp: SMTP) -> tuple[str, ...]:
    return tuple(smtp.esmtp_features.get("auth", "").upper().split())


def _refuse_unverified_auth(report: ProbeReport, smtp: SMTP) -> None:
    detail = "the certificate did not verify: credentials are never sent to an unverified server"
    report.auth = AuthReport(_offered_mechanisms(smtp), "not tried", detail)


def _authenticate(target: ServerTarget, report: ProbeReport, smtp: SMTP) -> None:
    mechanisms = _offered_mechanisms(smtp)
    user = target.mailer_arguments.get("username")
    password = target.mailer_arguments.get("password")
    if not user or password is None:
        outcome = "not given" if mechanisms else "not offered"
        report.auth = AuthReport(mechanisms, outcome, "give --user (and a password) to try them")
        return
    if not mechanisms:
        report.auth = AuthReport(mechanisms, "not tried", "the server offers no AUTH")
        report.problems.append("credentials given, but the server offers no AUTH")
        return
    try:
        code, message = smtp.login(user, password)
    except SMTPAuthenticationError as exc:
        error = exc.smtp_error
        text = error.decode("utf-8", "replace") if isinstance(error, bytes) else error
        detail = f"{exc.smtp_code} {text}"
        report.auth = AuthReport(mechanisms, "rejected", f"{user}: {detail}")
        report.problems.append(f"the server rejected the credentials for {user}: {detail}")
        return
    except SMTPInsecureAuthError:
        detail = "not sent: the connection is not encrypted (use smtp+starttls:// or smtps://)"
        report.auth = AuthReport(mechanisms, "not tried", detail)
        report.problems.append(f"credentials {detail}")
        return
    except SMTPException as exc:
        report.auth = AuthReport(mechanisms, "not tried", _describe(exc))
        report.problems.append(f"AUTH: {_describe(exc)}")
        return
    reply = f"{code} {message.decode('utf-8', 'replace')}"
    report.auth = AuthReport(mechanisms, "accepted", f"{user}: {reply}")


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
