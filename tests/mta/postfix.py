"""A private Postfix instance on 127.0.0.1: its own configuration, queue and maildirs.

The programs are Debian's, unpacked (not installed) by ``bash tests/mta/install.sh`` into
``$SMTP_BACKEND_MTA_CACHE`` (default ``.cache/mta``): a system Postfix, if any, is
neither used nor touched. Run by hand (as root, after the install script)::

    python3 -m tests.mta.postfix            # start, print where things are, stop on Ctrl-C

The instance offers STARTTLS (a test certificate), AUTH PLAIN/LOGIN/CRAM-MD5 through
Cyrus sasldb, PIPELINING, CHUNKING, SMTPUTF8, 8BITMIME, SIZE and DSN; it delivers mail
for every address at ``LOCAL_DOMAINS`` into one maildir (``<root>/mail/inbox``; each file
starts with the ``Delivered-To:`` virtual(8) adds), answers 550 to recipients at
``REFUSED_DOMAIN`` and 451 to those at ``TEMPFAIL_DOMAIN``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.mta.maildir import Maildir

LOCAL_DOMAINS = ("example.test", "sender.test")
REFUSED_DOMAIN = "refused.test"
TEMPFAIL_DOMAIN = "tempfail.test"
HOSTNAME = "mx.smtp-backend.test"
SASL_USER = "alice"
SASL_PASSWORD = "s3cret pass"
MESSAGE_SIZE_LIMIT = 200_000
# virtual(8) refuses to deliver as root; the maildirs belong to this account.
MAILBOX_ACCOUNT = "nobody"
# The daemons' unprivileged user and the queue's group: accounts every Debian has, since the
# "postfix" account exists only where the package is installed.
MAIL_OWNER = "nobody"
SETGID_GROUP = "mail"
# Postfix insists it differ from the mail owner; local(8), which uses it, never runs here.
DEFAULT_PRIVS = "daemon"

_REPOSITORY = Path(__file__).resolve().parents[2]
UNPACKED = Path(os.environ.get("SMTP_BACKEND_MTA_CACHE") or _REPOSITORY / ".cache" / "mta") / "root"
_POSTFIX = UNPACKED / "usr" / "sbin" / "postfix"
_SASLPASSWD = UNPACKED / "usr" / "sbin" / "saslpasswd2"
_START_TIMEOUT = 20.0

# The services a loopback-only instance needs; chroot off (the queue is not a jail).
# name, type, private, unprivileged, chroot, wakeup, maxproc, command
_SERVICES = """\
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n -  0 cleanup
qmgr      unix  n - n 300 1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
proxywrite unix - - n - 1 proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
local     unix  - n n - - local
virtual   unix  - n n - - virtual
lmtp      unix  - - n - - lmtp
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


def unavailable_reason() -> str | None:
    """Why a private Postfix cannot run here, or None when it can."""
    if not (_POSTFIX.exists() and _SASLPASSWD.exists()):
        return f"Postfix is not unpacked in {UNPACKED} (run: bash tests/mta/install.sh)"
    if os.geteuid() != 0:
        return "starting Postfix needs root"
    return None


def unpacked_environment() -> dict[str, str]:
    """What the unpacked programs need: their own libraries first, and SASL's plugins."""
    libraries = [UNPACKED / "usr/lib/postfix", *sorted(UNPACKED.glob("usr/lib/*-linux-gnu*"))]
    libraries += sorted(UNPACKED.glob("lib/*-linux-gnu*"))
    plugins = sorted(UNPACKED.glob("usr/lib/*/sasl2"))
    return {
        "LD_LIBRARY_PATH": ":".join(str(path) for path in libraries),
        "SASL_PATH": str(plugins[0]) if plugins else "",
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class ServerCertificate:
    """PEM files of the certificate smtpd presents (a chain) and its private key."""

    chain_pem: bytes
    key_pem: bytes


class PostfixInstance:
    """One private Postfix under ``root``: ``start()``, send mail to ``port``, ``stop()``."""

    def __init__(self, root: Path, certificate: ServerCertificate, port: int | None = None):
        self.root = root
        self.certificate = certificate
        self.port = port or free_port()
        self.config_dir = root / "etc"
        self.queue_dir = root / "queue"
        self.data_dir = root / "data"
        self.mail_dir = root / "mail"
        self.log_file = root / "maillog"

    @property
    def inbox(self) -> Maildir:
        """The maildir every local recipient's mail (and every DSN) is delivered to."""
        return Maildir(self.mail_dir / "inbox")

    # -- configuration ---------------------------------------------------------

    def configure(self) -> None:
        """Write every file the instance reads; wipes an earlier run's state."""
        for old in (self.config_dir, self.queue_dir, self.data_dir, self.mail_dir):
            shutil.rmtree(old, ignore_errors=True)
        self.log_file.unlink(missing_ok=True)
        # Postfix's daemons (user postfix) and virtual(8) must traverse the root.
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        self.config_dir.mkdir()
        # postfix(1) chdirs here first; postfix-script then creates what lies below.
        self.queue_dir.mkdir(mode=0o755)
        mailbox_owner = pwd.getpwnam(MAILBOX_ACCOUNT)
        self.mail_dir.mkdir()
        os.chown(self.mail_dir, mailbox_owner.pw_uid, mailbox_owner.pw_gid)
        self._write_tls_files()
        self._write_sasl_files()
        (self.config_dir / "recipient_access").write_text(
            f"{REFUSED_DOMAIN} 550 5.1.1 Recipient refused by the test policy\n"
            f"{TEMPFAIL_DOMAIN} 451 4.3.0 Recipient deferred by the test policy\n"
        )
        (self.config_dir / "main.cf").write_text(self._main_cf(mailbox_owner))
        (self.config_dir / "master.cf").write_text(
            f"127.0.0.1:{self.port} inet n - n - - smtpd\n" + _SERVICES
        )

    def _write_tls_files(self) -> None:
        key = self.config_dir / "server.key"
        key.touch(mode=0o600)
        key.write_bytes(self.certificate.key_pem)
        (self.config_dir / "server.pem").write_bytes(self.certificate.chain_pem)

    def _write_sasl_files(self) -> None:
        sasl_dir = self.config_dir / "sasl"
        sasl_dir.mkdir()
        sasldb = sasl_dir / "sasldb2"
        (sasl_dir / "smtpd.conf").write_text(
            "pwcheck_method: auxprop\n"
            "auxprop_plugin: sasldb\n"
            "mech_list: PLAIN LOGIN CRAM-MD5\n"
            f"sasldb_path: {sasldb}\n"
        )
        subprocess.run(
            [_SASLPASSWD, "-f", str(sasldb), "-c", "-p", "-u", HOSTNAME, SASL_USER],
            input=SASL_PASSWORD.encode(),
            check=True,
            timeout=10,
            env={**os.environ, **unpacked_environment()},
        )
        # smtpd opens sasldb per AUTH, after dropping to the mail owner.
        os.chown(sasldb, 0, pwd.getpwnam(MAIL_OWNER).pw_gid)
        sasldb.chmod(0o640)

    def _main_cf(self, mailbox_owner: pwd.struct_passwd) -> str:
        conf = self.config_dir
        environment = " ".join(f"{name}={value}" for name, value in unpacked_environment().items())
        return f"""\
compatibility_level = 3.6
config_directory = {conf}
# The unpacked package, not the paths compiled in (where a system Postfix may live).
command_directory = {UNPACKED}/usr/sbin
daemon_directory = {UNPACKED}/usr/lib/postfix/sbin
shlib_directory = {UNPACKED}/usr/lib/postfix
meta_directory = {UNPACKED}/etc/postfix
sendmail_path = {UNPACKED}/usr/sbin/sendmail
mailq_path = {UNPACKED}/usr/bin/mailq
newaliases_path = {UNPACKED}/usr/bin/newaliases
import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C {environment}
mail_owner = {MAIL_OWNER}
setgid_group = {SETGID_GROUP}
default_privs = {DEFAULT_PRIVS}
queue_directory = {self.queue_dir}
data_directory = {self.data_dir}
maillog_file = {self.log_file}
maillog_file_prefixes = {self.root}
myhostname = {HOSTNAME}
mydomain = smtp-backend.test
myorigin = $myhostname
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mydestination =
mynetworks = 127.0.0.1/32
relayhost =
alias_maps =
alias_database =
local_transport = error:no local delivery in the test instance
default_transport = error:no outbound mail from the test instance
relay_transport = error:no outbound mail from the test instance
biff = no
# cleanup(8) leaves the headers of loopback clients' mail alone (no Message-Id, no rewriting).
local_header_rewrite_clients =
smtputf8_enable = yes
message_size_limit = {MESSAGE_SIZE_LIMIT}
delay_warning_time = 0
smtpd_banner = $myhostname ESMTP smtp_backend test instance
# What the tests read back: TLS and the SASL user in Received, the client port in the log.
smtpd_tls_received_header = yes
smtpd_sasl_authenticated_header = yes
smtpd_client_port_logging = yes

virtual_mailbox_domains = {" ".join(LOCAL_DOMAINS)}
virtual_mailbox_base = {self.mail_dir}
# virtual(8) allows no regexp substitution here: one maildir ("/" at the end) for all.
virtual_mailbox_maps = static:inbox/
virtual_uid_maps = static:{mailbox_owner.pw_uid}
virtual_gid_maps = static:{mailbox_owner.pw_gid}

# Relay restrictions run first: the test policy for refused/tempfail domains goes here.
smtpd_relay_restrictions =
    check_recipient_access texthash:{conf}/recipient_access,
    reject_unauth_destination
smtpd_recipient_restrictions =

smtpd_tls_security_level = may
smtpd_tls_cert_file = {conf}/server.pem
smtpd_tls_key_file = {conf}/server.key
smtpd_tls_auth_only = no

smtpd_sasl_auth_enable = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = {conf}/sasl
smtpd_sasl_local_domain = {HOSTNAME}
smtpd_sasl_security_options = noanonymous
"""

    # -- running -----------------------------------------------------------------

    def _postfix(self, *command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [_POSTFIX, "-c", str(self.config_dir), *command],
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, **unpacked_environment()},
        )

    def start(self) -> PostfixInstance:
        """Configure, start, and return once the SMTP port answers (or raise)."""
        self.configure()
        started = self._postfix("start")
        if started.returncode != 0:
            raise RuntimeError(
                f"postfix start failed:\n{started.stdout}{started.stderr}{self.log()}"
            )
        deadline = time.monotonic() + _START_TIMEOUT
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as probe:
                    probe.settimeout(5)
                    if probe.recv(4).startswith(b"220"):
                        return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"Postfix did not answer on port {self.port}:\n{self.log()}")
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop the master and its daemons; safe to call twice."""
        if (self.queue_dir / "pid" / "master.pid").exists():
            self._postfix("stop")

    def wait_until_delivered(self, timeout: float = 20.0) -> None:
        """Return once the queue is empty: every accepted message (and DSN) is delivered."""
        deadline = time.monotonic() + timeout
        queues = [self.queue_dir / name for name in ("maildrop", "incoming", "active", "deferred")]
        while any(entry.is_file() for queue in queues for entry in queue.rglob("*")):
            if time.monotonic() > deadline:
                raise TimeoutError(f"mail still queued after {timeout}s:\n{self.log()[-3000:]}")
            time.sleep(0.02)

    def session_commands(self, client_port: int, timeout: float = 10.0) -> dict[str, str]:
        """smtpd's count per command of the session from ``client_port`` (once it ended).

        From the log's "disconnect from ... ehlo=1 mail=2 bdat=2 quit=1 commands=6" line.
        """
        marker = f"disconnect from localhost[127.0.0.1]:{client_port} "
        deadline = time.monotonic() + timeout
        while True:
            for line in self.log().splitlines():
                if marker in line:
                    counts = line.split(marker, 1)[1].split()
                    return dict(count.split("=", 1) for count in counts)
            if time.monotonic() > deadline:
                raise TimeoutError(f"no end of the session from port {client_port} in the log")
            time.sleep(0.05)

    def log(self) -> str:
        """The instance's mail log (for a failing test's message)."""
        try:
            return self.log_file.read_text(errors="replace")
        except FileNotFoundError:
            return "(no mail log)"

    def __enter__(self) -> PostfixInstance:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _run_by_hand() -> None:
    import trustme

    ca = trustme.CA()
    issued = ca.issue_cert("localhost", "127.0.0.1")
    root = Path(tempfile.gettempdir()) / "smtp-backend-postfix"
    certificate = ServerCertificate(
        chain_pem=b"".join(blob.bytes() for blob in issued.cert_chain_pems),
        key_pem=issued.private_key_pem.bytes(),
    )
    with PostfixInstance(root, certificate) as postfix:
        ca.cert_pem.write_to_path(str(root / "ca.pem"))
        print(f"Postfix on 127.0.0.1:{postfix.port}; CA {root / 'ca.pem'}")
        print(f"AUTH {SASL_USER!r} / {SASL_PASSWORD!r}; maildir {postfix.inbox.path}")
        print(f"log {postfix.log_file}; Ctrl-C stops it")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    reason = unavailable_reason()
    if reason:
        raise SystemExit(reason)
    _run_by_hand()
