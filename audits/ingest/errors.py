"""The one error every evidence parser raises: what failed, in plain words, and where."""

from __future__ import annotations


class IngestError(Exception):
    """An evidence file cannot be imported.

    `message` is for the person who uploaded the file; `record` is the line (line-based formats)
    or the 1-based sample record (JSON, zip) where the problem was found, when there is one;
    `code` is stable and machine-readable (empty, too_large, truncated, zip_bomb, encoding,
    malformed, missing_column, wrong_format, duplicate_id, unknown_label, no_samples,
    unsupported).
    """

    def __init__(
        self,
        message: str,
        *,
        record: int | None = None,
        unit: str = "record",
        code: str = "invalid",
    ) -> None:
        self.message = message
        self.record = record
        self.unit = unit
        self.code = code
        super().__init__(str(self))

    @property
    def where(self) -> str | None:
        return f"{self.unit} {self.record}" if self.record is not None else None

    def __str__(self) -> str:
        return f"{self.message} ({self.where})" if self.where else self.message
