"""Sphinx extension: the "Live code" launch button runs a page's cells on a Jupyter kernel.

sphinx-book-theme draws the button (``launch_buttons.thebe``) and calls ``initThebe()``;
sphinx-thebe, which usually provides that function, loads Thebe from a CDN, so offline the button
hangs. This extension provides ``initThebe()`` instead (``static/live-code.js``): it loads the
Thebe bundle shipped in the build (``thebe/``, fetched by ``tools/fetch_js.sh``) and connects to
the local Jupyter server that ``eodrec book serve`` announces at ``_live/server.json``; on a
published site, where that file does not exist, it starts a Binder of the repository instead.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import urlparse

from sphinx.application import Sphinx
from sphinx.config import Config

STATIC = Path(__file__).parent / "static"
# Where a kernel runs a page's code, relative to the repository root: the page notebooks'
# folder, as when papermill executes them (``eodrec book build``).
KERNEL_PATH = "notebooks"


def binder_options(theme_options: dict) -> dict:
    """Thebe's Binder settings from the book's ``repository`` and ``launch_buttons``."""
    parts = urlparse(theme_options.get("repository_url", "")).path.strip("/").split("/")
    if len(parts) != 2:
        raise ValueError(
            f"repository.url must be https://github.com/OWNER/REPO, got "
            f"{theme_options.get('repository_url')!r}"
        )
    launch = theme_options.get("launch_buttons", {})
    return {
        "repo": "/".join(parts),
        "ref": theme_options.get("repository_branch") or "main",
        "binderUrl": launch.get("binderhub_url") or "https://mybinder.org",
        "repoProvider": "github",
    }


def _announce_settings(app: Sphinx, config: Config) -> None:
    # No public JupyterHub fits every reader: the button appears when the builder names one.
    hub = os.environ.get("JUPYTERHUB_URL", "")
    if hub:
        config.html_theme_options.setdefault("launch_buttons", {})["jupyterhub_url"] = hub
    settings = {
        "binder": binder_options(config.html_theme_options),
        "kernel": {"name": "python3", "path": KERNEL_PATH},
    }
    app.add_js_file(None, body=f"window.EODREC_LIVE = {json.dumps(settings)};")


def setup(app: Sphinx) -> dict:
    # sphinx-book-theme shows the button only where this setting exists (sphinx-thebe's name).
    app.add_config_value("thebe_config", {}, "html")
    app.connect("config-inited", _announce_settings)
    app.connect("builder-inited", lambda app: app.config.html_static_path.append(str(STATIC)))
    app.add_js_file("live-code.js")
    app.add_css_file("live-code.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
