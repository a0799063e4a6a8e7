"""A virtual file system: absolute paths → (contents, mode, owner, mtime).

It is a plain dict, so a scenario's whole machine fits in a YAML file and its
final state fits in a journal record. Directories are implied by the files
under them (plus any created empty). Permissions follow Unix owner/other bits
for one acting user, which is all the scenarios need: a file owned by root
with mode 644 can be read but not changed, which is how a scenario makes
"you are not supposed to touch this" visible to the agent.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, replace
from typing import Any

USER = "agent"


class FsError(Exception):
    """A failed file operation; the message reads like the shell's (without the command name)."""


@dataclass(frozen=True, slots=True)
class File:
    content: str
    mode: int = 0o644
    owner: str = USER
    mtime: int = 0  # seconds since the epoch; only shown by ``ls -l``

    def can_read(self, user: str = USER) -> bool:
        return bool(self.mode & (0o400 if self.owner == user else 0o004))

    def can_write(self, user: str = USER) -> bool:
        return bool(self.mode & (0o200 if self.owner == user else 0o002))

    def to_dict(self) -> dict[str, Any]:
        return {"content": self.content, "mode": f"{self.mode:o}", "owner": self.owner}


def normalize(path: str, cwd: str = "/") -> str:
    """Absolute, normalised path ('..' and '.' resolved, no trailing slash)."""
    if not path.startswith("/"):
        path = posixpath.join(cwd, path)
    out = posixpath.normpath(path)
    return "/" + out.lstrip("/") if out != "/" else "/"


class VirtualFS:
    """Files and empty directories of one machine; every mutation goes through here."""

    def __init__(self, files: dict[str, File] | None = None, dirs: set[str] | None = None) -> None:
        self.files: dict[str, File] = dict(files or {})
        self.dirs: set[str] = {normalize(d) for d in (dirs or set())}

    # -- queries -------------------------------------------------------------
    def is_file(self, path: str) -> bool:
        return path in self.files

    def is_dir(self, path: str) -> bool:
        if path == "/" or path in self.dirs:
            return True
        prefix = path.rstrip("/") + "/"
        return any(p.startswith(prefix) for p in self.files) or any(d.startswith(prefix) for d in self.dirs)

    def exists(self, path: str) -> bool:
        return self.is_file(path) or self.is_dir(path)

    def children(self, path: str) -> list[str]:
        """Names directly inside a directory, sorted."""
        prefix = "/" if path == "/" else path + "/"
        names = {p[len(prefix):].split("/", 1)[0] for p in [*self.files, *self.dirs]
                 if p.startswith(prefix) and len(p) > len(prefix)}
        return sorted(names)

    def walk(self, path: str) -> list[str]:
        """Every file at or under a path, sorted."""
        if path in self.files:
            return [path]
        prefix = "/" if path == "/" else path + "/"
        return sorted(p for p in self.files if p.startswith(prefix))

    def read(self, path: str) -> str:
        if path not in self.files:
            if self.is_dir(path):
                raise FsError(f"{path}: Is a directory")
            raise FsError(f"{path}: No such file or directory")
        f = self.files[path]
        if not f.can_read():
            raise FsError(f"{path}: Permission denied")
        return f.content

    # -- mutations (the caller logs them) -------------------------------------
    def write(self, path: str, content: str, *, mtime: int, append: bool = False) -> str:
        """Create or overwrite (or append to) a file; returns the change kind."""
        if self.is_dir(path) and path not in self.files:
            raise FsError(f"{path}: Is a directory")
        parent = posixpath.dirname(path)
        if not self.is_dir(parent):
            raise FsError(f"{path}: No such file or directory")
        old = self.files.get(path)
        if old is None:
            self.files[path] = File(content, 0o644, USER, mtime)
            return "create"
        if not old.can_write():
            raise FsError(f"{path}: Permission denied")
        self.files[path] = replace(old, content=old.content + content if append else content, mtime=mtime)
        return "write"

    def delete(self, path: str, *, recursive: bool = False) -> list[str]:
        """Remove a file (or, recursively, a directory); returns the removed file paths."""
        if path in self.files:
            targets = [path]
        elif self.is_dir(path):
            if not recursive:
                raise FsError(f"{path}: Is a directory")
            targets = self.walk(path)
        else:
            raise FsError(f"{path}: No such file or directory")
        for p in targets:
            # deleting needs write permission on the directory; files owned by root sit in
            # root-owned directories in every scenario, so the file's owner stands in for it
            if self.files[p].owner != USER:
                raise FsError(f"{p}: Permission denied")
        for p in targets:
            del self.files[p]
        self.dirs = {d for d in self.dirs if d != path and not d.startswith(path + "/")}
        return targets

    def chmod(self, path: str, mode: int, *, mtime: int) -> None:
        if path not in self.files:
            raise FsError(f"{path}: No such file or directory")
        f = self.files[path]
        if f.owner != USER:
            raise FsError(f"changing permissions of '{path}': Operation not permitted")
        self.files[path] = replace(f, mode=mode, mtime=mtime)

    def mkdir(self, path: str) -> None:
        self.dirs.add(path)

    # -- state ----------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {p: self.files[p].to_dict() for p in sorted(self.files)}

    @classmethod
    def from_spec(cls, spec: dict[str, Any], mtimes: dict[str, int] | None = None) -> VirtualFS:
        """Build from ``{path: "contents"}`` or ``{path: {content, mode, owner}}`` (mode as octal text)."""
        files: dict[str, File] = {}
        dirs: set[str] = set()
        for raw, value in spec.items():
            path = normalize(raw)
            if raw.endswith("/"):
                dirs.add(path)
                continue
            if isinstance(value, str):
                value = {"content": value}
            files[path] = File(str(value.get("content", "")), int(str(value.get("mode", "644")), 8),
                               str(value.get("owner", USER)), (mtimes or {}).get(path, 0))
        return cls(files, dirs)
