"""The control API (`jobletmock.v1.MockControl`) as Python methods.

`Controls` holds every operation of one session; `JobletMock` (the default
session) and `MockSession` (a named one) inherit it. Verification follows the
mock's own Rust `Expectation` rules (`mock-server/src/journal.rs`), so a
`verify` passes or fails the same way in both languages.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Union

from ._proto import mock_control_pb2 as pb
from ._proto import mock_control_pb2_grpc as pb_grpc

CONTROL_TIMEOUT = 10.0
"""Deadline (seconds) of every control call."""

MAX_LISTED_CALLS = 50
"""A failed `verify` lists at most this many of the last received calls."""

Duration = Union[str, int, float, timedelta]
"""How far to move a clock: "90s", "1h30m", "250ms" (the mock's syntax),
seconds as a number, or a `timedelta`."""

FaultRule = Union[str, Mapping[str, Any]]
"""A fault rule: one line as for `--fault` ("RunJob:fail=UNAVAILABLE:after=2"),
or a mapping with the keys of a fault YAML file."""


def _parse_time(text: str) -> Optional[datetime]:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class Clock:
    """A session clock's reading (GetClock, AdvanceClock)."""

    now: datetime
    """Now on the session clock (aware, UTC, millisecond precision)."""
    now_unix_ms: int
    mode: str
    """"real", "virtual" or "manual"."""
    pending_timers: int
    """Timers waiting on a virtual clock (sleeping or scheduled jobs, streams)."""

    @classmethod
    def _from_pb(cls, r: pb.ClockResponse) -> "Clock":
        now = _parse_time(r.now)
        assert now is not None, "the mock always reports the time"
        return cls(now=now, now_unix_ms=r.now_unix_ms, mode=r.mode, pending_timers=r.pending_timers)


@dataclass(frozen=True)
class Call:
    """One call of the journal (ListCalls)."""

    seq: int
    """Position in the session's journal, from 1."""
    method: str
    """Full method path: "joblet.JobService/RunJob"."""
    session: str
    request: dict
    """The request in proto3 JSON (camelCase names; defaults omitted; 64-bit
    integers as strings)."""
    code: str
    """The gRPC code answered: "OK", "INVALID_ARGUMENT", ..."""
    message: str
    time: Optional[datetime]
    clock_time: Optional[datetime]
    request_json: str = field(repr=False)

    @property
    def short_method(self) -> str:
        """The method's name without its service: "RunJob"."""
        return self.method.rsplit("/", 1)[-1]

    @classmethod
    def _from_pb(cls, c: pb.Call) -> "Call":
        try:
            request = json.loads(c.request_json) if c.request_json else {}
        except ValueError:
            request = {}
        return cls(
            seq=c.seq,
            method=c.method,
            session=c.session,
            request=request,
            code=c.code,
            message=c.message,
            time=_parse_time(c.time),
            clock_time=_parse_time(c.clock_time),
            request_json=c.request_json,
        )

    def describe(self) -> str:
        """One line, as the mock's own verification report prints a call."""
        line = f"#{self.seq} {self.method} session={json.dumps(self.session)} code={self.code}"
        if self.message:
            line += f" message={json.dumps(self.message)}"
        return line + f" request={json.dumps(self.request, separators=(',', ':'))}"


@dataclass(frozen=True)
class SessionInfo:
    """One session the mock holds (ListSessions)."""

    name: str
    jobs: int
    calls: int
    faults: int
    clock_mode: str
    now: Optional[datetime]


class VerificationError(AssertionError):
    """A failed `verify`: what was expected, how many calls matched, and the
    calls received (listed in the message)."""

    def __init__(self, expectation: str, matched: int, calls: list[Call], hits: list[bool]):
        self.expectation = expectation
        self.matched = matched
        self.calls = calls
        super().__init__(_verification_report(expectation, matched, calls, hits))


def _verification_report(expectation: str, matched: int, calls: list[Call], hits: list[bool]) -> str:
    lines = [f"verification failed: expected {expectation}, but {matched} matched"]
    if not calls:
        lines.append("No calls were received.")
    else:
        skip = max(len(calls) - MAX_LISTED_CALLS, 0)
        head = f"Received {len(calls)} call(s)"
        if skip:
            head += f" (the first {skip} not shown)"
        lines.append(head + ":")
        for call, hit in list(zip(calls, hits))[skip:]:
            lines.append("  " + call.describe() + (" [matched]" if hit else ""))
    return "\n".join(lines)


def format_calls(calls: list[Call]) -> str:
    """The calls, one line each (the last MAX_LISTED_CALLS of them)."""
    return _verification_report("", 0, calls, [False] * len(calls)).split("\n", 1)[1]


def json_contains(actual: Any, expected: Any) -> bool:
    """Whether `actual` (a request's proto3 JSON) contains `expected`: every key
    of an expected object is present with a matching value (objects
    recursively; a missing key matches a default value, which proto3 JSON
    omits), arrays have the same length and matching elements, numbers compare
    by value and match a 64-bit integer's string form."""
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            return False
        return all(
            json_contains(actual[k], v) if k in actual else _is_json_default(v) for k, v in expected.items()
        )
    if isinstance(expected, (list, tuple)):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(json_contains(a, e) for a, e in zip(actual, expected))
        )
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, (int, float)):
        if isinstance(actual, (int, float)):
            return expected == actual
        if isinstance(actual, str):
            return isinstance(expected, int) and str(expected) == actual
        return False
    return expected == actual


def _is_json_default(v: Any) -> bool:
    if v is None or v is False:
        return True
    if isinstance(v, bool):
        return False
    if isinstance(v, (int, float)):
        return v == 0
    if isinstance(v, (str, list, tuple, Mapping)):
        return len(v) == 0
    return False


def _times_text(times: Optional[int], at_least: Optional[int], at_most: Optional[int]) -> str:
    def n_times(n: int) -> str:
        return f"{n} time{'' if n == 1 else 's'}"

    if times is not None:
        return "never" if times == 0 else f"exactly {n_times(times)}"
    if at_least is not None and at_most is not None:
        return f"between {at_least} and {n_times(at_most)}"
    if at_most is not None:
        return f"at most {n_times(at_most)}"
    return f"at least {n_times(1 if at_least is None else at_least)}"


def _duration_request(session: str, by: Duration) -> pb.AdvanceClockRequest:
    if isinstance(by, timedelta):
        millis = by / timedelta(milliseconds=1)
    elif isinstance(by, (int, float)) and not isinstance(by, bool):
        millis = by * 1000
    elif isinstance(by, str):
        return pb.AdvanceClockRequest(session=session, duration=by)
    else:
        raise TypeError(f"advance_clock: expected a str, seconds or a timedelta, got {by!r}")
    if millis <= 0 or millis != int(millis):
        raise ValueError(f"advance_clock: {by!r} is not a positive whole number of milliseconds")
    return pb.AdvanceClockRequest(session=session, millis=int(millis))


class Controls:
    """The control operations of one session of a running mock.

    Subclasses provide `_control()` (the gRPC stub) and `_session_name`
    ("" for the default session). Control errors raise `grpc.RpcError` with the
    mock's status (INVALID_ARGUMENT naming the field, FAILED_PRECONDITION for
    advancing a real clock).
    """

    _session_name: str = ""

    def _control(self) -> pb_grpc.MockControlStub:  # pragma: no cover - abstract
        raise NotImplementedError

    # ------------------------------------------------------------ state

    def reset(self) -> None:
        """Starts this session afresh: its jobs end, and its state, clock,
        faults and journal are new."""
        self._control().Reset(pb.ResetRequest(session=self._session_name), timeout=CONTROL_TIMEOUT)

    def snapshot(self) -> dict:
        """The session's state (networks, volumes, runtimes, jobs with their
        logs, workflows, clock time) as a JSON object."""
        r = self._control().Snapshot(pb.SnapshotRequest(session=self._session_name), timeout=CONTROL_TIMEOUT)
        return json.loads(r.json)

    def restore(self, snapshot: Union[Mapping[str, Any], str]) -> dict:
        """Replaces the session's state with a `snapshot()` (a dict or its JSON
        text). Jobs that were not final come back STOPPED with exit code -1.
        Returns the counts restored (jobs, stopped, networks, volumes,
        runtimes, workflows)."""
        text = snapshot if isinstance(snapshot, str) else json.dumps(snapshot)
        r = self._control().Restore(pb.RestoreRequest(session=self._session_name, json=text), timeout=CONTROL_TIMEOUT)
        return {
            "jobs": r.jobs,
            "stopped": r.stopped,
            "networks": r.networks,
            "volumes": r.volumes,
            "runtimes": r.runtimes,
            "workflows": r.workflows,
        }

    def memory(self) -> dict:
        """The mock's memory accounting (process-wide, every session): the
        budget (`--memory-budget`), the bytes job records and log history use,
        what eviction freed so far, RunJob calls refused, resident memory, and
        per session its jobs and bytes (`sessions`, the default one first)."""
        r = self._control().GetMemory(pb.GetMemoryRequest(session=self._session_name), timeout=CONTROL_TIMEOUT)
        out: dict = {f.name: getattr(r, f.name) for f in r.DESCRIPTOR.fields if f.name != "sessions"}
        out["sessions"] = [{f.name: getattr(s, f.name) for f in s.DESCRIPTOR.fields} for s in r.sessions]
        return out

    # ------------------------------------------------------------ clock

    def clock(self) -> Clock:
        """The session clock's time and mode."""
        r = self._control().GetClock(pb.GetClockRequest(session=self._session_name), timeout=CONTROL_TIMEOUT)
        return Clock._from_pb(r)

    def advance_clock(self, by: Duration) -> Clock:
        """Moves a virtual (`clock="virtual"` or `"manual"`) clock forward by
        `by`, firing every timer that falls due on the way, in order. Raises
        `grpc.RpcError` (FAILED_PRECONDITION) on a real clock."""
        r = self._control().AdvanceClock(_duration_request(self._session_name, by), timeout=CONTROL_TIMEOUT)
        return Clock._from_pb(r)

    # ----------------------------------------------------------- faults

    def set_faults(self, *rules: FaultRule, append: bool = False) -> list[str]:
        """Replaces (or, with `append`, extends) the session's fault rules.
        Each rule is a `--fault` line or a mapping with a fault file's keys.
        Returns the session's rules now, in the one-line syntax."""
        lines = [r for r in rules if isinstance(r, str)]
        objects = [dict(r) for r in rules if not isinstance(r, str)]
        bad = [r for r in rules if not isinstance(r, (str, Mapping))]
        if bad:
            raise TypeError(f"set_faults: a rule is a str or a mapping, got {bad[0]!r}")
        req = pb.SetFaultsRequest(
            session=self._session_name,
            rules=lines,
            rules_json=json.dumps(objects) if objects else "",
            append=append,
        )
        return list(self._control().SetFaults(req, timeout=CONTROL_TIMEOUT).rules)

    def clear_faults(self) -> None:
        """Removes every fault rule of the session."""
        self._control().ClearFaults(pb.ClearFaultsRequest(session=self._session_name), timeout=CONTROL_TIMEOUT)

    def faults(self) -> list[str]:
        """The session's fault rules, in order, in the one-line syntax."""
        r = self._control().ListFaults(pb.ListFaultsRequest(session=self._session_name), timeout=CONTROL_TIMEOUT)
        return list(r.rules)

    # -------------------------------------------------------- scenarios

    def load_scenario(self, source: Union[str, "os.PathLike[str]"], *, replace: bool = False) -> list[str]:
        """Adds a scenario file's scripted commands to the session (latest load
        first), or replaces them. `source` is a path (`pathlib.Path` or any
        `os.PathLike`) or the YAML text itself. Returns the loaded scenarios'
        names."""
        if isinstance(source, os.PathLike):
            path = Path(source)
            text, name = path.read_text(), path.name
        elif isinstance(source, str):
            text, name = source, ""
        else:
            raise TypeError(f"load_scenario: expected a path or YAML text, got {source!r}")
        req = pb.LoadScenarioRequest(session=self._session_name, yaml=text, file_name=name, replace=replace)
        return list(self._control().LoadScenario(req, timeout=CONTROL_TIMEOUT).names)

    # ---------------------------------------------------------- journal

    def calls(self, method: Optional[str] = None, *, limit: int = 0) -> list[Call]:
        """The calls the session received, oldest first: all of them, or those
        whose method matches the glob `method` ("RunJob", "Get*",
        "joblet.JobService/*"); with `limit`, only the last `limit`."""
        req = pb.ListCallsRequest(session=self._session_name, method=method or "", limit=limit)
        r = self._control().ListCalls(req, timeout=CONTROL_TIMEOUT)
        return [Call._from_pb(c) for c in r.calls]

    def clear_calls(self) -> int:
        """Forgets the session's recorded calls; returns how many there were."""
        r = self._control().ClearCalls(pb.ClearCallsRequest(session=self._session_name), timeout=CONTROL_TIMEOUT)
        return r.cleared

    def transcript(self) -> list[dict]:
        """The session's transcript: every Joblet call it received with its
        whole answer, one dict per call (the JSON lines of `joblet-mock
        --record`, which `joblet-conformance replay` plays against any
        endpoint), in the order the calls started. The mock must keep them:
        `JobletMock(transcript_size=N)`."""
        req = pb.ExportTranscriptRequest(session=self._session_name)
        r = self._control().ExportTranscript(req, timeout=CONTROL_TIMEOUT)
        return [json.loads(line) for line in r.lines]

    def verify(
        self,
        method: Optional[str] = None,
        *,
        request_contains: Optional[Mapping[str, Any]] = None,
        times: Optional[int] = None,
        at_least: Optional[int] = None,
        at_most: Optional[int] = None,
        code: Optional[str] = None,
    ) -> int:
        """Checks the session's journal, wiremock-style, and returns how many
        calls matched.

        A call matches when its method matches the glob `method` (short name
        or full path), its request contains `request_contains` (proto3 JSON
        names: `{"command": "echo", "args": ["hi"]}`; see `json_contains`) and
        it was answered with `code` ("OK", "NOT_FOUND", ...). The count must be
        exactly `times` (0: never), or within `at_least`/`at_most`; with none
        of them, at least once. Raises `VerificationError` (an
        `AssertionError`) listing the calls received otherwise.
        """
        if times is not None and (at_least is not None or at_most is not None):
            raise ValueError("verify: give `times`, or `at_least`/`at_most`, not both")
        for name, n in (("times", times), ("at_least", at_least), ("at_most", at_most)):
            if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
                raise ValueError(f"verify: {name} must be a whole number >= 0, got {n!r}")
        req = pb.ListCallsRequest(session=self._session_name)
        calls = [Call._from_pb(c) for c in self._control().ListCalls(req, timeout=CONTROL_TIMEOUT).calls]
        pattern = method
        hits = [
            (pattern is None or _glob_match(pattern, c.short_method) or _glob_match(pattern, c.method))
            and (code is None or c.code == code)
            and (request_contains is None or json_contains(c.request, request_contains))
            for c in calls
        ]
        matched = sum(hits)
        if times is not None:
            ok = matched == times
        else:
            ok = matched >= (1 if at_least is None and at_most is None else at_least or 0)
            ok = ok and (at_most is None or matched <= at_most)
        if ok:
            return matched
        what = f"{method} calls" if method else "calls"
        filters = []
        if request_contains is not None:
            filters.append(f"request containing {json.dumps(request_contains, separators=(',', ':'))}")
        if code is not None:
            filters.append(f"code {code}")
        if filters:
            what += " with " + ", ".join(filters)
        what += f" in session {json.dumps(self._session_name or 'default')}: "
        what += _times_text(times, at_least, at_most)
        raise VerificationError(what, matched, calls, hits)


def _glob_match(pattern: str, text: str) -> bool:
    """`*` matches any run of characters (`/` included), `?` one character:
    the mock's own method globs (not fnmatch, which also knows `[...]`)."""
    # Iterative matcher with backtracking on the last `*`.
    p = t = 0
    star = -1
    mark = 0
    while t < len(text):
        if p < len(pattern) and (pattern[p] == "?" or pattern[p] == text[t]):
            p += 1
            t += 1
        elif p < len(pattern) and pattern[p] == "*":
            star, mark = p, t
            p += 1
        elif star >= 0:
            p = star + 1
            mark += 1
            t = mark
        else:
            return False
    while p < len(pattern) and pattern[p] == "*":
        p += 1
    return p == len(pattern)


def sessions_from_pb(r: pb.ListSessionsResponse) -> list[SessionInfo]:
    return [
        SessionInfo(
            name=s.name, jobs=s.jobs, calls=s.calls, faults=s.faults, clock_mode=s.clock_mode, now=_parse_time(s.now)
        )
        for s in r.sessions
    ]


def as_list(value: Union[None, str, "os.PathLike[str]", Mapping, Iterable[Any]], what: str) -> list:
    """A single value or an iterable of them, as a list (a lone str, path or
    mapping is one value, not an iterable of characters or keys)."""
    if value is None:
        return []
    if isinstance(value, (str, bytes, os.PathLike, Mapping)):
        return [value]
    try:
        return list(value)
    except TypeError:
        raise TypeError(f"{what}: expected one value or a list, got {value!r}") from None
