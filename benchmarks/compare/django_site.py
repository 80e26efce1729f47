"""django-newsletter sending the newsletter: a minimal Django project, run by the
interpreter of its own virtualenv (var/compare/venv, see benchmarks/compare/__init__.py),
never Budbringer's. Only the standard library and Django are imported here.

    var/compare/venv/bin/python benchmarks/compare/django_site.py setup JSON-ARGS
    var/compare/venv/bin/python benchmarks/compare/django_site.py send JSON-ARGS

The settings are in code (`settings()`): django-newsletter with its own message
templates, a SQLite file, and Django's SMTP backend pointed at the sink. `setup` migrates
and seeds one Newsletter, N confirmed subscriptions with Danish names and one Message
whose one Article is the newsletter as HTML. `send` queues a Submission to every
subscription (as the admin's "submit" does), prints "ready", waits for "go" on stdin,
runs `manage.py submit_newsletter` (what cron runs) and prints one JSON line, like the
jobs in benchmarks/child.py.

Per message django-newsletter renders the subject, text and HTML Django templates with
that subscription in the context, queries the message's articles (once per template) and
attachments, builds an `EmailMultiAlternatives` and calls its `send()`: Django's SMTP
backend then opens a connection, sends the one message and closes it (no connection is
passed, so none is reused).
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

SLUG = "best-practice"
FIRST = ["Mette", "Lars", "Hanne", "Søren", "Kirsten", "Jens", "Birgitte", "Niels", "Anne", "Mads", "Ida", "Jørgen"]
LAST = ["Jensen", "Nielsen", "Hansen", "Pedersen", "Andersen", "Christensen", "Larsen", "Sørensen", "Rasmussen",
        "Jørgensen", "Kristensen", "Møller"]
GREETING = {"html": "<p>Kære {{ subscription.name }}</p>\n    ", "txt": "Kære {{ subscription.name }}\n\n"}
ARTICLES = "{% for article in message.articles.all %}"

urlpatterns: list = []  # filled in by main(), once Django is imported (ROOT_URLCONF is this module)


def settings(db: Path, smtp_port: int, templates: dict[str, str], urlconf: str = "__main__") -> dict:
    """The project's settings: what `settings.configure()` is given."""
    return {
        "SECRET_KEY": "benchmark-" + "x" * 40,
        "DEBUG": False,
        "ALLOWED_HOSTS": ["nyheder.example.dk"],
        "INSTALLED_APPS": ["django.contrib.contenttypes", "django.contrib.auth", "django.contrib.sites",
                           "sorl.thumbnail", "newsletter"],
        "SITE_ID": 1,
        "ROOT_URLCONF": urlconf,
        "DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(db)}},
        "DEFAULT_AUTO_FIELD": "django.db.models.BigAutoField",
        "USE_TZ": True,
        "TIME_ZONE": "Europe/Copenhagen",
        "LANGUAGE_CODE": "da",
        # The app's own templates, and the newsletter's copies of its message templates
        # with a greeting by name added (Budbringer's newsletter opens with `{hilsen}`).
        "TEMPLATES": [{
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "OPTIONS": {"loaders": [("django.template.loaders.cached.Loader", [
                ("django.template.loaders.locmem.Loader", templates),
                "django.template.loaders.app_directories.Loader"])]},
        }],
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": smtp_port,
        "EMAIL_TIMEOUT": 30,
        "DEFAULT_FROM_EMAIL": "nyheder@budbringer.example",
        "NEWSLETTER_THUMBNAIL": "sorl-thumbnail",  # its default; the app needs one of two thumbnailers
        "NEWSLETTER_USE_HTTPS": True,
    }


def greeting_templates() -> dict[str, str]:
    """django-newsletter's message.html and message.txt, as this newsletter's own
    templates, with "Kære <name>" before the articles."""
    import newsletter

    root = Path(newsletter.__file__).parent / "templates" / "newsletter" / "message"
    out = {}
    for ext, greeting in GREETING.items():
        source = (root / f"message.{ext}").read_text(encoding="utf-8")
        if ARTICLES not in source:
            raise RuntimeError(f"django-newsletter's message.{ext} has no {ARTICLES!r}")
        out[f"newsletter/message/{SLUG}/message.{ext}"] = source.replace(ARTICLES, greeting + ARTICLES, 1)
    return out


def name(i: int) -> str:
    return f"{FIRST[i % len(FIRST)]} {LAST[(i // len(FIRST)) % len(LAST)]}"


def setup(args: dict) -> dict:
    """Migrate, then one newsletter, its message and `n` confirmed subscriptions."""
    from django.contrib.sites.models import Site
    from django.core.management import call_command
    from django.utils.timezone import now
    from newsletter.models import Article, Message, Newsletter, Subscription

    call_command("migrate", verbosity=0)
    Site.objects.filter(pk=1).update(domain="nyheder.example.dk", name="Best Practice")
    letter = Newsletter.objects.create(title="Best Practice", slug=SLUG, email="nyheder@budbringer.example",
                                       sender="Beskæftigelsesrådet Midtjylland")
    message = Message.objects.create(title=args["title"], slug="best-practice-12", newsletter=letter)
    Article.objects.create(post=message, sortorder=10, title=args["lead"],
                           text=Path(args["html"]).read_text(encoding="utf-8"))
    at = now()
    Subscription.objects.bulk_create(
        [Subscription(newsletter=letter, name_field=name(i), email_field=f"modtager{i}@example.dk",
                      subscribed=True, subscribe_date=at) for i in range(1, args["n"] + 1)], batch_size=1000)
    return {"subscriptions": Subscription.objects.filter(newsletter=letter, subscribed=True).count()}


def send(args: dict) -> dict:
    """One Submission of the message to every subscription, sent by `submit_newsletter`."""
    from django.core.mail.utils import DNS_NAME
    from django.core.management import call_command
    from newsletter.models import Message, Submission

    start = time.perf_counter()
    submission = Submission.from_message(Message.objects.get(slug="best-practice-12"))
    submission.prepared = True  # what the admin's "submit" button sets
    submission.save()
    queued = time.perf_counter() - start
    DNS_NAME.get_fqdn()  # looked up once per process; not what is measured
    print("ready", flush=True)
    sys.stdin.readline()
    cpu_start, start = cpu_seconds(), time.perf_counter()
    call_command("submit_newsletter", verbosity=0)
    took = time.perf_counter() - start
    submission.refresh_from_db()
    return {"queued": submission.subscriptions.count(), "queue_seconds": queued, "sent": submission.sent,
            "seconds": took, "cpu_seconds": cpu_seconds() - cpu_start, "rss_mb": peak_rss_mb()}


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmHWM:"))


def main() -> None:
    job, args = sys.argv[1], json.loads(sys.argv[2])
    import django
    from django.conf import settings as django_settings
    from django.urls import include, path

    django_settings.configure(**settings(Path(args["db"]), args.get("port", 25), greeting_templates()))
    django.setup()
    urlpatterns[:] = [path("nyhedsbrev/", include("newsletter.urls"))]
    result = {"setup": setup, "send": send}[job](args)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
