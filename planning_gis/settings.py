"""One settings object, read from environment variables prefixed ``PLANNING_``.

Everything that differs between a laptop, CI and production (database, storage folders, limits,
cache headers, base map) lives here so that no module hard-codes a path or a URL.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import urlsplit

from planning_gis.errors import ConfigurationError

PREFIX = "PLANNING_"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _default_data_dir() -> str:
    return str(PROJECT_ROOT / "var")


def _find_font() -> str:
    for candidate in (
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    ):
        if Path(candidate).exists():
            return candidate
    return ""


@dataclass(frozen=True)
class Settings:
    """Validated configuration; build it with :meth:`from_env`."""

    database_url: str = "postgresql+psycopg://planning:planning@127.0.0.1:5432/planning"
    # Streaming replicas for the public read paths (tiles, OGC API, look-up, search, pages):
    # one URL or several separated by commas or spaces. Empty: every read on the primary.
    read_database_url: str = ""
    # A replica further behind the primary than this (or unreachable) is left out of the reads
    # until it catches up; reads then go to the other replicas or the primary.
    read_max_lag_seconds: int = 10
    # How often each server process checks its replicas (their lag, whether they answer).
    read_check_ms: int = 1000
    # How long a server process reuses a layer's edition it read for a public request (the
    # fast paths' cache key) before reading it again; 0: read it for every request. A public
    # answer may be this much older than the data (a replica's may already be
    # read_max_lag_seconds older, and the API lets any cache keep it for a minute); a planner's
    # request (session cookie) always reads the edition, so they see their own edit at once.
    edition_check_ms: int = 1000
    data_dir: str = field(default_factory=_default_data_dir)
    # Pixels a scan may have before we refuse it (decompression bombs): 40 000 x 30 000.
    max_scan_pixels: int = 1_200_000_000
    max_upload_bytes: int = 2 * 1024**3
    font_path: str = field(default_factory=_find_font)
    font_bold_path: str = ""
    tile_cache_control: str = "public, max-age=3600"
    api_cache_control: str = "public, max-age=60"
    base_map_url: str = ""  # external base map for production; empty: our own offline base
    base_map_attribution: str = ""
    # Where ``import_maps.py publish static`` OUTDIR is served (nginx, object storage, a CDN):
    # the citizen page then reads its vector and sheet tiles from those PMTiles archives with
    # HTTP range requests, and only the look-up, search and lists from the API. Empty: the API.
    static_tiles_url: str = ""
    # Signs the session cookies: no default (a published key lets anyone forge an admin
    # session). PLANNING_SECRET_KEY, or PLANNING_SECRET_KEY_FILE, or <data_dir>/secret_key
    # (the file ./run.sh creates once, mode 0600); create_app refuses to serve without one.
    secret_key: str = ""
    secret_key_file: str = ""
    gdal_cachemax_mb: int = 256
    warp_memory_mb: int = 256
    # Threads for warping scans (OpenCV remap) and for GDAL's compression of the COG.
    warp_threads: int = 2
    # "full", "tiny" (tests) or "city" (Hanoi-size: planning_gis.demo.city_load)
    demo_size: str = "full"
    db_pool_size: int = 8
    # Serving (tiles, OGC API, look-up).
    tile_matrix_set: str = "WebMercatorQuad"  # a morecantile grid identifier
    tile_size: int = 256
    # zlib level of PNG tiles: 3 encodes about 2x faster than GDAL's 6 for ~3 % more bytes.
    png_zlevel: int = 3
    mvt_extent: int = 4096
    mvt_buffer: int = 64
    # Rendered vector tiles kept per server process (MB); 0 renders every request afresh.
    mvt_cache_mb: int = 64
    ogc_default_limit: int = 10
    ogc_max_limit: int = 10000
    # numberMatched is counted up to this many features; past it, it is left out (the count
    # would cost more than the page).
    ogc_count_cap: int = 10000
    cors_allow_origin: str = "*"
    gzip_min_bytes: int = 512
    # zlib-ng's level (the answers' gzip, planning_gis/web/caching.py): 5 made a city look-up's
    # 34 KB 4.0 KB in 0.19 ms, where the standard library's zlib took 0.31 ms for the same size.
    gzip_level: int = 5
    document_url_template: str = "/documents/{id}"
    lookup_max_plot_m2: int = 25_000_000
    # A plot's vertices and rings (holes + parts): a 41 MB polygon held a thread for 13 s.
    lookup_max_plot_vertices: int = 10_000
    lookup_max_plot_rings: int = 100
    # Bodies other than the workspace's multipart uploads (JSON, forms), refused before reading.
    max_json_bytes: int = 1024 * 1024
    # Path + query string; longer is a 414 (below gunicorn's limit_request_line, so JSON).
    max_url_bytes: int = 4096
    # Look-up answers kept per server process (MB), by point and edition, and the plans'
    # document lists; 0: off.
    lookup_cache_mb: int = 32
    # A folder for the caches the worker processes of one server share (an LMDB file each); set
    # by gunicorn_config per server instance. Empty: each process keeps its own.
    shared_cache_dir: str = ""
    # Documents listed per plan in a look-up answer; the rest is linked (the library by plan).
    lookup_documents_per_plan: int = 8
    open_dataset_cache: int = 32
    # Planner's workspace (accounts, uploads, publishing).
    session_cookie_secure: str = "auto"  # "auto" (when served over HTTPS), "always" or "never"
    session_hours: int = 8
    login_max_failures: int = 5
    login_lockout_minutes: int = 15
    # How long an edit of a map sheet waits for another edit of the same sheet before a 409.
    edit_lock_timeout_ms: int = 10_000
    preview_warp_max_px: int = 2048  # longest side of the scan used for the warp preview
    # The ranked search's BM25 index (rebuilt from PostgreSQL when missing; one per node, never
    # on storage shared between nodes). Empty: <data_dir>/search-index.
    search_index_dir: str = ""
    # Two-way exchange with citizens (planning_gis/exchange).
    # The planning-information request's legal deadline, in working days (holidays counted).
    request_deadline_working_days: int = 10
    # The deadline a unit has to answer a citizen's question, in working days.
    question_deadline_working_days: int = 10
    # Characters of a question, comment or answer; longer is a 413.
    citizen_text_max_chars: int = 4000
    # Anonymous posts (questions, comments, requests, reports) per client: per minute, per day.
    citizen_posts_per_minute: int = 5
    citizen_posts_per_day: int = 40
    # Reports ("báo cáo vi phạm") that hide a published item until a moderator looks at it.
    report_hide_threshold: int = 3
    # Contact data (names, e-mails, phones) is erased this many months after the item was
    # closed (``import_maps.py exchange erase-contacts``).
    contact_retention_months: int = 24
    # E-mail: an SMTP server (empty host: messages wait in the outbox until one is set).
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_tls: str = "none"  # "none", "starttls" or "ssl"
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_timeout_s: int = 10
    mail_from: str = "Ban do quy hoach Ha Noi <khong-tra-loi@quyhoach.localhost>"
    # The longest wait between two attempts at one message (seconds; doubling from 5 s).
    mail_retry_max_s: int = 300
    # The site's public address, for the links in e-mails (no request to read it from).
    public_base_url: str = "http://127.0.0.1:8000"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> Settings:
        """Read ``PLANNING_<FIELD>`` variables, convert types, and fail loudly on bad values."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            key = PREFIX + f.name.upper()
            if key not in env:
                continue
            raw = env[key]
            if f.type in ("int", int):
                try:
                    values[f.name] = int(raw)
                except ValueError as exc:
                    raise ConfigurationError(f"{key} must be a whole number, got {raw!r}") from exc
            else:
                values[f.name] = raw
        values.update(overrides)
        if not values.get("secret_key"):
            values["secret_key"] = _read_secret_key(
                str(values.get("secret_key_file") or ""),
                Path(str(values.get("data_dir") or _default_data_dir())) / SECRET_KEY_FILE_NAME)
        settings = cls(**values)  # type: ignore[arg-type]
        if settings.session_cookie_secure not in ("auto", "always", "never"):
            raise ConfigurationError(
                "PLANNING_SESSION_COOKIE_SECURE must be 'auto', 'always' or 'never'")
        if settings.smtp_tls not in ("none", "starttls", "ssl"):
            raise ConfigurationError("PLANNING_SMTP_TLS must be 'none', 'starttls' or 'ssl'")
        if not 1 <= settings.request_deadline_working_days <= 60:
            raise ConfigurationError(
                "PLANNING_REQUEST_DEADLINE_WORKING_DAYS must be between 1 and 60")
        for url in settings.read_database_urls:
            if not url.startswith(("postgresql://", "postgresql+psycopg://")):
                raise ConfigurationError(
                    f"PLANNING_READ_DATABASE_URL holds {url.split('@')[-1]!r}, which is no"
                    " postgresql:// URL")
        if settings.read_max_lag_seconds < 0 or settings.read_check_ms < 50:
            raise ConfigurationError("PLANNING_READ_MAX_LAG_SECONDS must be >= 0 and"
                                     " PLANNING_READ_CHECK_MS >= 50")
        static = settings.static_tiles_url
        if static and (any(c in static for c in " \t\n;,'\"<>") or not (
                static.startswith("/") and not static.startswith("//")
                or urlsplit(static).scheme in ("http", "https") and urlsplit(static).netloc)):
            raise ConfigurationError(
                "PLANNING_STATIC_TILES_URL must be a path on this site (/static-tiles) or an"
                " http(s):// URL")
        if settings.demo_size not in ("full", "tiny", "city"):
            raise ConfigurationError("PLANNING_DEMO_SIZE must be 'full', 'tiny' or 'city'")
        return settings

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)

    @property
    def scans_dir(self) -> Path:
        return self.data_path / "scans"

    @property
    def cogs_dir(self) -> Path:
        return self.data_path / "cogs"

    @property
    def previews_dir(self) -> Path:
        """Unwarped-scan previews (COG in pixel space, thumbnails) and warp previews."""
        return self.data_path / "previews"

    @property
    def documents_dir(self) -> Path:
        return self.data_path / "documents"

    @property
    def search_index_path(self) -> Path:
        return Path(self.search_index_dir) if self.search_index_dir else (
            self.data_path / "search-index")

    @property
    def bold_font(self) -> str:
        if self.font_bold_path:
            return self.font_bold_path
        if self.font_path:
            bold = Path(self.font_path).with_name(Path(self.font_path).stem + "-Bold.ttf")
            if bold.exists():
                return str(bold)
        return self.font_path

    @property
    def gdal_cachemax_bytes(self) -> int:
        """GDAL_CACHEMAX as rasterio.Env needs it: an int there is a number of *bytes*.

        (GDAL itself reads a bare "256" as megabytes; rasterio hands its int to GDALSetCacheMax64.
        Passing the megabytes gave GDAL a 256-byte block cache, and tile reads were 12x slower.)
        """
        return self.gdal_cachemax_mb * 1024 * 1024

    @property
    def read_database_urls(self) -> tuple[str, ...]:
        """The replicas' URLs (none when PLANNING_READ_DATABASE_URL is unset)."""
        return tuple(u for u in self.read_database_url.replace(",", " ").split() if u)

    @property
    def sync_database_url(self) -> str:
        """The URL for libpq tools (psql, ogr2ogr): no SQLAlchemy driver suffix."""
        return self.database_url.replace("postgresql+psycopg://", "postgresql://", 1)


#: The key file's name under the data folder (where ./run.sh keeps the key it generates).
SECRET_KEY_FILE_NAME = "secret_key"
#: Shortest key accepted: 32 characters of secrets.token_urlsafe are 192 bits.
MIN_SECRET_KEY_CHARS = 32
SECRET_KEY_HINT = ("generate one with `python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
                   " and set PLANNING_SECRET_KEY or PLANNING_SECRET_KEY_FILE (./run.sh keeps one"
                   " in $PLANNING_DATA_DIR/secret_key, mode 0600)")


def _read_secret_key(explicit_file: str, default_file: Path) -> str:
    """The key from PLANNING_SECRET_KEY_FILE (which must be readable) or, failing that, from
    the data folder's key file when there is one; "" otherwise (create_app then refuses)."""
    path = Path(explicit_file) if explicit_file else default_file
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        if explicit_file:
            raise ConfigurationError(f"PLANNING_SECRET_KEY_FILE {explicit_file} does not exist",
                                     message_vi=f"Không có tệp khóa bí mật {explicit_file}."
                                     ) from None
        return ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"the secret key file {path} cannot be read: {exc}",
                                 message_vi=f"Không đọc được tệp khóa bí mật {path}.") from exc


def check_secret_key(key: str) -> None:
    """Refuse to sign sessions with an empty, short or trivial key.

    Why here and not a default: the key signs the session cookie, so whoever knows it can sign
    themselves an admin session. A key in the repository (as there once was) is known to all.
    """
    if not key:
        raise ConfigurationError(
            f"no secret key to sign sessions: {SECRET_KEY_HINT}",
            message_vi="Chưa có khóa bí mật để ký phiên đăng nhập (PLANNING_SECRET_KEY).")
    if len(key) < MIN_SECRET_KEY_CHARS or len(set(key)) < 8:
        raise ConfigurationError(
            f"the secret key is too weak (it must have at least {MIN_SECRET_KEY_CHARS} random"
            f" characters; this one has {len(key)}): {SECRET_KEY_HINT}",
            message_vi=f"Khóa bí mật quá yếu: cần ít nhất {MIN_SECRET_KEY_CHARS} ký tự ngẫu"
                       " nhiên (PLANNING_SECRET_KEY).")


_settings: Settings | None = None


def get_settings() -> Settings:
    """The process-wide settings, read once."""
    global _settings
    if _settings is None:
        _settings = Settings.from_env()
    return _settings


def reset_settings() -> None:
    """Forget the cached settings (tests change the environment)."""
    global _settings
    _settings = None
