"""The django-newsletter comparison's pieces that need neither PyPI nor Django
(`python -m benchmarks --only compare` installs and runs the rest): the Django project's
settings, the newsletter body it is given, and that the part is opt-in."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from benchmarks import compare

ROOT = Path(__file__).resolve().parents[2]


def _site():
    """benchmarks/compare/django_site.py as the Django venv runs it: a file, not part of the package."""
    spec = importlib.util.spec_from_file_location("django_site", compare.SITE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # imports only the standard library at the top
    return module


def test_the_django_project_sends_through_the_sink_and_keeps_its_database_apart(tmp_path):
    site = _site()
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
