"""SCTP packets over raw sockets: this kernel has no SCTP sockets, so the net
tests build the common header and one chunk themselves (RFC 9260 section 3)
and check the CRC32c the data path must keep valid across port rewrites."""

import socket
import struct

IPPROTO_SCTP = 132
CHUNK_DATA = 0


def _crc_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def build(sport, dport, vtag, payload):
    """One DATA chunk (unordered, single fragment) carrying payload."""
    chunk = struct.pack("!BBHIHHI", CHUNK_DATA, 0x07, 16 + len(payload), 1, 0, 0, 0)
    chunk += payload
    chunk += b"\0" * (-len(chunk) % 4)
    hdr = struct.pack("!HHII", sport, dport, vtag, 0)
    pkt = hdr + chunk
    # The CRC goes on the wire least significant byte first.
    return hdr[:8] + struct.pack("<I", crc32c(pkt)) + chunk


def parse(pkt):
    """(sport, dport, vtag, payload, crc_ok) of a packet built as above, or None."""
    if len(pkt) < 12 + 16:
        return None
    sport, dport, vtag = struct.unpack("!HHI", pkt[:8])
    (crc,) = struct.unpack("<I", pkt[8:12])
    crc_ok = crc == crc32c(pkt[:8] + b"\0\0\0\0" + pkt[12:])
    ctype, _, clen = struct.unpack("!BBH", pkt[12:16])
    if ctype != CHUNK_DATA or clen < 16 or 12 + clen > len(pkt):
        return None
    return sport, dport, vtag, pkt[28:12 + clen], crc_ok


def open_raw(family):
    return socket.socket(family, socket.SOCK_RAW, IPPROTO_SCTP)


def recv(sock, family):
    """(source address, SCTP bytes): IPv4 raw sockets include the IP header."""
    data, addr = sock.recvfrom(65535)
    if family == socket.AF_INET:
        data = data[(data[0] & 0x0F) * 4:]
    return addr[0], data
