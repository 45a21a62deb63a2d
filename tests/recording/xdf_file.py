"""A minimal XDF 1.0 writer for tests (the format LabRecorder writes): a file header,
one stream header per stream, sample chunks with a time stamp per sample, and stream
footers. Written from the specification (github.com/sccn/xdf, "Specifications"); the
product reads it with pyxdf, the format's reference reader."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


def _chunk(tag: int, content: bytes) -> bytes:
    body = struct.pack("<H", tag) + content
    return struct.pack("<BI", 4, len(body)) + body


def _varlen(n: int) -> bytes:
    return struct.pack("<BI", 4, n)


@dataclass
class XdfStream:
    name: str
    type: str
    srate: float
    channel_format: str  # "float32" or "string"
    labels: list[str]
    times: np.ndarray
    values: list[list[float]] | list[list[str]] = field(default_factory=list)
    unit: str = "microvolts"

    def header_xml(self) -> str:
        chans = "".join(f"<channel><label>{lab}</label><unit>{self.unit}</unit>"
                        f"<type>{self.type}</type></channel>" for lab in self.labels)
        return (f'<?xml version="1.0"?><info><name>{self.name}</name><type>{self.type}'
                f"</type><channel_count>{len(self.labels)}</channel_count><nominal_srate>"
                f"{self.srate}</nominal_srate><channel_format>{self.channel_format}"
                "</channel_format><created_at>100.0</created_at><desc><channels>"
                f"{chans}</channels></desc></info>")


def write_xdf(path: Path, streams: list[XdfStream]) -> None:
    out = bytearray(b"XDF:")
    out += _chunk(1, b'<?xml version="1.0"?><info><version>1.0</version></info>')
    for sid, st in enumerate(streams, 1):
        out += _chunk(2, struct.pack("<I", sid) + st.header_xml().encode())
    for sid, st in enumerate(streams, 1):
        samples = bytearray()
        for t, row in zip(st.times, st.values, strict=True):
            samples += b"\x08" + struct.pack("<d", float(t))
            if st.channel_format == "string":
                for v in row:
                    b = str(v).encode()
                    samples += _varlen(len(b)) + b
            else:
                samples += struct.pack(f"<{len(row)}f", *row)
        out += _chunk(3, struct.pack("<I", sid) + _varlen(len(st.times)) + bytes(samples))
        out += _chunk(4, struct.pack("<Idd", sid, float(st.times[-1]), 0.0))
    for sid, st in enumerate(streams, 1):
        footer = (f'<?xml version="1.0"?><info><first_timestamp>{st.times[0]}'
                  f"</first_timestamp><last_timestamp>{st.times[-1]}</last_timestamp>"
                  f"<sample_count>{len(st.times)}</sample_count></info>")
        out += _chunk(6, struct.pack("<I", sid) + footer.encode())
    path.write_bytes(bytes(out))
