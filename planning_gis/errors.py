"""Domain errors: one base class, one small subclass per failure.

The library knows nothing of HTTP; ``planning_gis.web.errors`` maps these classes to status codes in
one place, and the CLI prints ``str(error)`` as its one-line message.
"""

from __future__ import annotations

from planning_gis.messages import translate


class PlanningError(Exception):
    """Base of every error this project raises on purpose."""

    code = "planning_error"

    def __init__(self, message: str, *, message_vi: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        # Without a Vietnamese text from the raiser, the message catalogue gives one (the
        # engine's English sentences are matched there); failing that, the English stays.
        self.message_vi = message_vi or translate(message) or message


class ConfigurationError(PlanningError):
    code = "configuration"


class InvalidInput(PlanningError):
    """A request or file that cannot be understood (a 400)."""

    code = "invalid_input"


class NotFound(PlanningError):
    code = "not_found"


class UnknownCRS(InvalidInput):
    code = "unknown_crs"


class OutsideHanoi(InvalidInput):
    """A coordinate that falls outside Hanoi in every axis reading we accept."""

    code = "outside_hanoi"


class OutsideArea(InvalidInput):
    """Control points outside the area of use of their (non-Vietnamese) CRS in both readings."""

    code = "outside_area_of_use"


class InvalidTile(InvalidInput):
    """A z/x/y that is not a number or lies outside the tile grid."""

    code = "invalid_tile"


class InvalidBBox(InvalidInput):
    code = "invalid_bbox"


class UnknownParameter(InvalidInput):
    """A query parameter the endpoint does not know (OGC API asks for a 400, not silence)."""

    code = "unknown_parameter"


class InvalidGeometry(InvalidInput):
    code = "invalid_geometry"


class ConstraintViolation(InvalidInput):
    """A row the database refused (check constraint, unknown code, duplicate)."""

    code = "constraint_violation"


class MissingFile(InvalidInput):
    """A file the client or the operator named that is not there (a 400, exit 2 in the CLI)."""

    code = "missing_file"


class TooLarge(PlanningError):
    """An upload or scan over the configured limits (a 413)."""

    code = "too_large"


class TileOutsideBounds(PlanningError):
    """No data for this tile: the tile lies outside the layer. A 204 with no body, as for an
    empty vector tile: map clients draw nothing and keep asking neighbours; never an error page."""

    code = "tile_outside_bounds"


class Forbidden(PlanningError):
    code = "forbidden"


class Unauthorized(PlanningError):
    code = "unauthorized"


class Conflict(PlanningError):
    code = "conflict"


class EditConflict(Conflict):
    """Someone else's edit of the same thing holds it longer than we wait (or the database broke
    a deadlock by cancelling ours): nothing of this request was written; the client may retry."""

    code = "edit_conflict"


class GeoreferenceError(InvalidInput):
    """Control points or a transformation that cannot give a trustworthy fit."""

    code = "georeference"


class NotEnoughControlPoints(GeoreferenceError):
    code = "not_enough_control_points"


class CorruptImage(InvalidInput):
    """A scan that cannot be decoded (truncated, corrupt, or a PDF page without an image)."""

    code = "corrupt_image"


class ImageTooLarge(TooLarge):
    """A scan with more pixels than ``max_scan_pixels`` (decompression-bomb guard)."""

    code = "image_too_large"


class UnsafeFile(InvalidInput):
    """An uploaded file that is not plainly the format its type says (a VRT inside a .json, a
    zip member that is a link or leaves its folder, content that names other files or URLs)."""

    code = "unsafe_file"


class StorageUnavailable(PlanningError):
    """The server cannot write its data folder (read-only, full): a 5xx, the client is not to
    blame, and the message names no server path."""

    code = "storage_unavailable"


class StoredFileUnreadable(StorageUnavailable):
    """A file the service wrote itself (a sheet's COG, a document in the store) is missing or
    cannot be read: a fault on our side (a 500 with a logged reference), never the client's 4xx."""

    code = "stored_file_unreadable"


class NotReadyYet(PlanningError):
    """Derived data the answer needs is still being built (the text index of a large library
    on a new node): a 503 with Retry-After, the client is not to blame and may try again."""

    code = "not_ready"
    retry_after = 30


class ZonesRejected(InvalidInput):
    """A zones file that was read but does not pass the checks (the report says why): a 422."""

    code = "zones_rejected"


class RateLimited(PlanningError):
    """Too many posts from one client in a window (a 429 with Retry-After)."""

    code = "rate_limited"

    def __init__(self, message: str, *, message_vi: str | None = None,
                 retry_after: int = 60) -> None:
        super().__init__(message, message_vi=message_vi)
        self.retry_after = retry_after


class SpamSuspected(InvalidInput):
    """A form whose hidden honeypot field was filled in: a robot, not a citizen."""

    code = "spam_suspected"


class WindowClosed(Conflict):
    """A comment on a consultation outside its window (not yet open, or closed)."""

    code = "consultation_closed"
