"""Frames on stdout and the job line on stdin (images/PROTOCOL.md, "Frames")."""
from __future__ import annotations

import json
import os
import re
from collections import namedtuple

FRAME_START = b"\x1e"
NONCE_END = b"\x1f"
READY_NONCE = "ready"

_NONCE = re.compile(r"[0-9a-f]{16,64}")

# Bound now: user code runs in this process and may replace os.write; frames must still go out.
_write = os.write


class FrameWriter:
    """Writes frames to private duplicates of fd 1 (and fd 2, for the stderr-end marker).

    User output and frames share the same pipe. Writing frames to a duplicate taken at start-up
    keeps them going even when user code closes or redirects fd 1, and the duplicate is not
    inherited by subprocesses (os.dup makes non-inheritable descriptors).
    """

    def __init__(self) -> None:
        self._fd = os.dup(1)
        self._stderr_fd = os.dup(2)

    def send(self, nonce: str, payload: dict) -> None:
        self._write_frame(self._fd, nonce, payload)

    def end_stderr(self, nonce: str) -> None:
        """Marks the end of stderr. Docker forwards stdout and stderr independently; the host waits
        for this marker before it takes the result frame as final, so no stderr is lost."""
        self._write_frame(self._stderr_fd, nonce, {"type": "stderr-end"})

    @staticmethod
    def _write_frame(fd: int, nonce: str, payload: dict) -> None:
        body = json.dumps(payload, ensure_ascii=True, separators=(",", ":"))
        data = memoryview(FRAME_START + nonce.encode("ascii") + NONCE_END + body.encode("ascii") + b"\n")
        while data:
            written = _write(fd, data)
            data = data[written:]


# nonce: str, code: str, restore: bool, max_images: int, args: list[str] (sys.argv[1:])
Job = namedtuple("Job", "nonce code restore max_images args")


class JobError(Exception):
    """The job line is missing or malformed."""


def read_job_line(fd: int = 0) -> bytes:
    """Reads the first line from fd. The host closes stdin after it, so nothing follows."""
    chunks: list[bytes] = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            raise JobError("stdin closed before a job line arrived")
        newline = chunk.find(b"\n")
        if newline >= 0:
            chunks.append(chunk[:newline])
            return b"".join(chunks)
        chunks.append(chunk)


def parse_job(line: bytes) -> Job:
    try:
        raw = json.loads(line)
    except ValueError as exc:
        raise JobError(f"job line is not JSON: {exc}") from None
    if not isinstance(raw, dict) or raw.get("v") != 1:
        raise JobError("job line is not a version 1 job")
    nonce, code, restore, max_images = (raw.get(k) for k in ("nonce", "code", "restore", "maxImages"))
    if not isinstance(nonce, str) or not _NONCE.fullmatch(nonce):
        raise JobError("job nonce must be 16 to 64 lowercase hex digits")
    if not isinstance(code, str):
        raise JobError("job code must be a string")
    if not isinstance(restore, bool):
        raise JobError("job restore must be a boolean")
    if type(max_images) is not int or max_images < 0:
        raise JobError("job maxImages must be a non-negative integer")
    args = raw.get("args", [])  # hosts before args was in the protocol send none
    if not isinstance(args, list) or not all(isinstance(arg, str) for arg in args):
        raise JobError("job args must be a list of strings")
    return Job(nonce=nonce, code=code, restore=restore, max_images=max_images, args=args)
