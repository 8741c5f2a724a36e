"""The Teams app package an admin uploads: manifest.json (schema v1.22) and two icons, zipped.

`write_package(settings, out_path)` uses MICROSOFT_APP_ID as both the app id and the bot id and
lists the chat commands for Teams' command menu. The public host of `npsbot serve` (from
NPSBOT_PUBLIC_URL, e.g. https://nps.example.com) goes into validDomains and the developer links.
The icons are package data in handlers/teams/app_package/ (drawn by `draw_icons` when missing):
a 192x192 colour icon and a 32x32 white outline on a transparent background.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from importlib import metadata
from pathlib import Path
from urllib.parse import urlparse

from bot.config import Settings


def app_id_problem(app_id: str) -> str | None:
    """Why `app_id` cannot be a Teams app id (a GUID), in words; None when it can."""
    if not app_id:
        return "Set MICROSOFT_APP_ID to your Azure bot's app id first."
    try:
        uuid.UUID(app_id)
    except ValueError:
        return (f"MICROSOFT_APP_ID {app_id!r} is not a GUID: copy the bot's Microsoft App ID "
                "(xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx) from its Azure Bot resource.")
    return None

MANIFEST_VERSION = "1.22"
SCHEMA_URL = f"https://developer.microsoft.com/json-schemas/teams/v{MANIFEST_VERSION}/MicrosoftTeams.schema.json"
ICON_DIR = Path(__file__).parent / "app_package"
COLOR_ICON, OUTLINE_ICON = "color.png", "outline.png"
ACCENT = "#1D4ED8"
FALLBACK_SITE = "https://example.com/npsbot"

# Teams shows at most 10 commands per scope list in older clients; the ones people reach for.
CHANNEL_COMMANDS = (
    ("help", "Every command, with examples"),
    ("score 30d", "NPS with counts, margin of error and change"),
    ("open", "Follow-ups not closed yet"),
    ("unclaimed", "Follow-ups nobody has taken"),
    ("mine", "Follow-ups claimed by me"),
    ("show 12", "One follow-up with answers, notes and trail"),
    ("claim 12", "Take follow-up #12"),
    ("close 12 resolved", "Close #12 with an outcome and a note"),
    ("subscribe alerts", "Post detractor alerts in this channel"),
    ("digest schedule mon 09:00", "Weekly NPS digest in this channel"),
)
PERSONAL_COMMANDS = (
    ("help", "Every command, with examples"),
    ("mine", "Follow-ups claimed by me"),
    ("unclaimed", "Follow-ups nobody has taken"),
    ("open", "Follow-ups not closed yet"),
    ("show 12", "One follow-up with answers, notes and trail"),
    ("claim 12", "Take follow-up #12"),
    ("note 12 called them", "Add a note to #12"),
    ("close 12 resolved", "Close #12 with an outcome and a note"),
    ("reopen 12", "Reopen a closed follow-up"),
    ("score 30d", "NPS with counts, margin of error and change"),
)


def _version() -> str:
    try:
        return metadata.version("npsbot")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0.1.0"


def manifest(settings: Settings, public_url: str | None = None) -> dict:
    """manifest.json for this deployment (pure: settings in, dict out)."""
    app_id = settings.microsoft_app_id
    problem = app_id_problem(app_id)
    if problem:
        raise ValueError(problem)
    site = (public_url or "").rstrip("/")
    host = urlparse(site).hostname if site else None
    links = site or FALLBACK_SITE
    domains = ["token.botframework.com"] + ([host] if host else [])

    def commands(rows):
        return [{"title": title, "description": what} for title, what in rows]

    return {
        "$schema": SCHEMA_URL,
        "manifestVersion": MANIFEST_VERSION,
        "version": _version(),
        "id": app_id,
        "developer": {"name": "npsbot", "websiteUrl": links, "privacyUrl": links, "termsOfUseUrl": links},
        "name": {"short": "npsbot", "full": "npsbot: NPS detractor follow-ups"},
        "description": {
            "short": "NPS detractor alerts, follow-ups and weekly digests in Teams.",
            "full": ("npsbot posts an alert card for every NPS detractor to the channels that subscribe, "
                     "lets your team claim, note and close each follow-up from the card, with commands "
                     "or with reactions, and posts a weekly NPS digest with a trend chart. Follow-ups are "
                     "shared with Slack and the terminal shell."),
        },
        "icons": {"color": COLOR_ICON, "outline": OUTLINE_ICON},
        "accentColor": ACCENT,
        "bots": [{
            "botId": app_id,
            "scopes": ["team", "personal", "groupChat"],
            "isNotificationOnly": False,
            "supportsFiles": False,
            "commandLists": [
                {"scopes": ["team", "groupChat"], "commands": commands(CHANNEL_COMMANDS)},
                {"scopes": ["personal"], "commands": commands(PERSONAL_COMMANDS)},
            ],
        }],
        "permissions": ["identity", "messageTeamMembers"],
        "validDomains": domains,
    }


def draw_icons(directory: Path) -> None:
    """Draw the two icons with Pillow: an NPS gauge, white on blue and white on transparent."""
    from PIL import Image, ImageDraw

    directory.mkdir(parents=True, exist_ok=True)

    def gauge(size: int, background: tuple[int, int, int, int], scale: float) -> Image.Image:
        image = Image.new("RGBA", (size, size), background)
        draw = ImageDraw.Draw(image)
        pad = size * (1 - scale) / 2
        box = (pad, pad + size * scale * 0.12, size - pad, size - pad + size * scale * 0.12)
        width = max(2, round(size * scale * 0.12))
        draw.arc(box, start=180, end=360, fill="white", width=width)
        cx, cy = size / 2, (box[1] + box[3]) / 2
        draw.line((cx, cy, cx + size * scale * 0.3, cy - size * scale * 0.3), fill="white", width=width)
        r = width * 0.9
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill="white")
        return image

    red, green, blue_ = (int(ACCENT[i:i + 2], 16) for i in (1, 3, 5))
    blue = (red, green, blue_, 255)
    # Teams asks for the symbol inside the colour icon's central 96x96 safe area.
    gauge(192, blue, 0.5).save(directory / COLOR_ICON, optimize=True)
    gauge(32, (0, 0, 0, 0), 0.85).save(directory / OUTLINE_ICON, optimize=True)


def _icon(name: str) -> bytes:
    path = ICON_DIR / name
    if not path.exists():
        draw_icons(ICON_DIR)
    return path.read_bytes()


def package_bytes(settings: Settings, public_url: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", json.dumps(manifest(settings, public_url), indent=2, ensure_ascii=False))
        zf.writestr(COLOR_ICON, _icon(COLOR_ICON))
        zf.writestr(OUTLINE_ICON, _icon(OUTLINE_ICON))
    return buffer.getvalue()


def write_package(settings: Settings, out_path: Path, *, public_url: str | None = None) -> Path:
    """Write the zip to upload in Teams (Apps > Manage your apps > Upload an app); return its path."""
    public_url = public_url or settings.public_url
    out_path = Path(out_path)
    if out_path.parent:
        out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_bytes(package_bytes(settings, public_url))
    return out_path
