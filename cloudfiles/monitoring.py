"""Transfer recordings for ``return_recording=True`` (cloud-files 6.4.3's ``TransmissionMonitor``).

A recording holds one ``(start, end, bytes)`` interval per object moved, so a
caller can compute throughput after the fact. It keeps the reference's
methods for totals and rates; the plotting and histogram helpers (which need
numpy and intervaltree there) are not provided.
"""
from __future__ import annotations

import enum
import threading
import time
import uuid
from typing import Iterable, Optional


class IOEnum(enum.Enum):
    RX = 1
    TX = 2


class TransmissionMonitor:
    """Start/end times and sizes of the objects one call moved (monotonic clock, microseconds)."""

    def __init__(self, direction: IOEnum):
        self._direction = direction
        self._lock = threading.Lock()
        self._in_flight: dict = {}
        self._errors: set = set()
        self._intervals: list[tuple[int, int, int]] = []  # (start_us, end_us, bytes)
        self._total_bytes_landed = 0
        # monotonic -> unix offset, to report wall-clock times
        self._unix_offset = time.time() - time.monotonic()

    @classmethod
    def merge(cls, tms: Iterable["TransmissionMonitor"]) -> "TransmissionMonitor":
        tms = list(tms)
        out = cls(tms[0]._direction if tms else IOEnum.TX)
        for other in tms:
            with other._lock:
                out._intervals.extend(other._intervals)
                out._total_bytes_landed += other._total_bytes_landed
                out._errors |= other._errors
        return out

    @property
    def direction(self) -> IOEnum:
        return self._direction

    def start_io(self, num_bytes: int, start_time: Optional[float] = None) -> uuid.UUID:
        flight_id = uuid.uuid4()
        with self._lock:
            self._in_flight[flight_id] = time.monotonic() if start_time is None else start_time
        return flight_id

    def end_error(self, flight_id: uuid.UUID) -> None:
        with self._lock:
            self._in_flight.pop(flight_id, None)
            self._errors.add(flight_id)

    def end_io(self, flight_id: uuid.UUID, num_bytes: int) -> None:
        end_us = int(time.monotonic() * 1e6)
        with self._lock:
            start_us = int(self._in_flight.pop(flight_id) * 1e6)
            self._intervals.append((start_us, max(end_us, start_us + 1), int(num_bytes)))
            self._total_bytes_landed += int(num_bytes)

    def num_errors(self) -> int:
        with self._lock:
            return len(self._errors)

    def total_bytes(self) -> int:
        """Bytes of the objects that finished."""
        with self._lock:
            return self._total_bytes_landed

    def _span_sec(self) -> float:
        with self._lock:
            if not self._intervals:
                return 0.0
            begin = min(i[0] for i in self._intervals)
            end = max(i[1] for i in self._intervals)
        return (end - begin) / 1e6

    def total_bps(self) -> float:
        """Average bits per second over the whole recording (0 if nothing finished)."""
        span = self._span_sec()
        return self.total_bytes() * 8 / span if span > 0 else 0.0

    def total_Mbps(self) -> float:
        return self.total_bps() / 1e6

    def total_Gbps(self) -> float:
        return self.total_bps() / 1e9

    def total_MBps(self) -> float:
        return self.total_bps() / 8e6

    def total_GBps(self) -> float:
        return self.total_bps() / 8e9

    def start_unix_time(self) -> Optional[float]:
        with self._lock:
            if not self._intervals:
                return None
            return min(i[0] for i in self._intervals) / 1e6 + self._unix_offset

    def end_unix_time(self) -> Optional[float]:
        with self._lock:
            if not self._intervals:
                return None
            return max(i[1] for i in self._intervals) / 1e6 + self._unix_offset

    def intervals(self) -> list[tuple[float, float, int]]:
        """``(start_unix, end_unix, bytes)`` per finished object, in finishing order."""
        with self._lock:
            return [(s / 1e6 + self._unix_offset, e / 1e6 + self._unix_offset, n)
                    for s, e, n in self._intervals]

