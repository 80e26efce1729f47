"""Markdown bodies become safe HTML; attachments are checked by content; local times."""

from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest

from service.campaigns.attachments import check_content, safe_filename
from service.campaigns.markdown import to_html, to_text
from service.campaigns.times import format_local, parse_local
from service.errors import Invalid

TZ = ZoneInfo("Europe/Copenhagen")


@pytest.mark.parametrize("evil", [
    "<script>alert(1)</script>",
    "[klik](javascript:alert(1))",
    '<img src=x onerror="alert(1)">',
    "<iframe src='https://evil.example'></iframe>",
    "[a](data:text/html;base64,PHNjcmlwdD4=)",
])
def test_nothing_active_survives(evil):
    tags = _Tags()
    tags.feed(to_html(evil))
    assert not {"script", "img", "iframe"} & {t for t, _ in tags.seen}
    for _, attrs in tags.seen:
        for name, value in attrs:
            assert not name.startswith("on")
            assert not (name == "href" and not value.startswith(("http://", "https://", "mailto:")))


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.seen = []

    def handle_starttag(self, tag, attrs):
        self.seen.append((tag, attrs))


def test_markdown_features_kept():
    html = to_html("# Overskrift\n\n**fed** og [link](https://star.dk)\n\n| a | b |\n|---|---|\n| 1 | 2 |")
    assert "<h2>Overskrift</h2>" in html  # the mail's h1 is the title
    assert '<a href="https://star.dk" rel="noopener noreferrer">link</a>' in html
    assert "<table>" in html and "<td>1</td>" in html
    assert to_text("Se [linket](https://star.dk) og **dette**") == "Se linket [1] og dette\n\nLinks:\n[1] https://star.dk\n"


def test_attachments_are_checked_by_content():
    assert check_content("tal.pdf", b"%PDF-1.7 ...") == "application/pdf"
    assert check_content("tal.csv", "kommune;ledige\nAarhus;8055\n".encode()) == "text/csv"
    for name, data in (("tal.pdf", b"MZ\x90\x00"), ("tal.exe", b"MZ"), ("tal.xlsx", b"not a zip"), ("tal.csv", b"\xff\x00")):
        with pytest.raises(Invalid):
            check_content(name, data)
    assert safe_filename("../../etc/passwd") == "passwd"
    assert safe_filename('C:\\x\\"ond".pdf') == "_ond_.pdf"


def test_item11_campaign_local_times_across_summer_time():
    assert parse_local("2026-10-25 02:30", TZ).isoformat() == "2026-10-25T00:30:00+00:00"  # first of the two
    assert parse_local("2026-10-25T03:30", TZ).isoformat() == "2026-10-25T02:30:00+00:00"
    assert parse_local("2026-07-01 10:00", TZ).hour == 8 and parse_local("2026-12-01 10:00", TZ).hour == 9
    with pytest.raises(Invalid):
        parse_local("2026-03-29 02:30", TZ)  # does not exist
    with pytest.raises(Invalid):
        parse_local("i morgen", TZ)
    assert format_local(parse_local("2026-12-02 10:00", TZ), TZ) == "2. december 2026 kl. 10.00"
