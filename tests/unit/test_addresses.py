"""Addresses are validated and written one way; the suppression hash matches the matcher's SQL."""

import hashlib

import pytest

from subscribers.addresses import BadAddress, normalise
from subscribers.suppression import email_hash


@pytest.mark.parametrize("given, expected", [
    (" Mette.Hansen@Jobcenter.Aarhus.DK ", "mette.hansen@jobcenter.aarhus.dk"),
    ("soeren@Jobcenter-Århus.dk", "soeren@jobcenter-århus.dk"),  # the domain is sent as punycode
])
def test_normalised(given, expected):
    assert normalise(given) == expected


@pytest.mark.parametrize("bad", ["", "x", "a@b", "a b@c.dk", "a@b.dk\nBcc: x@y.dk", "a@b.dk\r\nx", "a\x00@b.dk",
                                 "x" * 310 + "@example.dk"])
def test_refused_with_a_danish_reason(bad):
    with pytest.raises(BadAddress) as exc:
        normalise(bad)
    assert str(exc.value)  # says why


def test_letters_before_the_at_are_refused_with_the_reason():
    # Sending there needs SMTPUTF8 end to end; the browser test found it failing at every send.
    with pytest.raises(BadAddress, match="æ, ø, å"):
        normalise("Søren.Kjær@jobcenter-viborg.dk")


def test_hash_is_of_the_trimmed_lower_cased_address():
    assert email_hash(" Mette@Example.DK") == hashlib.sha256(b"mette@example.dk").hexdigest()
