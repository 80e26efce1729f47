"""Flash messages come from a fixed table: a key in the address picks one; text in the
address never reaches the page."""

from service.web.admin import flash


def test_a_known_key_shows_its_text_and_a_count_only_when_it_is_a_number():
    assert flash.message({"ok": "suppression-added"}) == "Adressen er sat på spærrelisten."
    assert flash.message({"ok": "retried", "n": "3"}) == "3 fejlede forsendelser er sat i kø igen."
    assert flash.message({"ok": "retried", "n": "<b>mange</b>"}) == ""
    assert flash.message({"ok": "retried"}) == ""


def test_text_of_ones_own_in_the_address_shows_nothing():
    assert flash.message({"ok": "Din konto er lukket. Ring 12345678"}) == ""
    assert flash.message({"ok": "fjernet"}) == ""  # the old free-text values are gone too
    assert flash.message({}) == ""


def test_redirect_keeps_the_path_and_fragment_and_refuses_unknown_keys():
    r = flash.redirect("/admin/campaigns/4#plan", "campaign-scheduled")
    assert r.location == "/admin/campaigns/4?ok=campaign-scheduled#plan"
    assert flash.redirect("/admin/?x=1", "retried", 2).location == "/admin/?x=1&ok=retried&n=2"
    try:
        flash.redirect("/admin/", "whatever")
    except KeyError:
        pass
    else:
        raise AssertionError("an unknown key must not redirect")
