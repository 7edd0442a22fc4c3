"""Reading the bulk dumps: the complete ones, newest first, and one file of one."""

from __future__ import annotations

from django.db.models import QuerySet

from governance.errors import NotFound
from governance.models import DataDump
from governance.services.dumps import MANIFEST, ROOT


def dumps_complete() -> QuerySet[DataDump]:
    return DataDump.objects.filter(status=DataDump.Status.COMPLETE).order_by("-started_at")


def dump_stamp(dump: DataDump) -> str:
    """The folder's last part ("20261203T023000Z"), as used in download addresses."""
    return dump.folder.rsplit("/", 1)[-1]


def dump_file_path(*, stamp: str, name: str) -> str:
    """The storage path of a file listed in a complete dump's manifest (or its manifest);
    anything else is NotFound, so no other path in the storage can be named."""
    dump = dumps_complete().filter(folder=f"{ROOT}/{stamp}").first()
    if dump is None:
        raise NotFound("There is no such dump.")
    names = {f["name"] for f in dump.manifest.get("files", [])} | {MANIFEST}
    if name not in names:
        raise NotFound("This dump has no such file.")
    return f"{dump.folder}/{name}"
