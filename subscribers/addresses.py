"""Email addresses: checked and written one way, so the same person is always one row.

`normalise` validates the syntax with email-validator (and, when the setting asks, that
the domain takes mail), then lower-cases the whole address. Letters such as æ, ø and å are welcome in the domain
(sent as punycode) but not before the @: such a mailbox needs SMTPUTF8 all the way, which
few Danish mail servers offer, so the address is refused at signup with a plain reason
instead of failing at every send. Lower-casing the local part
goes beyond the RFC, but every mailbox provider our subscribers use treats it so, and one
spelling per person is what keeps duplicates and suppressions honest.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, EmailUndeliverableError, validate_email


class BadAddress(ValueError):
    """The address cannot be used; `str()` says why, in plain Danish."""


def normalise(address: str, *, check_deliverability: bool = False) -> str:
    text = (address or "").strip()
    if not text:
        raise BadAddress("Skriv din e-mailadresse.")
    if len(text) > 320 or any(c in text for c in "\r\n\x00"):
        raise BadAddress("Det ligner ikke en e-mailadresse.")
    local = text.rpartition("@")[0]
    if local and not local.isascii():
        raise BadAddress("Vi kan ikke sende til adresser med æ, ø, å eller andre særlige tegn før @. Brug en anden adresse.")
    try:
        result = validate_email(text, check_deliverability=check_deliverability, allow_smtputf8=False)
    except EmailNotValidError as exc:
        if isinstance(exc, EmailUndeliverableError):
            raise BadAddress("Domænet i adressen kan ikke modtage e-mail.") from None
        raise BadAddress("Det ligner ikke en e-mailadresse. Tjek at den er skrevet som navn@domæne.dk.") from None
    return result.normalized.lower()


def is_valid(address: str) -> bool:
    try:
        normalise(address)
    except BadAddress:
        return False
    return True


def mailbox(address: str) -> str:
    """The mailbox an address reaches: `victim+20@x.dk` is `victim@x.dk`. The `+tag` of a
    subaddress (RFC 5233) is passed over by every provider that has it, so twenty such
    addresses are one person's inbox."""
    local, _, domain = address.strip().lower().rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}"
