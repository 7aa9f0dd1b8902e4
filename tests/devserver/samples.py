"""Messages the dev server tests send, including hostile ones (a caught message is untrusted)."""

from __future__ import annotations

from email.message import EmailMessage

HOSTILE_SUBJECT = '<script>alert("subject")</script> & "quotes"'
HOSTILE_HTML = (
    "<h1 id=greeting>Hello from the HTML part</h1>"
    "<script>parent.document.title = 'pwned'; alert('html')</script>"
    '<img src="https://tracker.example.test/pixel.gif">'
)
PDF_BYTES = b"%PDF-1.4 not really a pdf \x00\xff"


def simple_message(subject: str = "Hello", to: str = "bob@example.test") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Alice <alice@example.test>"
    message["To"] = to
    message["Subject"] = subject
    message.set_content("Plain body line one.\nLine two.\n")
    return message


def rich_message(subject: str = HOSTILE_SUBJECT, html: str = HOSTILE_HTML) -> EmailMessage:
    """Text, HTML and a PDF attachment with a non-ASCII file name."""
    message = simple_message(subject)
    message.add_alternative(html, subtype="html")
    message.add_attachment(PDF_BYTES, maintype="application", subtype="pdf", filename="résumé.pdf")
    return message
