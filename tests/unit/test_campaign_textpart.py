"""The text part of a campaign mail reads well in a text-only client."""

from service.campaigns.textpart import to_text

BODY = """Ledigheden i **Region Midtjylland** faldt i oktober til *3,1 pct.* Det viser [de nye tal fra
Danmarks Statistik](https://www.dst.dk/da/Statistik/emner/ledighed), som udkom i dag, og som vi har set
nærmere på i [analysen](https://raadet.example/analyse). Se også https://star.dk.

| Kommune | Ledige | Ledighed |
|---|---:|---:|
| Aarhus | 4.120 | 3,4 pct. |
| Ringkøbing-Skjern | 512 | 1,8 pct. |

- Første punkt med en __lang__ tekst, som skal ombrydes, fordi den er meget længere end to og halvfjerds tegn
- Andet punkt
"""


def test_table_becomes_aligned_columns_with_numbers_to_the_right():
    lines = to_text(BODY).splitlines()
    head = lines.index("Kommune            Ledige  Ledighed")
    assert lines[head + 1] == "-----------------  ------  --------"
    assert lines[head + 2] == "Aarhus              4.120  3,4 pct."
    assert lines[head + 3] == "Ringkøbing-Skjern     512  1,8 pct."


def test_emphasis_marks_disappear_and_lines_wrap_near_72():
    text = to_text(BODY)
    assert "*" not in text.replace("* Første", "").replace("* Andet", "") and "__" not in text
    assert "Region Midtjylland" in text and "lang tekst" in text
    assert max(len(line) for line in text.splitlines() if "://" not in line) <= 72
    assert "* Første punkt med en lang tekst, som skal ombrydes, fordi den er meget\n  længere" in text


def test_links_are_numbered_and_listed_a_bare_address_stays():
    text = to_text(BODY)
    assert "de nye tal fra Danmarks Statistik [1]" in text.replace("\n", " ")
    assert "analysen [2]" in text and "Se også https://star.dk." in text
    assert text.endswith("Links:\n[1] https://www.dst.dk/da/Statistik/emner/ledighed\n[2] https://raadet.example/analyse\n")


def test_a_table_too_wide_becomes_one_block_per_row():
    wide = "| Kommune | Beskrivelse |\n|---|---|\n| Aarhus | " + "meget lang forklaring " * 5 + "|"
    text = to_text(wide)
    assert text.startswith("Kommune: Aarhus\nBeskrivelse: meget lang forklaring")
    assert max(len(line) for line in text.splitlines()) <= 72


def test_headings_get_a_rule_and_nothing_is_lost():
    assert to_text("## Mellemrubrik\n\nTekst") == "Mellemrubrik\n============\n\nTekst\n"
    assert to_text("") == ""
