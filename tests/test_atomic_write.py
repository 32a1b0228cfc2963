"""The one atomic-write helper (core's, also the app's: it is torch-free): the target is whole or
untouched when a write fails midway, and no temp file is left behind."""
from __future__ import annotations

import pytest

from core.files import atomic_write



class _DiskFull(OSError):
    pass


def _fails_midway(fh) -> None:
    fh.write(b"half of the new ")
    raise _DiskFull("no space left")


def test_bytes_and_a_write_function_both_land_whole(tmp_path):
    target = tmp_path / "deeper" / "m.bin"  # the folder is made
    assert atomic_write(target, b"first") == target and target.read_bytes() == b"first"
    atomic_write(str(target), lambda fh: fh.write(b"second"))
    assert target.read_bytes() == b"second"
    assert sorted(p.name for p in target.parent.iterdir()) == ["m.bin"]


def test_a_write_that_fails_midway_leaves_the_old_file_whole_and_no_temp_file(tmp_path):
    target = tmp_path / "m.bin"
    target.write_bytes(b"the old, good content")
    with pytest.raises(_DiskFull):
        atomic_write(target, _fails_midway)
    assert target.read_bytes() == b"the old, good content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.bin"]


def test_a_write_that_fails_midway_leaves_no_file_where_there_was_none(tmp_path):
    with pytest.raises(_DiskFull):
        atomic_write(tmp_path / "new.bin", _fails_midway)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_rename_removes_the_temp_file(tmp_path):
    target = tmp_path / "taken"
    target.mkdir()
    (target / "x").write_bytes(b"")  # a non-empty folder: os.replace onto it fails
    with pytest.raises(OSError):
        atomic_write(target, b"data")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]
