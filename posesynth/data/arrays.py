"""Reading ``.npy`` / ``.npz`` data files without pickle, with errors that name the file.

``np.load`` runs the pickle module on anything that is neither an ``.npy`` nor a zip file and on
object arrays; posesynth never allows that for data (a crafted file could run code). Its own
errors also do not name the file ("Cannot load file containing pickled data…", "No data left
in file"). :func:`load_array` and :func:`open_archive` check the file's signature first, load
with ``allow_pickle=False`` and turn every failure into an :class:`ArrayFileError` that names
the file and what was expected.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from posesynth.errors import UserError

_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
_NO_PICKLE = ("posesynth does not unpickle data files (unpickling can run code); store plain numeric arrays "
              "with np.save / np.savez")


class ArrayFileError(UserError):
    """A file that is not the numeric ``.npy``/``.npz`` data expected; the message names it."""


def _checked_path(path: str | os.PathLike, what: str, magics: tuple[bytes, ...]) -> Path:
    """``path`` after checking that it is a non-empty file starting with one of ``magics``."""
    path = Path(path)
    if path.is_dir():
        raise ArrayFileError(f"{path}: is a folder; expected {what}")
    if not path.is_file():
        raise ArrayFileError(f"{path}: no such file; expected {what}")
    with open(path, "rb") as handle:
        head = handle.read(8)
    if not head:
        raise ArrayFileError(f"{path}: empty file (0 bytes); expected {what}")
    if not head.startswith(magics):
        kinds = {_NPY_MAGIC: "an .npy file (a single array)", _ZIP_MAGICS[0]: "an .npz archive (named arrays)"}
        found = next((kind for magic, kind in kinds.items() if head.startswith(magic)),
                     "neither an .npy nor an .npz file (a pickle or a text file?)")
        raise ArrayFileError(f"{path}: {found}; expected {what}")
    return path


def _failure(path: Path, what: str, error: BaseException, key: str | None = None) -> ArrayFileError:
    where = f"{path}" if key is None else f"{path}: array {key!r}"
    if "pickle" in str(error) or "Object arrays" in str(error):
        return ArrayFileError(f"{where} holds Python objects, not numbers; {_NO_PICKLE}")
    return ArrayFileError(f"{where}: unreadable ({type(error).__name__}: {error}); expected {what}")


def load_array(path: str | os.PathLike, what: str = "a numeric .npy array") -> np.ndarray:
    """One ``.npy`` array, read without pickle.

    Raises:
        ArrayFileError naming the file when it is missing, empty, not an ``.npy`` file, holds
        Python objects or is cut off.
    """
    path = _checked_path(path, what, (_NPY_MAGIC,))
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, EOFError, OSError) as error:
        raise _failure(path, what, error) from None


class NpzArrays(Mapping[str, np.ndarray]):
    """An ``.npz`` archive opened without pickle: arrays are read on access, errors name the file and key.

    Use as a context manager (or call :meth:`close`).
    """

    def __init__(self, path: str | os.PathLike, what: str = "a numeric .npz archive"):
        self.path, self.what = _checked_path(path, what, _ZIP_MAGICS), what
        try:
            self._data = np.load(self.path, allow_pickle=False)
        except (ValueError, EOFError, OSError, zipfile.BadZipFile) as error:
            raise _failure(self.path, what, error) from None

    @property
    def files(self) -> list[str]:
        """The array names (nothing is read)."""
        return list(self._data.files)

    def __getitem__(self, key: str) -> np.ndarray:
        if key not in self._data.files:
            raise KeyError(key)
        try:
            return self._data[key]
        except (ValueError, EOFError, OSError, zipfile.BadZipFile) as error:
            raise _failure(self.path, self.what, error, key) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._data.files)

    def __len__(self) -> int:
        return len(self._data.files)

    def close(self) -> None:
        self._data.close()

    def __enter__(self) -> NpzArrays:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_archive(path: str | os.PathLike, what: str = "a numeric .npz archive") -> NpzArrays:
    """An ``.npz`` archive opened without pickle (:class:`NpzArrays`).

    Raises:
        ArrayFileError naming the file when it is missing, empty or not an ``.npz`` archive.
    """
    return NpzArrays(path, what)


__all__ = ["ArrayFileError", "NpzArrays", "load_array", "open_archive"]
