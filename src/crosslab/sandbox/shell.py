"""A small bash over the World: a whitelist of commands, answered the way bash answers.

Supported: ls, cat, head, grep, sed (``s///`` and ``/re/d``, with or without -i),
echo, cp, mv, rm, chmod, scp (``host:path`` on either side), plus the
builtins cd and pwd; ``>`` and ``>>`` redirections, pipes into cat/head/grep/sed,
and ``;`` / ``&&`` / ``||`` sequencing. Anything else gets bash's own
"command not found" (exit 127), so an agent cannot tell it is not a real shell
from the error alone, and a scenario never executes real code.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass

from crosslab.sandbox.vfs import FsError, VirtualFS, normalize
from crosslab.sandbox.world import BASE_TIME, LOCAL, World

WHITELIST = ("ls", "cat", "head", "grep", "sed", "echo", "cp", "mv", "rm", "chmod", "scp", "cd", "pwd")
_OPERATORS = {";", "&&", "||", "|", ">", ">>"}


@dataclass(slots=True)
class Result:
    out: str = ""
    err: str = ""
    code: int = 0


class ShellSyntaxError(Exception):
    pass


def tokenize(line: str) -> list[str]:
    """Split a command line into words and operators (quotes respected)."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|>")
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        tokens = list(lexer)
    except ValueError as exc:  # "No closing quotation"
        raise ShellSyntaxError("unexpected EOF while looking for matching quote") from exc
    for t in tokens:
        if set(t) <= set(";&|>") and t not in _OPERATORS:
            raise ShellSyntaxError(f"syntax error near unexpected token `{t}'")
    return tokens


class Shell:
    def __init__(self, world: World) -> None:
        self.world = world
        self.commands: dict[str, Callable[[list[str], str | None], Result]] = {
            name: getattr(self, f"_{name}") for name in WHITELIST}

    # -- driver ---------------------------------------------------------------
    def run(self, line: str) -> tuple[str, int]:
        """Run one command line; returns (output as a terminal would show it, exit status)."""
        try:
            tokens = tokenize(line)
        except ShellSyntaxError as exc:
            return f"bash: {exc}", 2
        segments: list[tuple[str, list[str]]] = []
        op, current = ";", []
        for t in tokens:
            if t in (";", "&&", "||"):
                if not current:
                    return f"bash: syntax error near unexpected token `{t}'", 2
                segments.append((op, current))
                op, current = t, []
            else:
                current.append(t)
        if current:
            segments.append((op, current))
        elif op != ";":
            return "bash: syntax error: unexpected end of file", 2
        output: list[str] = []
        status = 0
        for op, segment in segments:
            if op == "&&" and status != 0 or op == "||" and status == 0:
                continue
            try:
                res = self._pipeline(segment)
            except ShellSyntaxError as exc:
                res = Result(err=f"bash: {exc}", code=2)
            output.extend(x for x in (res.out.rstrip("\n"), res.err.rstrip("\n")) if x)
            status = res.code
        return "\n".join(output), status

    def _pipeline(self, tokens: list[str]) -> Result:
        parts, stdin = _split(tokens, "|"), None
        res = Result()
        errors: list[str] = []
        for part in parts:
            if not part:
                raise ShellSyntaxError("syntax error near unexpected token `|'")
            res = self._simple(part, stdin)
            if res.err:
                errors.append(res.err.rstrip("\n"))
            stdin = res.out
        return Result(res.out, "\n".join(errors), res.code)

    def _simple(self, tokens: list[str], stdin: str | None) -> Result:
        words, target, append = [], None, False
        i = 0
        while i < len(tokens):
            t = tokens[i]
            if t in (">", ">>"):
                if i + 1 >= len(tokens) or tokens[i + 1] in _OPERATORS:
                    raise ShellSyntaxError("syntax error near unexpected token `newline'")
                if words and words[-1] == "2":  # 2>/dev/null and friends: drop stderr
                    words.pop()
                    i += 2
                    continue
                target, append = tokens[i + 1], t == ">>"
                i += 2
                continue
            words.append(t)
            i += 1
        if not words:
            return Result()
        words = [words[0], *self._glob(words[1:])]
        name, args = words[0], words[1:]
        if name not in self.commands:
            return Result(err=f"bash: {name}: command not found", code=127)
        res = self.commands[name](args, stdin)
        if target is not None and target != "/dev/null":
            path = self._path(target)
            try:
                kind = self.world.fs.write(path, res.out, mtime=self.world.now(), append=append)
                self.world.record(kind if not append else "append", path)
            except FsError as exc:
                return Result(err=f"bash: {exc}", code=1)
            res = Result("", res.err, res.code)
        elif target == "/dev/null":
            res = Result("", res.err, res.code)
        return res

    # -- helpers ----------------------------------------------------------------
    def _path(self, raw: str) -> str:
        return normalize(raw.replace("~", "/home/agent", 1) if raw.startswith("~") else raw, self.world.cwd)

    def _glob(self, args: list[str]) -> list[str]:
        out = []
        for a in args:
            if ("*" in a or "?" in a) and not a.startswith("-") and ":" not in a:
                pattern = self._path(a)
                directory = posixpath.dirname(pattern)
                hits = [posixpath.join(directory, n) for n in self.world.fs.children(directory)
                        if fnmatch.fnmatchcase(n, posixpath.basename(pattern)) and not n.startswith(".")]
                out.extend(sorted(hits) if hits else [a])
            else:
                out.append(a)
        return out

    @staticmethod
    def _flags(args: list[str], allowed: str) -> tuple[set[str], list[str], str | None]:
        """Split single-letter flags from operands; returns (flags, operands, bad flag)."""
        flags: set[str] = set()
        rest: list[str] = []
        for a in args:
            if a.startswith("-") and len(a) > 1 and not rest:
                for ch in a[1:]:
                    if ch not in allowed:
                        return flags, rest, ch
                    flags.add(ch)
            else:
                rest.append(a)
        return flags, rest, None

    def _read(self, cmd: str, raw: str) -> tuple[str | None, str]:
        try:
            return self.world.fs.read(self._path(raw)), ""
        except FsError as exc:
            return None, f"{cmd}: {_relabel(exc, raw)}"

    # -- commands ---------------------------------------------------------------
    def _pwd(self, args: list[str], stdin: str | None) -> Result:
        return Result(self.world.cwd + "\n")

    def _cd(self, args: list[str], stdin: str | None) -> Result:
        path = self._path(args[0] if args else "/home/agent")
        if not self.world.fs.is_dir(path):
            return Result(err=f"bash: cd: {args[0]}: No such file or directory", code=1)
        self.world.cwd = path
        return Result()

    def _ls(self, args: list[str], stdin: str | None) -> Result:
        flags, paths, bad = self._flags(args, "laAh1R")
        if bad:
            return Result(err=f"ls: invalid option -- '{bad}'", code=2)
        fs, out, errs = self.world.fs, [], []
        targets = paths or ["."]
        for raw in targets:
            path = self._path(raw)
            if fs.is_file(path):
                out.append(self._ls_line(path, raw) if "l" in flags else raw)
            elif fs.is_dir(path):
                out.extend(self._ls_dir(path, raw, flags, header=len(targets) > 1 or "R" in flags))
            else:
                errs.append(f"ls: cannot access '{raw}': No such file or directory")
        return Result("\n".join(out) + ("\n" if out else ""), "\n".join(errs), 2 if errs else 0)

    def _ls_dir(self, path: str, shown: str, flags: set[str], *, header: bool) -> list[str]:
        fs = self.world.fs
        names = [n for n in fs.children(path) if "a" in flags or "A" in flags or not n.startswith(".")]
        if "l" in flags:
            body = [f"total {len(names)}"] + [self._ls_line(posixpath.join(path, n), n) for n in names]
        else:
            body = names if "1" in flags else (["  ".join(names)] if names else [])
        lines = ([f"{shown}:"] if header else []) + body
        if "R" in flags:
            for n in names:
                sub = posixpath.join(path, n)
                if fs.is_dir(sub) and not fs.is_file(sub):
                    lines += ["", *self._ls_dir(sub, posixpath.join(shown, n), flags, header=True)]
        return lines

    def _ls_line(self, path: str, name: str) -> str:
        fs = self.world.fs
        if fs.is_file(path):
            f = fs.files[path]
            kind, mode, owner, size, mtime = "-", f.mode, f.owner, len(f.content.encode()), f.mtime
        else:
            kind, mode, owner, size, mtime = "d", 0o755, "agent", 4096, max(
                [fs.files[p].mtime for p in fs.walk(path)] or [BASE_TIME])
        bits = "".join(ch if mode & (1 << (8 - i)) else "-" for i, ch in enumerate("rwxrwxrwx"))
        stamp = time.strftime("%b %e %H:%M", time.gmtime(mtime))
        return f"{kind}{bits} 1 {owner} {owner} {size:>6} {stamp} {name}"

    def _cat(self, args: list[str], stdin: str | None) -> Result:
        flags, paths, bad = self._flags(args, "n")
        if bad:
            return Result(err=f"cat: invalid option -- '{bad}'", code=1)
        if not paths:
            return Result(stdin or "")
        out, errs = [], []
        for raw in paths:
            text, err = self._read("cat", raw)
            if text is None:
                errs.append(err)
            else:
                out.append(text if text.endswith("\n") or not text else text + "\n")
        return Result("".join(out), "\n".join(errs), 1 if errs else 0)

    def _head(self, args: list[str], stdin: str | None) -> Result:
        n, paths, i = 10, [], 0
        while i < len(args):
            a = args[i]
            if a == "-n" and i + 1 < len(args):
                if not args[i + 1].isdigit():
                    return Result(err=f"head: invalid number of lines: '{args[i + 1]}'", code=1)
                n, i = int(args[i + 1]), i + 2
                continue
            if re.fullmatch(r"-n?\d+", a):
                n = int(a.lstrip("-n"))
            elif a.startswith("-"):
                return Result(err=f"head: invalid option -- '{a[1:2]}'", code=1)
            else:
                paths.append(a)
            i += 1
        if not paths:
            return Result("".join((stdin or "").splitlines(keepends=True)[:n]))
        out, errs = [], []
        for raw in paths:
            text, err = self._read("head", raw)
            if text is None:
                errs.append(err.replace("head: ", "head: cannot open '" + raw + "' for reading: ", 1)
                            .replace(f"{self._path(raw)}: ", ""))
                continue
            if len(paths) > 1:
                out.append(f"==> {raw} <==\n")
            out.append("".join(text.splitlines(keepends=True)[:n]))
        return Result("".join(out), "\n".join(errs), 1 if errs else 0)

    def _grep(self, args: list[str], stdin: str | None) -> Result:
        flags, rest, bad = self._flags(args, "inrvlcEFH")
        if bad:
            return Result(err=f"grep: invalid option -- '{bad}'", code=2)
        if not rest:
            return Result(err="Usage: grep [OPTION]... PATTERNS [FILE]...", code=2)
        pattern, paths = rest[0], rest[1:]
        try:
            regex = re.compile(re.escape(pattern) if "F" in flags else pattern, re.I if "i" in flags else 0)
        except re.error:
            regex = re.compile(re.escape(pattern), re.I if "i" in flags else 0)
        sources: list[tuple[str, str]] = []
        errs: list[str] = []
        if not paths:
            sources.append(("(standard input)", stdin or ""))
        for raw in paths:
            path = self._path(raw)
            if self.world.fs.is_dir(path) and not self.world.fs.is_file(path):
                if "r" not in flags:
                    errs.append(f"grep: {raw}: Is a directory")
                    continue
                files = [(posixpath.join(raw, p[len(path) + 1:]) if path != "/" else p, p)
                         for p in self.world.fs.walk(path)]
            else:
                files = [(raw, path)]
            for shown, p in files:
                try:
                    sources.append((shown, self.world.fs.read(p)))
                except FsError as exc:
                    errs.append(f"grep: {_relabel(exc, shown)}")
        many = len(sources) > 1 or "r" in flags or "H" in flags
        out, matched = [], False
        for shown, text in sources:
            count = 0
            for number, line in enumerate(text.splitlines(), 1):
                if bool(regex.search(line)) != ("v" in flags):
                    count += 1
                    if "l" in flags or "c" in flags:
                        continue
                    prefix = (f"{shown}:" if many else "") + (f"{number}:" if "n" in flags else "")
                    out.append(prefix + line)
            matched = matched or count > 0
            if "l" in flags and count:
                out.append(shown)
            if "c" in flags:
                out.append((f"{shown}:" if many else "") + str(count))
        code = 2 if errs and not matched else (0 if matched else 1)
        return Result("\n".join(out) + ("\n" if out else ""), "\n".join(errs), code)

    def _sed(self, args: list[str], stdin: str | None) -> Result:
        in_place, script, paths, i = False, None, [], 0
        while i < len(args):
            a = args[i]
            if a.startswith("-i"):
                in_place = True
            elif a == "-e" and i + 1 < len(args):
                script, i = args[i + 1], i + 1
            elif a.startswith("-") and a != "-":
                return Result(err=f"sed: invalid option -- '{a[1:2]}'", code=1)
            elif script is None:
                script = a
            else:
                paths.append(a)
            i += 1
        if script is None:
            return Result(err="Usage: sed [OPTION]... {script-only-if-no-other-script} [input-file]...", code=1)
        try:
            edit = _sed_program(script)
        except ValueError as exc:
            return Result(err=f"sed: -e expression #1, char {len(script)}: {exc}", code=1)
        if not paths:
            if in_place:
                return Result(err="sed: no input files", code=1)
            return Result(edit(stdin or ""))
        out, errs = [], []
        for raw in paths:
            text, err = self._read("sed", raw)
            if text is None:
                errs.append(err.replace("sed: ", "sed: can't read ", 1))
                continue
            new = edit(text)
            if not in_place:
                out.append(new)
                continue
            path = self._path(raw)
            if new != text:
                try:
                    self.world.fs.write(path, new, mtime=self.world.now())
                except FsError:
                    errs.append(f"sed: couldn't open temporary file {posixpath.dirname(path)}/sedXYZ: "
                                "Permission denied")
                    continue
                self.world.record("write", path)
        return Result("".join(out), "\n".join(errs), 4 if errs else 0)

    def _echo(self, args: list[str], stdin: str | None) -> Result:
        newline = True
        while args and args[0] in ("-n", "-e", "-ne", "-en"):
            newline = newline and "n" not in args[0][1:]
            if "e" in args[0][1:]:
                args = [args[0], *(a.replace("\\n", "\n").replace("\\t", "\t") for a in args[1:])]
            args = args[1:]
        return Result(" ".join(args) + ("\n" if newline else ""))

    def _cp(self, args: list[str], stdin: str | None) -> Result:
        return self._copy_or_move("cp", args, move=False)

    def _mv(self, args: list[str], stdin: str | None) -> Result:
        return self._copy_or_move("mv", args, move=True)

    def _copy_or_move(self, cmd: str, args: list[str], *, move: bool) -> Result:
        flags, paths, bad = self._flags(args, "rRfpv" if not move else "fv")
        if bad:
            return Result(err=f"{cmd}: invalid option -- '{bad}'", code=1)
        if len(paths) < 2:
            return Result(err=f"{cmd}: missing destination file operand after '{paths[0] if paths else ''}'"
                          if paths else f"{cmd}: missing file operand", code=1)
        fs, errs = self.world.fs, []
        *sources, dest_raw = paths
        dest = self._path(dest_raw)
        for raw in sources:
            src = self._path(raw)
            if not fs.exists(src):
                errs.append(f"{cmd}: cannot stat '{raw}': No such file or directory")
                continue
            if fs.is_dir(src) and not fs.is_file(src) and not move and not flags & {"r", "R"}:
                errs.append(f"cp: -r not specified; omitting directory '{raw}'")
                continue
            try:
                pairs = _pairs(fs, src, fs, dest)
            except FsError as exc:
                errs.append(f"{cmd}: cannot create regular file '{dest_raw}': {str(exc).split(': ', 1)[-1]}")
                continue
            for s, d in pairs:
                try:
                    content = fs.read(s)
                    if not fs.is_dir(posixpath.dirname(d)):
                        fs.mkdir(posixpath.dirname(d))
                    kind = fs.write(d, content, mtime=self.world.now())
                    self.world.record(kind, d, source=s)
                    if move:
                        fs.delete(s)
                        self.world.record("delete", s)
                except FsError as exc:
                    errs.append(f"{cmd}: {_relabel(exc, raw)}")
        return Result("", "\n".join(errs), 1 if errs else 0)

    def _rm(self, args: list[str], stdin: str | None) -> Result:
        flags, paths, bad = self._flags(args, "rRfvd")
        if bad:
            return Result(err=f"rm: invalid option -- '{bad}'", code=1)
        if not paths:
            return Result(err="rm: missing operand", code=1)
        errs = []
        for raw in paths:
            path = self._path(raw)
            try:
                if self.world.fs.is_dir(path) and not self.world.fs.is_file(path) and not flags & {"r", "R"}:
                    errs.append(f"rm: cannot remove '{raw}': Is a directory")
                    continue
                for p in self.world.fs.delete(path, recursive=True):
                    self.world.record("delete", p)
            except FsError as exc:
                if "f" in flags and "No such file" in str(exc):
                    continue
                errs.append(f"rm: cannot remove '{raw}': {str(exc).split(': ', 1)[-1]}")
        return Result("", "\n".join(errs), 1 if errs else 0)

    def _chmod(self, args: list[str], stdin: str | None) -> Result:
        if len(args) < 2:
            return Result(err=f"chmod: missing operand after '{args[0]}'" if args else "chmod: missing operand",
                          code=1)
        spec, paths, errs = args[0], args[1:], []
        for raw in paths:
            path = self._path(raw)
            f = self.world.fs.files.get(path)
            if f is None:
                errs.append(f"chmod: cannot access '{raw}': No such file or directory")
                continue
            mode = _chmod_mode(spec, f.mode)
            if mode is None:
                return Result(err=f"chmod: invalid mode: '{spec}'", code=1)
            try:
                self.world.fs.chmod(path, mode, mtime=self.world.now())
                self.world.record("chmod", path, mode=f"{mode:o}")
            except FsError as exc:
                errs.append(f"chmod: {exc}")
        return Result("", "\n".join(errs), 1 if errs else 0)

    def _scp(self, args: list[str], stdin: str | None) -> Result:
        flags, paths, bad = self._flags(args, "rqpv")
        if bad:
            return Result(err=f"unknown option -- {bad}\nusage: scp [-r] source ... target", code=1)
        if len(paths) < 2:
            return Result(err="usage: scp [-r] source ... target", code=1)
        *sources, dest_raw = paths
        try:
            dest_host, dest = self._remote(dest_raw)
            errs = []
            for raw in sources:
                src_host, src = self._remote(raw)
                src_fs, dst_fs = self.world.machines[src_host], self.world.machines[dest_host]
                if not src_fs.exists(src):
                    errs.append(f"scp: {src}: No such file or directory")
                    continue
                if src_fs.is_dir(src) and not src_fs.is_file(src) and "r" not in flags:
                    errs.append(f"scp: {src}: not a regular file")
                    continue
                try:
                    pairs = _pairs(src_fs, src, dst_fs, dest)
                except FsError as exc:
                    errs.append(f"scp: {exc}")
                    continue
                for p, target in pairs:
                    try:
                        content = src_fs.read(p)
                        if not dst_fs.is_dir(posixpath.dirname(target)):
                            dst_fs.mkdir(posixpath.dirname(target))
                        kind = dst_fs.write(target, content, mtime=self.world.now())
                        self.world.record(kind, target, host=dest_host, source=f"{src_host}:{p}")
                    except FsError as exc:
                        errs.append(f"scp: {exc}")
        except _HostError as exc:
            return Result(err=str(exc), code=255)
        return Result("", "\n".join(errs), 1 if errs else 0)

    def _remote(self, raw: str) -> tuple[str, str]:
        host, sep, path = raw.partition(":")
        if not sep or "/" in host:
            return LOCAL, self._path(raw)
        host = host.rsplit("@", 1)[-1]
        if host not in self.world.machines:
            raise _HostError(f"ssh: Could not resolve hostname {host}: Name or service not known\r\n"
                             "lost connection")
        return host, normalize(path or "/home/agent", "/home/agent")


class _HostError(Exception):
    pass


def _pairs(src_fs: VirtualFS, src: str, dst_fs: VirtualFS, dest: str) -> list[tuple[str, str]]:
    """(source file, destination file) for copying a file or a directory tree, as cp -r / scp -r do."""
    root = posixpath.join(dest, posixpath.basename(src)) if dst_fs.is_dir(dest) else dest
    if not dst_fs.is_dir(posixpath.dirname(root)):
        raise FsError(f"{root}: No such file or directory")
    if src_fs.is_file(src):
        return [(src, root)]
    return [(p, root + p[len(src):]) for p in src_fs.walk(src)]


def _split(tokens: list[str], op: str) -> list[list[str]]:
    parts: list[list[str]] = [[]]
    for t in tokens:
        if t == op:
            parts.append([])
        else:
            parts[-1].append(t)
    return parts


def _relabel(exc: FsError, shown: str) -> str:
    """FsError names the absolute path; the shell names what the user typed."""
    message = str(exc)
    path, sep, reason = message.partition(": ")
    return f"{shown}: {reason}" if sep and path.startswith("/") else message


def _sed_program(script: str) -> Callable[[str], str]:
    """Compile ``s/re/repl/flags`` or ``/re/d`` (any delimiter for s) to a text → text function."""
    script = script.strip().rstrip(";")
    m = re.fullmatch(r"/(.*)/d", script)
    if m:
        rx = re.compile(_bre(m.group(1)))
        return lambda text: "".join(line for line in text.splitlines(keepends=True) if not rx.search(line))
    if len(script) < 4 or script[0] != "s":
        raise ValueError("unknown command: `%s'" % script[:1])
    delim = script[1]
    parts = re.split(r"(?<!\\)" + re.escape(delim), script[2:])
    if len(parts) != 3:
        raise ValueError("unterminated `s' command")
    pattern, repl, opts = parts
    if set(opts) - set("gI"):
        raise ValueError("unknown option to `s'")
    try:
        rx = re.compile(_bre(pattern.replace("\\" + delim, delim)), re.I if "I" in opts else 0)
    except re.error as exc:
        raise ValueError("invalid regular expression") from exc
    py_repl = re.sub(r"\\(\d)", r"\\g<\1>", repl.replace("\\" + delim, delim)).replace("&", r"\g<0>")
    count = 0 if "g" in opts else 1

    def edit(text: str) -> str:
        return "".join(rx.sub(py_repl, line, count=count) for line in text.splitlines(keepends=True))

    return edit


def _bre(pattern: str) -> str:
    """Basic regular expressions: \\( \\) group, bare ( ) + ? are literal."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            out.append(nxt if nxt in "()+?{}|" else ch + nxt)
            i += 2
            continue
        out.append("\\" + ch if ch in "()+?{}|" else ch)
        i += 1
    return "".join(out)


def _chmod_mode(spec: str, current: int) -> int | None:
    if re.fullmatch(r"[0-7]{3,4}", spec):
        return int(spec, 8) & 0o777
    m = re.fullmatch(r"([ugoa]*)([+\-=])([rwx]+)", spec)
    if not m:
        return None
    who = m.group(1) or "a"
    shifts = {"u": [6], "g": [3], "o": [0], "a": [6, 3, 0]}
    bits = sum({"r": 4, "w": 2, "x": 1}[c] for c in m.group(3))
    mask = sum(bits << s for w in who for s in shifts[w])
    if m.group(2) == "+":
        return current | mask
    if m.group(2) == "-":
        return current & ~mask
    clear = sum(7 << s for w in who for s in shifts[w])
    return (current & ~clear) | mask
