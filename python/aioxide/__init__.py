"""aioxide: aiohttp's client API with a Rust engine.

import aioxide as aiohttp

async with aiohttp.ClientSession() as session:
    async with session.get("http://example.org/") as resp:
        print(resp.status, await resp.text())
"""

from __future__ import annotations

from . import abc, hdrs
from .client import ClientSession, ClientTimeout, request
from .client_exceptions import (
    ClientConnectionError,
    ClientConnectionResetError,
    ClientConnectorCertificateError,
    ClientConnectorDNSError,
    ClientConnectorError,
    ClientConnectorSSLError,
    ClientError,
    ClientHttpProxyError,
    ClientOSError,
    ClientPayloadError,
    ClientProxyConnectionError,
    ClientResponseError,
    ClientSSLError,
    ConnectionTimeoutError,
    ContentTypeError,
    InvalidURL,
    InvalidUrlClientError,
    InvalidUrlRedirectClientError,
    NonHttpUrlClientError,
    NonHttpUrlRedirectClientError,
    RedirectClientError,
    ServerConnectionError,
    ServerDisconnectedError,
    ServerFingerprintMismatch,
    ServerTimeoutError,
    SocketTimeoutError,
    TooManyRedirects,
    UnixClientConnectorError,
    WSServerHandshakeError,
)
from .client_reqrep import ClientResponse, ContentDisposition, RequestInfo
from .compression_utils import set_zlib_backend
from .connector import BaseConnector, TCPConnector
from .formdata import FormData
from .helpers import BasicAuth, ETag, encode_basic_auth
from .http import HttpVersion, HttpVersion10, HttpVersion11
from .multipart import (
    BadContentDispositionHeader,
    BadContentDispositionParam,
    BodyPartReader,
    MultipartReader,
    MultipartWriter,
    content_disposition_filename,
    parse_content_disposition,
)
from .payload import (
    PAYLOAD_REGISTRY,
    AsyncIterablePayload,
    BufferedReaderPayload,
    BytesIOPayload,
    BytesPayload,
    IOBasePayload,
    JsonPayload,
    Payload,
    StringIOPayload,
    StringPayload,
    TextIOPayload,
    get_payload,
    payload_type,
)
from .resolver import AsyncResolver, DefaultResolver, ThreadedResolver
from .streams import EMPTY_PAYLOAD, StreamReader

__version__ = "0.1.0"

__all__ = (
    "abc",
    "AsyncIterablePayload",
    "AsyncResolver",
    "BadContentDispositionHeader",
    "BadContentDispositionParam",
    "BaseConnector",
    "BasicAuth",
    "BodyPartReader",
    "BufferedReaderPayload",
    "BytesIOPayload",
    "BytesPayload",
    "ClientConnectionError",
    "ClientConnectionResetError",
    "ClientConnectorCertificateError",
    "ClientConnectorDNSError",
    "ClientConnectorError",
    "ClientConnectorSSLError",
    "ClientError",
    "ClientHttpProxyError",
    "ClientOSError",
    "ClientPayloadError",
    "ClientProxyConnectionError",
    "ClientResponse",
    "ClientResponseError",
    "ClientSession",
    "ClientSSLError",
    "ClientTimeout",
    "ConnectionTimeoutError",
    "content_disposition_filename",
    "ContentDisposition",
    "ContentTypeError",
    "DefaultResolver",
    "EMPTY_PAYLOAD",
    "encode_basic_auth",
    "ETag",
    "FormData",
    "get_payload",
    "hdrs",
    "HttpVersion",
    "HttpVersion10",
    "HttpVersion11",
    "InvalidURL",
    "InvalidUrlClientError",
    "InvalidUrlRedirectClientError",
    "IOBasePayload",
    "JsonPayload",
    "MultipartReader",
    "MultipartWriter",
    "NonHttpUrlClientError",
    "NonHttpUrlRedirectClientError",
    "parse_content_disposition",
    "Payload",
    "PAYLOAD_REGISTRY",
    "payload_type",
    "RedirectClientError",
    "request",
    "RequestInfo",
    "ServerConnectionError",
    "ServerDisconnectedError",
    "ServerFingerprintMismatch",
    "ServerTimeoutError",
    "set_zlib_backend",
    "SocketTimeoutError",
    "StreamReader",
    "StringIOPayload",
    "StringPayload",
    "TCPConnector",
    "TextIOPayload",
    "ThreadedResolver",
    "TooManyRedirects",
    "UnixClientConnectorError",
    "WSServerHandshakeError",
)
