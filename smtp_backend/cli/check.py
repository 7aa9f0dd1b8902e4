"""``smtp-backend check URL``: what a user needs to know when sending fails; sends nothing."""

from __future__ import annotations

import contextlib
import sys
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .certificates import CertificateInfo
from .console import console
from .options import resolve_target, server_options
from .probe import ProbeReport, TLSReport, probe
from .transcript import RedactingStream, secret_forms

OK, FAILED, NOTE = "[green]✓[/]", "[red]✗[/]", "[yellow]![/]"
EXPIRY_WARNING_DAYS = 14


@click.command()
@click.argument("target_url", required=False, metavar="[URL]")
@click.option("--debug", is_flag=True, help="Print the SMTP transcript (credentials redacted).")
@server_options
@click.pass_context
def check(ctx: click.Context, /, target_url: str | None, debug: bool, **flags: Any) -> None:
    """Connect to the server at URL (or --url/$SMTP_BACKEND_URL) and report its greeting,
    extensions, TLS and certificate, and AUTH, trying the credentials if given.

    Exit status: 0 all good, 1 a problem found, 2 the server could not be reached.
    """
    target = resolve_target(
        target_url or flags["url"],
        flags["host"],
        flags["port"],
        flags["security"],
        flags["user"],
        flags["password"],
        flags["ca_file"],
        flags["timeout"],
        prompt=False,
    )
    out = console()
    out.print(f"Checking {escape(target.shown)}")
    forms = secret_forms(target.mailer_arguments.get("username"), target.secrets)
    transcript = RedactingStream(sys.stderr, forms)
    with contextlib.redirect_stderr(transcript):
        report = probe(target, debug=debug)
    _render(report, out)
    ctx.exit(report.exit_status)


def _render(report: ProbeReport, out: Console) -> None:
    if report.greeting is not None:
        took = "" if report.connected_in is None else f" in {report.connected_in * 1000:.0f} ms"
        out.print(f"{OK} connected{took}")
        out.print(f"  greeting: {escape(report.greeting)}")
    if report.ehlo or not report.esmtp:
        _extensions("EHLO extensions", report.ehlo, out)
    if report.tls is not None:
        _tls(report.tls, report.host, out)
    if report.ehlo_after_tls is not None:
        verified = report.tls is not None and report.tls.verified
        title = "EHLO extensions after STARTTLS" + ("" if verified else " (UNVERIFIED connection)")
        _extensions(title, report.ehlo_after_tls, out)
    if report.auth is not None:
        auth = report.auth
        mark = {"accepted": OK, "rejected": FAILED, "not tried": FAILED}.get(auth.outcome, NOTE)
        if auth.mechanisms:
            out.print(f"{mark} AUTH mechanisms offered: {escape(' '.join(auth.mechanisms))}")
        else:
            out.print(f"{mark} AUTH not offered")
        if auth.outcome != "not offered":
            out.print(f"  credentials {auth.outcome}: {escape(auth.detail)}")
    for note in report.notes:
        out.print(f"{NOTE} {escape(note)}")
    if report.problems:
        out.print(f"\n[bold red]{len(report.problems)} problem(s):[/]")
        for problem in report.problems:
            out.print(f"{FAILED} {escape(problem)}")
    else:
        out.print(f"\n{OK} [bold green]no problem found[/] (no message was sent)")


def _extensions(title: str, lines: list[str], out: Console) -> None:
    table = Table(title=title, title_justify="left")
    table.add_column("extension")
    table.add_column("parameters")
    for line in lines:
        keyword, _, parameters = line.partition(" ")
        table.add_row(escape(keyword), escape(parameters))
    if not lines:
        table.add_row("(none: HELO only)", "")
    out.print(table)


def _tls(tls: TLSReport, host: str, out: Console) -> None:
    if tls.verified:
        out.print(f"{OK} TLS ({tls.mode}): certificate verifies for host name {escape(host)}")
    else:
        out.print(f"{FAILED} TLS ({tls.mode}): certificate does NOT verify for {escape(host)}")
        out.print(f"  why: {escape(tls.failure or 'unknown')}")
    if tls.version is not None:
        label = "" if tls.verified else "  [bold](from a second, UNVERIFIED connection)[/]"
        out.print(f"  {tls.version}, cipher {escape(tls.cipher or '?')} ({tls.bits} bits){label}")
    if tls.certificate is not None:
        _certificate(tls.certificate, verified=tls.verified, out=out)


def _certificate(cert: CertificateInfo, *, verified: bool, out: Console) -> None:
    title = "certificate" if verified else "certificate (UNVERIFIED: shown only to help)"
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("field")
    table.add_column("value")
    table.add_row("subject", escape(cert.subject or "(not decoded: install cryptography)"))
    table.add_row("issuer", escape(cert.issuer or "?"))
    table.add_row("names", escape(", ".join(cert.names) or "(none)"))
    if cert.not_before is not None:
        table.add_row("valid from", cert.not_before.strftime("%Y-%m-%d %H:%M UTC"))
    days = cert.days_left()
    if cert.not_after is not None and days is not None:
        when = "EXPIRED" if days < 0 else f"in {days} days"
        table.add_row("expires", f"{cert.not_after:%Y-%m-%d %H:%M UTC} ({when})")
    table.add_row("sha256", cert.sha256)
    out.print(table)
    if days is not None and 0 <= days < EXPIRY_WARNING_DAYS:
        out.print(f"{NOTE} the certificate expires in {days} days")
