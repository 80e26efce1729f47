"""The comparison's pieces that need neither PyPI, Django nor Mailman (`python -m
benchmarks --only compare` installs and runs the rest): the Django project's settings,
Mailman's config, the newsletter body each is given, and that the part is opt-in."""

from __future__ import annotations

from pathlib import Path

from benchmarks import compare

ROOT = Path(__file__).resolve().parents[2]


def test_the_django_project_sends_through_the_sink_and_keeps_its_database_apart(tmp_path):
    site = compare.site_module()  # as the Django venv runs it: a file, not part of the package
    s = site.settings(tmp_path / "django.db", 2525, {"newsletter/message/best-practice/message.txt": "x"})
    assert s["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert (s["EMAIL_HOST"], s["EMAIL_PORT"]) == ("127.0.0.1", 2525)
    assert s["DATABASES"]["default"] == {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "django.db")}
    assert "newsletter" in s["INSTALLED_APPS"] and "django.contrib.sites" in s["INSTALLED_APPS"]
    (cached, (locmem, app_dirs)), = s["TEMPLATES"][0]["OPTIONS"]["loaders"]
    assert locmem == ("django.template.loaders.locmem.Loader", {"newsletter/message/best-practice/message.txt": "x"})
    assert site.name(1) != site.name(2) and "ø" in "".join(site.name(i) for i in range(200))


def test_the_article_is_budbringers_newsletter_as_html_without_its_merge_field(tmp_path):
    html = compare.article_html(tmp_path).read_text(encoding="utf-8")
    assert "<h2>Tidlig kontakt virker</h2>" in html and "Beskæftigelsesrådet Midtjylland" in html
    assert "{hilsen}" not in html


def test_django_newsletter_is_pinned_and_the_comparison_is_not_a_default_part():
    assert compare.pin("django-newsletter") == "1.2.1" and compare.pin("Django") != "?"
    main = (ROOT / "benchmarks" / "__main__.py").read_text(encoding="utf-8")
    default = main.split('p.add_argument("--only", default="', 1)[1].split('"', 1)[0]
    assert "compare" not in default.split(",")


def test_mailman_sends_to_the_sink_and_listens_for_nothing_else(tmp_path):
    from benchmarks.compare import mailman3

    cfg = mailman3.config(tmp_path, 2525)
    assert "smtp_host: 127.0.0.1\nsmtp_port: 2525\n" in cfg and f"var_dir: {tmp_path / 'var'}\n" in cfg
    assert "[runner.lmtp]\nstart: no" in cfg and "[runner.rest]\nstart: no" in cfg


def test_the_post_to_mailman_carries_the_same_text_and_html(tmp_path):
    from email import message_from_bytes, policy

    from benchmarks.compare import mailman3

    html = compare.article_html(tmp_path).read_text(encoding="utf-8")
    post = message_from_bytes(mailman3.post(compare.newsletter_text(), html), policy=policy.default)
    assert post["To"] == mailman3.POSTING and post.get_content_type() == "multipart/alternative"
    assert post.get_body(("html",)).get_content() == html
    assert "Tidlig kontakt virker" in post.get_body(("plain",)).get_content()
