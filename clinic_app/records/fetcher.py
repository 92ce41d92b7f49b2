"""WeasyPrint's URL fetcher for the PDFs: the app's own static files, nothing else (no network,
no other file). Imported only when a PDF is made (render.py)."""

import mimetypes
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from weasyprint.urls import URLFetcher, URLFetcherResponse
from werkzeug.security import safe_join

from clinic_app.records.render import BASE_URL, STATIC_PREFIX


class StaticFilesOnly(URLFetcher):
    """Serves the app's static files for BASE_URL/static/...; refuses every other URL."""

    def __init__(self, static_folder: str) -> None:
        super().__init__(allowed_protocols=["https"], allow_redirects=False)
        self._root = static_folder

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}/" != BASE_URL or not parts.path.startswith(
            STATIC_PREFIX
        ):
            raise ValueError("only the app's static files are fetched")
        path = safe_join(self._root, unquote(parts.path.removeprefix(STATIC_PREFIX)))
        if path is None or not Path(path).is_file():
            raise ValueError("no such static file")
        kind = mimetypes.guess_type(path)[0] or "application/octet-stream"
        return URLFetcherResponse(url, Path(path).read_bytes(), {"Content-Type": kind})
