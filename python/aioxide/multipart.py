"""Multipart writing and reading (``aiohttp.multipart``).

The writer is a :class:`~aioxide.payload.Payload`: sent as a request body it
becomes bytes (all parts in memory) or a stream of chunks (a file part is read
in the executor while the request runs), see ``payload._prepare_payload``.
The reader works on ``resp.content`` (aioxide's StreamReader).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import builtins
import json
import re
import sys
import uuid
import warnings
import zlib
from collections import deque
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Any, Union, cast
from urllib.parse import parse_qsl, unquote, urlencode

from multidict import CIMultiDict, CIMultiDictProxy

from .hdrs import (
    CONTENT_DISPOSITION,
    CONTENT_ENCODING,
    CONTENT_LENGTH,
    CONTENT_TRANSFER_ENCODING,
    CONTENT_TYPE,
)
from .helpers import parse_mimetype
from .payload import (
    _NATIVE_WRITE,
    CHAR,
    CHUNK_SIZE,
    PAYLOAD_REGISTRY,
    TOKEN,
    JsonPayload,
    LookupError,
    Order,
    Payload,
    StringPayload,
    _payload_chunks,
    _payload_mem,
    get_payload,
    internal_logger,
)
from .streams import StreamReader

if TYPE_CHECKING:
    from .client_reqrep import ClientResponse

__all__ = (
    "MultipartReader",
    "MultipartWriter",
    "BodyPartReader",
    "BadContentDispositionHeader",
    "BadContentDispositionParam",
    "parse_content_disposition",
    "content_disposition_filename",
)

#: aiohttp's DEFAULT_CHUNK_SIZE: the decompression step of a part.
DEFAULT_CHUNK_SIZE = 2**18
#: Above this, (de)compression runs in the executor (as aiohttp).
MAX_SYNC_CHUNK_SIZE = 4096

# The base64 alphabet plus the padding character.
_BASE64_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
_NON_BASE64_BYTES = bytes(b for b in range(256) if b not in _BASE64_CHARS)


class BadContentDispositionHeader(RuntimeWarning):
    pass


class BadContentDispositionParam(RuntimeWarning):
    pass


class BadHttpMessage(Exception):
    """A malformed part head (aiohttp.http_exceptions.BadHttpMessage)."""

    code = 400
    message = "Bad Request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidHeader(BadHttpMessage):
    def __init__(self, hdr: bytes | str) -> None:
        hdr_s = hdr.decode(errors="backslashreplace") if isinstance(hdr, bytes) else hdr
        super().__init__(f"Invalid HTTP header: {hdr!r}")
        self.hdr = hdr_s
        self.args = (hdr,)


def parse_content_disposition(header: str | None) -> tuple[str | None, dict[str, str]]:
    def is_token(string: str) -> bool:
        return bool(string) and TOKEN >= set(string)

    def is_quoted(string: str) -> bool:
        return len(string) >= 2 and string[0] == string[-1] == '"'

    def is_rfc5987(string: str) -> bool:
        return is_token(string) and string.count("'") == 2

    def is_extended_param(string: str) -> bool:
        return string.endswith("*")

    def is_continuous_param(string: str) -> bool:
        pos = string.find("*") + 1
        if not pos:
            return False
        substring = string[pos:-1] if string.endswith("*") else string[pos:]
        return substring.isdigit()

    def unescape(text: str, *, chars: str = "".join(map(re.escape, CHAR))) -> str:
        return re.sub(f"\\\\([{chars}])", "\\1", text)

    if not header:
        return None, {}

    # https://www.rfc-editor.org/info/rfc9110/#section-5.6.6-2
    disptype, *parts = header.split(";")
    disptype = disptype.strip()
    if not is_token(disptype):
        warnings.warn(BadContentDispositionHeader(header), stacklevel=2)
        return None, {}

    params: dict[str, str] = {}
    while parts:
        item = parts.pop(0)

        if not item:  # To handle trailing semicolons
            warnings.warn(BadContentDispositionHeader(header), stacklevel=2)
            continue

        if "=" not in item:
            warnings.warn(BadContentDispositionHeader(header), stacklevel=2)
            return None, {}

        key, value = item.split("=", 1)
        key = key.lower().strip()
        value = value.lstrip()

        if key in params:
            warnings.warn(BadContentDispositionHeader(header), stacklevel=2)
            return None, {}

        if not is_token(key):
            warnings.warn(BadContentDispositionParam(item), stacklevel=2)
            continue

        elif is_continuous_param(key):
            if is_quoted(value):
                value = unescape(value[1:-1])
            elif not is_token(value):
                warnings.warn(BadContentDispositionParam(item), stacklevel=2)
                continue

        elif is_extended_param(key):
            if is_rfc5987(value):
                encoding, _, value = value.split("'", 2)
                encoding = encoding or "utf-8"
            else:
                warnings.warn(BadContentDispositionParam(item), stacklevel=2)
                continue

            try:
                value = unquote(value, encoding, "strict")
            except (builtins.LookupError, UnicodeDecodeError):
                # The charset is the sender's: an unknown one is a bad param.
                warnings.warn(BadContentDispositionParam(item), stacklevel=2)
                continue

        else:
            failed = True
            rstripped = value.rstrip()
            if is_quoted(rstripped):
                failed = False
                value = unescape(rstripped[1:-1].lstrip("\\/"))
            elif is_token(value):
                failed = False
            elif parts:
                # maybe just ; in filename, in any case this is just
                # one case fix, for proper fix we need to redesign parser
                _value = f"{value};{parts[0]}"
                if is_quoted(_value):
                    parts.pop(0)
                    value = unescape(_value[1:-1].lstrip("\\/"))
                    failed = False

            if failed:
                warnings.warn(BadContentDispositionHeader(header), stacklevel=2)
                return None, {}

        params[key] = value

    return disptype.lower(), params


def content_disposition_filename(params: Mapping[str, str], name: str = "filename") -> str | None:
    name_suf = "%s*" % name
    if not params:
        return None
    elif name_suf in params:
        return params[name_suf]
    elif name in params:
        return params[name]
    else:
        parts = []
        fnparams = sorted((key, value) for key, value in params.items() if key.startswith(name_suf))
        for num, (key, value) in enumerate(fnparams):
            _, tail = key.split("*", 1)
            if tail.endswith("*"):
                tail = tail[:-1]
            if tail == str(num):
                parts.append(value)
            else:
                break
        if not parts:
            return None
        value = "".join(parts)
        if "'" in value:
            encoding, _, value = value.split("'", 2)
            encoding = encoding or "utf-8"
            try:
                return unquote(value, encoding, "strict")
            except (builtins.LookupError, UnicodeDecodeError):
                return None
        return value


class MultipartResponseWrapper:
    """Wrapper around the MultipartReader: releases the response at the end."""

    def __init__(self, resp: "ClientResponse", stream: "MultipartReader") -> None:
        self.resp = resp
        self.stream = stream

    def __aiter__(self) -> "MultipartResponseWrapper":
        return self

    async def __anext__(self) -> Union["MultipartReader", "BodyPartReader"]:
        part = await self.next()
        if part is None:
            raise StopAsyncIteration
        return part

    def at_eof(self) -> bool:
        """Returns True when all response data had been read."""
        return self.resp.content.at_eof()

    async def next(self) -> Union["MultipartReader", "BodyPartReader"] | None:
        """Emits next multipart reader object."""
        item = await self.stream.next()
        if self.stream.at_eof():
            await self.release()
        return item

    async def release(self) -> None:
        """Release the connection gracefully."""
        await self.resp.release()


# -- (de)compression of parts ----------------------------------------------
def _zlib_mode(encoding: str) -> int:
    return 16 + zlib.MAX_WBITS if encoding == "gzip" else -zlib.MAX_WBITS


class _Decompressor:
    """zlib as aiohttp's ZLibDecompressor uses it (max_length, concatenated members)."""

    def __init__(self, encoding: str) -> None:
        self._mode = _zlib_mode(encoding)
        self._d = zlib.decompressobj(wbits=self._mode)
        self._pending: bytes | None = None
        self._last_empty = False

    def decompress_sync(self, data: Any, max_length: int = 0) -> bytes:
        if self._pending is not None:
            data = self._pending + bytes(data)
            self._pending = None
        d = self._d
        result = d.decompress(d.unconsumed_tail + bytes(data), max_length)
        if d.eof:
            if d.unused_data:
                # Another member follows: a fresh decompressor takes it next.
                self._pending = d.unused_data
            if d.unused_data or self._mode > zlib.MAX_WBITS:
                self._d = zlib.decompressobj(wbits=self._mode)
        self._last_empty = result == b""
        return result

    async def decompress(self, data: Any, max_length: int = 0) -> bytes:
        if len(data) > MAX_SYNC_CHUNK_SIZE:
            return await asyncio.get_running_loop().run_in_executor(
                None, self.decompress_sync, data, max_length
            )
        return self.decompress_sync(data, max_length)

    @property
    def data_available(self) -> bool:
        return bool(self._d.unconsumed_tail) or not self._last_empty or self._pending is not None


class BodyPartReader:
    """Multipart reader for single body part."""

    chunk_size = 8192

    def __init__(
        self,
        boundary: bytes,
        headers: "CIMultiDictProxy[str]",
        content: StreamReader,
        *,
        subtype: str = "mixed",
        default_charset: str | None = None,
        max_decompress_size: int = DEFAULT_CHUNK_SIZE,
        client_max_size: int = sys.maxsize,
        max_size_error_cls: type[Exception] = ValueError,
    ) -> None:
        self.headers = headers
        self._boundary = boundary
        self._boundary_len = len(boundary) + 2  # Boundary + \r\n
        self._content = content
        self._default_charset = default_charset
        self._at_eof = False
        self._is_form_data = subtype == "form-data"
        # https://datatracker.ietf.org/doc/html/rfc7578#section-4.8
        length = None if self._is_form_data else self.headers.get(CONTENT_LENGTH, None)
        if length is not None and not (length.isascii() and length.isdigit()):
            raise ValueError(f"invalid Content-Length: {length!r}")
        self._length = int(length) if length is not None else None
        self._read_bytes = 0
        self._b64_carry = b""
        self._unread: deque[bytes] = deque()
        self._prev_chunk: bytes | None = None
        self._content_eof = 0
        self._cache: dict[str, Any] = {}
        self._max_decompress_size = max_decompress_size
        self._client_max_size = client_max_size
        self._max_size_error_cls = max_size_error_cls

    def __aiter__(self) -> "BodyPartReader":
        return self

    async def __anext__(self) -> bytes:
        part = await self.next()
        if part is None:
            raise StopAsyncIteration
        return part

    async def next(self) -> bytes | None:
        item = await self.read()
        if not item:
            return None
        return item

    async def read(self, *, decode: bool = False) -> bytes:
        """Reads body part data (decode: undo Content-Encoding/-Transfer-Encoding)."""
        if self._at_eof:
            return b""
        data = bytearray()
        while not self._at_eof:
            data.extend(await self.read_chunk(self.chunk_size))
            if len(data) > self._client_max_size:
                raise self._max_size_error_cls(self._client_max_size)
        if decode:
            decoded_data = bytearray()
            async for d in self.decode_iter(data):
                decoded_data.extend(d)
                if len(decoded_data) > self._client_max_size:
                    raise self._max_size_error_cls(self._client_max_size)
            return decoded_data
        return data

    async def read_chunk(self, size: int = chunk_size) -> bytes:
        """Reads body part content chunk of the specified size."""
        if self._at_eof:
            return b""
        carry = self._b64_carry
        want = size - len(carry)
        if carry:
            self._b64_carry = b""
            want = max(want, self._boundary_len)
        if self._length is not None:
            fresh = await self._read_chunk_from_length(want)
        else:
            fresh = await self._read_chunk_from_stream(want)
        chunk = carry + fresh
        self._read_bytes += len(fresh)

        # base64 decodes in quartets and every chunk is decoded on its own, so
        # a chunk should not end mid-quartet.
        encoding = self.headers.get(CONTENT_TRANSFER_ENCODING)
        if encoding and encoding.lower() == "base64":
            chunk = self._align_base64_chunk(chunk, len(carry) + want)

        if self._read_bytes == self._length:
            self._at_eof = True
        if self._at_eof and await self._content.readline() != b"\r\n":
            raise ValueError("Reader did not read all the data or it is malformed")
        return chunk

    def _align_base64_chunk(self, chunk: bytes, size: int) -> bytes:
        at_end = self._at_eof or (self._length is not None and self._read_bytes >= self._length)
        if not at_end and len(chunk) > size:
            self._b64_carry = chunk[size:]
            chunk = chunk[:size]

        remainder = len(chunk.translate(None, _NON_BASE64_BYTES)) % 4
        if not remainder or at_end:
            return chunk

        cut = len(chunk)
        left = remainder
        while left:
            cut -= 1
            if chunk[cut] in _BASE64_CHARS:
                left -= 1
        if not cut:
            return chunk

        self._b64_carry = chunk[cut:] + self._b64_carry
        return chunk[:cut]

    async def _read_chunk_from_length(self, size: int) -> bytes:
        # The body part has a Content-Length header with proper value.
        assert self._length is not None, "Content-Length required for chunked read"
        chunk_size = min(size, self._length - self._read_bytes)
        chunk = await self._content.read(chunk_size)
        if self._content.at_eof():
            self._at_eof = True
        return chunk

    async def _read_chunk_from_stream(self, size: int) -> bytes:
        # Reads content chunk of body part with unknown length.
        assert size >= self._boundary_len, (
            "Chunk size must be greater or equal than boundary length + 2"
        )
        first_chunk = self._prev_chunk is None
        if first_chunk:
            # We need to re-add the CRLF that got removed from headers parsing.
            self._prev_chunk = b"\r\n" + await self._content.read(size)

        chunk = b""
        # content.read() may return less than size, so loop to ensure
        # there is enough data to detect the boundary.
        while len(chunk) < self._boundary_len:
            chunk += await self._content.read(size)
            self._content_eof += int(self._content.at_eof())
            if self._content_eof > 2:
                raise ValueError("Reading after EOF")
            if self._content_eof:
                break
        if len(chunk) > size:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", category=DeprecationWarning)
                self._content.unread_data(chunk[size:])
            chunk = chunk[:size]

        assert self._prev_chunk is not None
        window = self._prev_chunk + chunk
        sub = b"\r\n" + self._boundary
        if first_chunk:
            idx = window.find(sub)
        else:
            idx = window.find(sub, max(0, len(self._prev_chunk) - len(sub)))
        if idx >= 0:
            # pushing boundary back to content
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", category=DeprecationWarning)
                self._content.unread_data(window[idx:])
            self._prev_chunk = self._prev_chunk[:idx]
            chunk = window[len(self._prev_chunk) : idx]
            if not chunk:
                self._at_eof = True
        result = self._prev_chunk[2 if first_chunk else 0 :]  # Strip initial CRLF
        self._prev_chunk = chunk
        return result

    async def readline(self) -> bytes:
        """Reads body part by line by line."""
        if self._at_eof:
            return b""

        if self._unread:
            line = self._unread.popleft()
        else:
            line = await self._content.readline()

        if line.startswith(self._boundary):
            # the very last boundary may not come with \r\n,
            # so set single rules for everyone
            sline = line.rstrip(b"\r\n")
            boundary = self._boundary
            last_boundary = self._boundary + b"--"
            # ensure that we read exactly the boundary, not something alike
            if sline == boundary or sline == last_boundary:
                self._at_eof = True
                self._unread.append(line)
                return b""
        else:
            next_line = await self._content.readline()
            if next_line.startswith(self._boundary):
                line = line[:-2]  # strip CRLF but only once
            self._unread.append(next_line)

        return line

    async def release(self) -> None:
        """Like read(), but reads all the data to the void."""
        if self._at_eof:
            return
        while not self._at_eof:
            await self.read_chunk(self.chunk_size)

    async def text(self, *, encoding: str | None = None) -> str:
        """Like read(), but assumes that body part contains text data."""
        data = await self.read(decode=True)
        encoding = encoding or self.get_charset(default="utf-8")
        return data.decode(encoding)

    async def json(self, *, encoding: str | None = None) -> dict[str, Any] | None:
        """Like read(), but assumes that body parts contains JSON data."""
        data = await self.read(decode=True)
        if not data:
            return None
        encoding = encoding or self.get_charset(default="utf-8")
        return cast(dict[str, Any], json.loads(data.decode(encoding)))

    async def form(self, *, encoding: str | None = None) -> list[tuple[str, str]]:
        """Like read(), but assumes that body parts contain form urlencoded data."""
        data = await self.read(decode=True)
        if not data:
            return []
        if encoding is not None:
            real_encoding = encoding
        else:
            real_encoding = self.get_charset(default="utf-8")
        try:
            decoded_data = data.rstrip().decode(real_encoding)
        except UnicodeDecodeError:
            raise ValueError("data cannot be decoded with %s encoding" % real_encoding) from None

        return parse_qsl(decoded_data, keep_blank_values=True, encoding=real_encoding)

    def at_eof(self) -> bool:
        """Returns True if the boundary was reached or False otherwise."""
        return self._at_eof

    def _apply_content_transfer_decoding(self, data: Any) -> Any:
        if CONTENT_TRANSFER_ENCODING in self.headers:
            return self._decode_content_transfer(data)
        return data

    def _needs_content_decoding(self) -> bool:
        # https://datatracker.ietf.org/doc/html/rfc7578#section-4.8
        return not self._is_form_data and CONTENT_ENCODING in self.headers

    def decode(self, data: Any) -> Any:
        """Decodes data synchronously (Content-Encoding, Content-Transfer-Encoding)."""
        decoded = self._apply_content_transfer_decoding(data)
        if self._needs_content_decoding():
            return self._decode_content(decoded)
        return decoded

    async def decode_iter(self, data: Any) -> AsyncIterator[Any]:
        """Yield the decoded data in chunks (decompression off the loop when large)."""
        decoded = self._apply_content_transfer_decoding(data)
        if self._needs_content_decoding():
            async for d in self._decode_content_async(decoded):
                yield d
        else:
            yield decoded

    def _decode_content(self, data: Any) -> Any:
        encoding = self.headers.get(CONTENT_ENCODING, "").lower()
        if encoding == "identity":
            return data
        if encoding in {"deflate", "gzip"}:
            return _Decompressor(encoding).decompress_sync(
                data, max_length=self._max_decompress_size
            )
        raise RuntimeError(f"unknown content encoding: {encoding}")

    async def _decode_content_async(self, data: Any) -> AsyncIterator[Any]:
        encoding = self.headers.get(CONTENT_ENCODING, "").lower()
        if encoding == "identity":
            yield data
        elif encoding in {"deflate", "gzip"}:
            d = _Decompressor(encoding)
            yield await d.decompress(data, max_length=self._max_decompress_size)
            while d.data_available:
                yield await d.decompress(b"", max_length=self._max_decompress_size)
        else:
            raise RuntimeError(f"unknown content encoding: {encoding}")

    def _decode_content_transfer(self, data: Any) -> Any:
        encoding = self.headers.get(CONTENT_TRANSFER_ENCODING, "").lower()

        if encoding == "base64":
            return base64.b64decode(data)
        elif encoding == "quoted-printable":
            return binascii.a2b_qp(data)
        elif encoding in ("binary", "8bit", "7bit"):
            return data
        else:
            raise RuntimeError(f"unknown content transfer encoding: {encoding}")

    def get_charset(self, default: str) -> str:
        """Returns charset parameter from Content-Type header or default."""
        ctype = self.headers.get(CONTENT_TYPE, "")
        mimetype = parse_mimetype(ctype)
        return mimetype.parameters.get("charset", self._default_charset or default)

    @cached_property
    def name(self) -> str | None:
        """The name in the Content-Disposition header (None if missing or malformed)."""
        _, params = parse_content_disposition(self.headers.get(CONTENT_DISPOSITION))
        return content_disposition_filename(params, "name")

    @cached_property
    def filename(self) -> str | None:
        """The filename in the Content-Disposition header (None if missing or malformed)."""
        _, params = parse_content_disposition(self.headers.get(CONTENT_DISPOSITION))
        return content_disposition_filename(params, "filename")


class BodyPartReaderPayload(Payload):
    _value: BodyPartReader

    def __init__(self, value: BodyPartReader, *args: Any, **kwargs: Any) -> None:
        super().__init__(value, *args, **kwargs)

        params: dict[str, str] = {}
        if value.name is not None:
            params["name"] = value.name
        if value.filename is not None:
            params["filename"] = value.filename

        if params:
            self.set_content_disposition("attachment", True, **params)

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        raise TypeError("Unable to decode.")

    async def as_bytes(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        raise TypeError("Unable to read body part as bytes. Use write() to consume.")

    async def write(self, writer: Any) -> None:
        async for d in self._chunks():
            await writer.write(d)

    async def _chunks(self) -> AsyncIterator[bytes]:
        field = self._value
        # Reading the part drains the stream irreversibly.
        self._consumed = True
        while True:
            chunk = await field.read_chunk(size=DEFAULT_CHUNK_SIZE)
            if not chunk:
                return
            async for d in field.decode_iter(chunk):
                yield bytes(d)


PAYLOAD_REGISTRY.register(
    BodyPartReaderPayload, BodyPartReader, order=Order.try_first, _builtin=True
)


_FIELD_VALUE_FORBIDDEN_CTL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_TOKENRE = re.compile(r"[0-9A-Za-z" + re.escape("!#$%&'*+-.^_`|~") + r"]+")
_SINGLETON_HEADERS = frozenset(
    {
        "content-length",
        "content-location",
        "content-range",
        "content-type",
        "etag",
        "host",
        "max-forwards",
        "server",
        "transfer-encoding",
        "user-agent",
    }
)


def _parse_headers(lines: list[bytes]) -> "CIMultiDictProxy[str]":
    """A part head, parsed as aiohttp's (strict) HeadersParser does."""
    headers: CIMultiDict[str] = CIMultiDict()
    for line in lines:
        if not line:
            break
        try:
            bname, bvalue = line.split(b":", 1)
        except ValueError:
            raise InvalidHeader(line) from None
        if len(bname) == 0:
            raise InvalidHeader(bname)
        if {bname[0], bname[-1]} & {32, 9}:
            raise InvalidHeader(line)
        name = bname.decode("utf-8", "surrogateescape")
        if not _TOKENRE.fullmatch(name):
            raise InvalidHeader(bname)
        bvalue = bvalue.strip(b" \t")
        value = bvalue.decode("utf-8", "surrogateescape")
        if _FIELD_VALUE_FORBIDDEN_CTL_RE.search(value):
            raise InvalidHeader(bvalue)
        if name in headers and name.lower() in _SINGLETON_HEADERS:
            raise BadHttpMessage(f"Duplicate '{name}' header found.")
        headers.add(name, value)
    return CIMultiDictProxy(headers)


class MultipartReader:
    """Multipart body reader."""

    #: Response wrapper, used when multipart readers constructs from response.
    response_wrapper_cls = MultipartResponseWrapper
    #: Multipart reader class, used to handle multipart/* body parts.
    #: None points to type(self)
    multipart_reader_cls: type["MultipartReader"] | None = None
    #: Body part reader class for non multipart/* content types.
    part_reader_cls = BodyPartReader

    def __init__(
        self,
        headers: Mapping[str, str],
        content: StreamReader,
        *,
        client_max_size: int = sys.maxsize,
        max_field_size: int = 8190,
        max_headers: int = 128,
        max_size_error_cls: type[Exception] = ValueError,
    ) -> None:
        self._mimetype = parse_mimetype(headers[CONTENT_TYPE])
        assert self._mimetype.type == "multipart", "multipart/* content type expected"
        if "boundary" not in self._mimetype.parameters:
            raise ValueError("boundary missed for Content-Type: %s" % headers[CONTENT_TYPE])

        self.headers = headers
        self._boundary = ("--" + self._get_boundary()).encode()
        self._client_max_size = client_max_size
        self._content = content
        self._default_charset: str | None = None
        self._last_part: MultipartReader | BodyPartReader | None = None
        self._max_field_size = max_field_size
        self._max_headers = max_headers
        self._max_size_error_cls = max_size_error_cls
        self._at_eof = False
        self._at_bof = True
        self._unread: list[bytes] = []

    def __aiter__(self) -> "MultipartReader":
        return self

    async def __anext__(self) -> Union["MultipartReader", BodyPartReader]:
        part = await self.next()
        if part is None:
            raise StopAsyncIteration
        return part

    @classmethod
    def from_response(cls, response: "ClientResponse") -> MultipartResponseWrapper:
        """Constructs reader instance from HTTP response."""
        obj = cls.response_wrapper_cls(response, cls(response.headers, response.content))
        return obj

    def at_eof(self) -> bool:
        """Returns True if the final boundary was reached, false otherwise."""
        return self._at_eof

    async def next(self) -> Union["MultipartReader", BodyPartReader] | None:
        """Emits the next multipart body part."""
        if self._at_eof:
            return None
        await self._maybe_release_last_part()
        if self._at_bof:
            await self._read_until_first_boundary()
            self._at_bof = False
        else:
            await self._read_boundary()
        if self._at_eof:  # we just read the last boundary, nothing to do there
            return None

        part = await self.fetch_next_part()
        # https://datatracker.ietf.org/doc/html/rfc7578#section-4.6
        if (
            self._last_part is None
            and self._mimetype.subtype == "form-data"
            and isinstance(part, BodyPartReader)
        ):
            _, params = parse_content_disposition(part.headers.get(CONTENT_DISPOSITION))
            if params.get("name") == "_charset_":
                charset = await part.read_chunk(32)
                if len(charset) > 31:
                    raise RuntimeError("Invalid default charset")
                self._default_charset = charset.strip().decode()
                part = await self.fetch_next_part()
        self._last_part = part
        return self._last_part

    async def release(self) -> None:
        """Reads all the body parts to the void till the final boundary."""
        while not self._at_eof:
            item = await self.next()
            if item is None:
                break
            await item.release()

    async def fetch_next_part(self) -> Union["MultipartReader", BodyPartReader]:
        """Returns the next body part reader."""
        headers = await self._read_headers()
        return self._get_part_reader(headers)

    def _get_part_reader(
        self, headers: "CIMultiDictProxy[str]"
    ) -> Union["MultipartReader", BodyPartReader]:
        """Dispatches the part by its Content-Type header."""
        ctype = headers.get(CONTENT_TYPE, "")
        mimetype = parse_mimetype(ctype)

        if mimetype.type == "multipart":
            cls = self.multipart_reader_cls or type(self)
            return cls(
                headers,
                self._content,
                client_max_size=self._client_max_size,
                max_field_size=self._max_field_size,
                max_headers=self._max_headers,
                max_size_error_cls=self._max_size_error_cls,
            )
        return self.part_reader_cls(
            self._boundary,
            headers,
            self._content,
            subtype=self._mimetype.subtype,
            default_charset=self._default_charset,
            client_max_size=self._client_max_size,
            max_size_error_cls=self._max_size_error_cls,
        )

    def _get_boundary(self) -> str:
        boundary = self._mimetype.parameters["boundary"]
        if len(boundary) > 70:
            raise ValueError("boundary %r is too long (70 chars max)" % boundary)
        return boundary

    async def _readline(self) -> bytes:
        if self._unread:
            return self._unread.pop()
        return await self._content.readline()

    async def _read_until_first_boundary(self) -> None:
        while True:
            chunk = await self._readline()
            if chunk == b"":
                raise ValueError("Could not find starting boundary %r" % (self._boundary))
            chunk = chunk.rstrip()
            if chunk == self._boundary:
                return
            elif chunk == self._boundary + b"--":
                self._at_eof = True
                return

    async def _read_boundary(self) -> None:
        chunk = (await self._readline()).rstrip()
        if chunk == self._boundary:
            pass
        elif chunk == self._boundary + b"--":
            self._at_eof = True
            epilogue = await self._readline()
            next_line = await self._readline()

            # the epilogue is expected and then either the end of input or the
            # parent multipart boundary, if the parent boundary is found then
            # it should be marked as unread and handed to the parent for
            # processing
            if next_line[:2] == b"--":
                self._unread.append(next_line)
            # otherwise the request is likely missing an epilogue and both
            # lines should be passed to the parent for processing
            else:
                self._unread.extend([next_line, epilogue])
        else:
            raise ValueError(f"Invalid boundary {chunk!r}, expected {self._boundary!r}")

    async def _read_headers(self) -> "CIMultiDictProxy[str]":
        lines = []
        while True:
            chunk = await self._content.readline(max_line_length=self._max_field_size)
            chunk = chunk.rstrip(b"\r\n")
            lines.append(chunk)
            if not chunk:
                break
            if len(lines) > self._max_headers:
                raise BadHttpMessage("Too many headers received")
        return _parse_headers(lines)

    async def _maybe_release_last_part(self) -> None:
        """Ensures that the last read body part is read completely."""
        if self._last_part is not None:
            if not self._last_part.at_eof():
                await self._last_part.release()
            self._unread.extend(self._last_part._unread)
            self._last_part = None


_Part = tuple[Payload, str, str]


class MultipartWriter(Payload):
    """Multipart body writer."""

    _value: None
    _autoclose = True

    def __init__(self, subtype: str = "mixed", boundary: str | None = None) -> None:
        boundary = boundary if boundary is not None else uuid.uuid4().hex
        # The boundary goes into a str header: ASCII only.
        try:
            self._boundary = boundary.encode("ascii")
        except UnicodeEncodeError:
            raise ValueError("boundary should contain ASCII only chars") from None
        ctype = f"multipart/{subtype}; boundary={self._boundary_value}"

        super().__init__(None, content_type=ctype)

        self._parts: list[_Part] = []
        self._is_form_data = subtype == "form-data"

    def __enter__(self) -> "MultipartWriter":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        pass

    @property
    def consumed(self) -> bool:
        """Whether the writer or any of its parts can no longer be replayed."""
        return self._consumed or any(part.consumed for part, _, _ in self._parts)

    def __iter__(self) -> Iterator[_Part]:
        return iter(self._parts)

    def __len__(self) -> int:
        return len(self._parts)

    def __bool__(self) -> bool:
        return True

    _valid_tchar_regex = re.compile(rb"\A[!#$%&'*+\-.^_`|~\w]+\Z")
    _invalid_qdtext_char_regex = re.compile(rb"[\x00-\x08\x0A-\x1F\x7F]")

    @property
    def _boundary_value(self) -> str:
        """The boundary parameter value, quoted when it must be (RFC 7231)."""
        value = self._boundary
        if re.match(self._valid_tchar_regex, value):
            return value.decode("ascii")

        if re.search(self._invalid_qdtext_char_regex, value):
            raise ValueError("boundary value contains invalid characters")

        # escape %x5C and %x22
        quoted_value_content = value.replace(b"\\", b"\\\\")
        quoted_value_content = quoted_value_content.replace(b'"', b'\\"')

        return '"' + quoted_value_content.decode("ascii") + '"'

    @property
    def boundary(self) -> str:
        return self._boundary.decode("ascii")

    def append(self, obj: Any, headers: Mapping[str, str] | None = None) -> Payload:
        if headers is None:
            headers = CIMultiDict()

        if isinstance(obj, Payload):
            obj.headers.update(headers)
            return self.append_payload(obj)
        else:
            try:
                payload = get_payload(obj, headers=headers)
            except LookupError:
                raise TypeError("Cannot create payload from %r" % obj) from None
            else:
                return self.append_payload(payload)

    def append_payload(self, payload: Payload) -> Payload:
        """Adds a new body part to multipart writer."""
        encoding: str | None = None
        te_encoding: str | None = None
        if self._is_form_data:
            # https://datatracker.ietf.org/doc/html/rfc7578#section-4.7
            # https://datatracker.ietf.org/doc/html/rfc7578#section-4.8
            assert (
                not {CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TRANSFER_ENCODING}
                & payload.headers.keys()
            )
            # Set default Content-Disposition in case user doesn't create one
            if CONTENT_DISPOSITION not in payload.headers:
                name = f"section-{len(self._parts)}"
                payload.set_content_disposition("form-data", name=name)
        else:
            # compression
            encoding = payload.headers.get(CONTENT_ENCODING, "").lower()
            if encoding and encoding not in ("deflate", "gzip", "identity"):
                raise RuntimeError(f"unknown content encoding: {encoding}")
            if encoding == "identity":
                encoding = None

            # te encoding
            te_encoding = payload.headers.get(CONTENT_TRANSFER_ENCODING, "").lower()
            if te_encoding not in ("", "base64", "quoted-printable", "binary"):
                raise RuntimeError(f"unknown content transfer encoding: {te_encoding}")
            if te_encoding == "binary":
                te_encoding = None

            # size
            size = payload.size
            if size is not None and not (encoding or te_encoding):
                payload.headers[CONTENT_LENGTH] = str(size)

        self._parts.append((payload, encoding, te_encoding))  # type: ignore[arg-type]
        return payload

    def append_json(self, obj: Any, headers: Mapping[str, str] | None = None) -> Payload:
        """Helper to append JSON part."""
        if headers is None:
            headers = CIMultiDict()

        return self.append_payload(JsonPayload(obj, headers=headers))

    def append_form(
        self,
        obj: Sequence[tuple[str, str]] | Mapping[str, str],
        headers: Mapping[str, str] | None = None,
    ) -> Payload:
        """Helper to append form urlencoded part."""
        assert isinstance(obj, (Sequence, Mapping))

        if headers is None:
            headers = CIMultiDict()

        if isinstance(obj, Mapping):
            obj = list(obj.items())
        data = urlencode(obj, doseq=True)

        return self.append_payload(
            StringPayload(data, headers=headers, content_type="application/x-www-form-urlencoded")
        )

    @property
    def size(self) -> int | None:
        """Size of the payload."""
        total = 0
        for part, encoding, te_encoding in self._parts:
            part_size = part.size
            if encoding or te_encoding or part_size is None:
                return None

            total += int(
                2
                + len(self._boundary)
                + 2
                + part_size  # b'--'+self._boundary+b'\r\n'
                + len(part._binary_headers)
                + 2  # b'\r\n'
            )

        total += 2 + len(self._boundary) + 4  # b'--'+self._boundary+b'--\r\n'
        return total

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        """The multipart data as a string (may do blocking I/O for file parts)."""
        return "".join(
            "--"
            + self.boundary
            + "\r\n"
            + part._binary_headers.decode(encoding, errors)
            + part.decode()
            for part, _e, _te in self._parts
        )

    async def as_bytes(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        """The multipart data as bytes."""
        parts: list[bytes] = []
        for part, _e, _te in self._parts:
            parts.append(b"--" + self._boundary + b"\r\n")
            parts.append(part._binary_headers)
            part_bytes = await part.as_bytes(encoding, errors)
            parts.append(part_bytes)
            parts.append(b"\r\n")
        parts.append(b"--" + self._boundary + b"--\r\n")
        return b"".join(parts)

    def _check_part(self, part: Payload) -> None:
        if self._is_form_data:
            # https://datatracker.ietf.org/doc/html/rfc7578#section-4.2
            assert CONTENT_DISPOSITION in part.headers
            assert "name=" in part.headers[CONTENT_DISPOSITION]

    async def write(self, writer: Any, close_boundary: bool = True) -> None:
        """Write body."""
        for part, encoding, te_encoding in self._parts:
            self._check_part(part)

            await writer.write(b"--" + self._boundary + b"\r\n")
            await writer.write(part._binary_headers)

            if encoding or te_encoding:
                w = MultipartPayloadWriter(writer)
                if encoding:
                    w.enable_compression(encoding)
                if te_encoding:
                    w.enable_encoding(te_encoding)
                await part.write(w)
                await w.write_eof()
            else:
                await part.write(writer)

            await writer.write(b"\r\n")

        if close_boundary:
            await writer.write(b"--" + self._boundary + b"--\r\n")

    async def close(self) -> None:
        """Close all part payloads that need explicit closing."""
        if self._consumed:
            return
        self._consumed = True

        for idx, (part, _, _) in enumerate(self._parts):
            if not part.autoclose and not part.consumed:
                try:
                    await part.close()
                except Exception as exc:
                    internal_logger.error(
                        "Failed to close multipart part %d: %s", idx, exc, exc_info=True
                    )

    # -- aioxide: the body as the engine takes it ---------------------------
    def _mem(self) -> bytes | None:
        """The whole body when every part is in memory and not encoded."""
        out: list[bytes] = []
        for part, encoding, te_encoding in self._parts:
            if encoding or te_encoding:
                return None
            self._check_part(part)
            data = _payload_mem(part, False)
            if data is None:
                return None
            out += (b"--" + self._boundary + b"\r\n", part._binary_headers, data, b"\r\n")
        out.append(b"--" + self._boundary + b"--\r\n")
        return b"".join(out)

    async def _chunks(self) -> AsyncIterator[bytes]:
        """The body as chunks: parts in memory are gathered, the others streamed."""
        pending: list[bytes] = []
        size = 0
        for part, encoding, te_encoding in self._parts:
            self._check_part(part)
            head = b"--" + self._boundary + b"\r\n" + part._binary_headers
            pending.append(head)
            size += len(head)
            data = None if encoding or te_encoding else _payload_mem(part, False)
            if data is not None and len(data) < CHUNK_SIZE:
                pending.append(data)
                size += len(data)
            else:
                if pending:
                    yield b"".join(pending)
                    pending, size = [], 0
                if data is not None:
                    yield data
                else:
                    chunks = _payload_chunks(part, False)
                    if encoding or te_encoding:
                        chunks = _encoded(chunks, encoding, te_encoding)
                    async for chunk in chunks:
                        if chunk:
                            yield chunk
            pending.append(b"\r\n")
            size += 2
            if size >= CHUNK_SIZE:
                yield b"".join(pending)
                pending, size = [], 0
        pending.append(b"--" + self._boundary + b"--\r\n")
        yield b"".join(pending)


_NATIVE_WRITE.add(MultipartWriter.write)
_NATIVE_WRITE.add(BodyPartReaderPayload.write)


class _ListWriter:
    def __init__(self) -> None:
        self.out: list[bytes] = []

    async def write(self, chunk: bytes) -> None:
        self.out.append(bytes(chunk))


async def _encoded(
    chunks: AsyncIterator[bytes], encoding: str | None, te_encoding: str | None
) -> AsyncIterator[bytes]:
    """A part's chunks through its Content-Encoding and Content-Transfer-Encoding."""
    sink = _ListWriter()
    w = MultipartPayloadWriter(sink)
    if encoding:
        w.enable_compression(encoding)
    if te_encoding:
        w.enable_encoding(te_encoding)
    async for chunk in chunks:
        await w.write(chunk)
        if sink.out:
            out, sink.out = sink.out, []
            for piece in out:
                yield piece
    await w.write_eof()
    for piece in sink.out:
        yield piece


class _Compressor:
    def __init__(self, encoding: str, strategy: int | None = None) -> None:
        mode = _zlib_mode(encoding)
        if strategy is None:
            self._c = zlib.compressobj(wbits=mode)
        else:
            self._c = zlib.compressobj(wbits=mode, strategy=strategy)

    async def compress(self, data: bytes) -> bytes:
        if len(data) > MAX_SYNC_CHUNK_SIZE:
            return await asyncio.get_running_loop().run_in_executor(None, self._c.compress, data)
        return self._c.compress(data)

    def flush(self) -> bytes:
        return self._c.flush(zlib.Z_FINISH)


class MultipartPayloadWriter:
    def __init__(self, writer: Any) -> None:
        self._writer = writer
        self._encoding: str | None = None
        self._compress: _Compressor | None = None
        self._encoding_buffer: bytearray | None = None

    def enable_encoding(self, encoding: str) -> None:
        if encoding == "base64":
            self._encoding = encoding
            self._encoding_buffer = bytearray()
        elif encoding == "quoted-printable":
            self._encoding = "quoted-printable"

    def enable_compression(self, encoding: str = "deflate", strategy: int | None = None) -> None:
        self._compress = _Compressor(encoding, strategy)

    async def write_eof(self) -> None:
        if self._compress is not None:
            chunk = self._compress.flush()
            if chunk:
                self._compress = None
                await self.write(chunk)

        if self._encoding == "base64":
            if self._encoding_buffer:
                await self._writer.write(base64.b64encode(self._encoding_buffer))

    async def write(self, chunk: bytes) -> None:
        if self._compress is not None:
            if chunk:
                chunk = await self._compress.compress(chunk)
                if not chunk:
                    return

        if self._encoding == "base64":
            buf = self._encoding_buffer
            assert buf is not None
            buf.extend(chunk)

            if buf:
                div, mod = divmod(len(buf), 3)
                enc_chunk, self._encoding_buffer = (buf[: div * 3], buf[div * 3 :])
                if enc_chunk:
                    b64chunk = base64.b64encode(enc_chunk)
                    await self._writer.write(b64chunk)
        elif self._encoding == "quoted-printable":
            await self._writer.write(binascii.b2a_qp(chunk))
        else:
            await self._writer.write(chunk)
