"""Staff accounts, pure parts: password hashes, where a login may send you, the cookie's
Secure flag, and formula-safe CSV cells."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from service.staff.auth import cookie_secure
from service.staff.passwords import hash_password, verify_password, weak_reason
from service.web.admin.login import _safe_next
from subscribers.exporter import safe_cell


def test_password_hash_is_argon2id_and_verifies():
    h = hash_password("korrekt-hest-batteri")
    assert h.startswith("$argon2id$") and "korrekt" not in h
    assert verify_password(h, "korrekt-hest-batteri")
    assert not verify_password(h, "korrekt-hest-batterI")
    assert not verify_password(None, "korrekt-hest-batteri")  # unknown account: a dummy hash, False
    assert not verify_password("x", "x")  # a malformed stored hash never matches
    assert weak_reason("kort") and weak_reason("ti-tegn-ok") is None


@pytest.mark.parametrize("target, expected", [
    ("/admin/subscribers?q=a", "/admin/subscribers?q=a"),
    ("https://evil.example/admin", "/admin/"),
    ("//evil.example/admin", "/admin/"),
    ("/admin\\@evil.example", "/admin/"),
    ("/admin/login", "/admin/"),
    ("", "/admin/"),
])
def test_login_only_sends_you_inside_the_admin(target, expected):
    assert _safe_next(target) == expected


@pytest.mark.parametrize("mode, base, secure", [
    ("auto", "https://nyheder.example", True), ("auto", "http://127.0.0.1:8080", False),
    ("always", "http://127.0.0.1:8080", True), ("never", "https://nyheder.example", False),
])
def test_session_cookie_secure_flag(mode, base, secure):
    rt = SimpleNamespace(settings=SimpleNamespace(staff=SimpleNamespace(cookie_secure=mode),
                                                  service=SimpleNamespace(base_url=base)))
    assert cookie_secure(rt) is secure


@pytest.mark.parametrize("value, out", [
    ("=1+1", "'=1+1"), ("+45 1234", "'+45 1234"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"),
    ("Anna", "Anna"), ("a=b", "a=b"), (None, ""), ("to\nlinjer", "to linjer"),
])
def test_item25_formula_safe_cells(value, out):
    assert safe_cell(value) == out
