"""What a mail renderer may use, declared here by the package that uses it.

Renderers are handed the process's runtime, but see only this: the settings (for the
sender's name and address, the time zone and link lifetimes), the mail templates (with
their render cache and message catalogue) and the signed links. Nothing else reaches a
template, and nothing here knows the use cases above.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from service.render.templates import Templates
    from service.settings import Settings
    from subscribers.links import Links


class RenderContext(Protocol):
    settings: "Settings"
    templates: "Templates"
    links: "Links"
