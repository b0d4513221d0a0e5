"""The content/ tree as a zip archive, built in a temporary file that is then streamed."""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Iterable
from typing import IO

from portal.exports.markdown_tree import TreeFile


def write_zip(files: Iterable[TreeFile], root: str) -> IO[bytes]:
    """A temporary file (deleted when closed) holding `files` under the folder `root`,
    rewound for reading."""
    # Returned open: whoever sends it closes it (and so deletes it).
    archive = tempfile.TemporaryFile(prefix="echri-export-", suffix=".zip")  # noqa: SIM115
    try:
        with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
            for file in files:
                name = f"{root}/{file.path}"
                if file.source is not None:
                    zipped.write(file.source, name)
                else:
                    zipped.writestr(name, file.data or b"")
    except BaseException:
        archive.close()
        raise
    archive.seek(0)
    return archive
