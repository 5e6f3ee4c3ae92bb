"""Outbound connections to trackers go to public addresses only (SSRF protection).

A tracker URL is typed in by a user, so without a guard Certifai would send requests, with a token, wherever
it points: the cloud metadata service (169.254.169.254, fd00:ec2::254, 100.100.100.200, ...), the database or
Redis next to it, an admin port on localhost. The rules:

- **https only**: plain http only to a host allowed by `CERTIFAI_TRACKER_ALLOWED_HOSTS` (host names or CIDRs).
- **public addresses only**: the address a connection *actually reached* must not be loopback, private,
  link-local, unique-local, multicast, reserved, unspecified, otherwise not globally routable, nor a cloud
  metadata address; IPv6 forms that carry an IPv4 address (IPv4-mapped `::ffff:127.0.0.1`, IPv4-compatible,
  NAT64 `64:ff9b::/96`, 6to4, Teredo) are judged by that IPv4 address. The exception is a host whose name,
  or whose address, is in the allow-list: a self-hosted tracker on a private network. A cloud metadata address
  needs its address (or a network holding it) in the list; an allowed host name is not enough.
- The check runs **at connect time**, on the peer address of the socket that was just opened, before a byte
  (TLS hello, request, token) is sent. So it holds for every redirect hop, and for DNS rebinding: the address
  checked is the address connected to, not an earlier answer. `url_problem` checks the same rules at save time
  for a clear form error, but that is a courtesy; the connect-time check is the guard.
- **Writes never follow redirects**: a POST/PUT/PATCH/DELETE answered with a redirect raises `RedirectRefused`
  (a resent write can file an issue twice, and 301/302 turn it into a GET anyway).

How it is installed: `guard_session(session, allowed_hosts)` mounts `GuardedHTTPAdapter` for http:// and https://
on a `requests.Session` (every tracker client library sits on one) and adds the write-redirect hook. The
adapter's urllib3 pools use connection classes whose `_new_conn` checks `socket.getpeername()` right after
connecting. Through a proxy (HTTPS_PROXY and friends) the connection goes to the proxy, which resolves the
tracker's name itself: there the target's name is resolved and checked before the request instead, which does
not defeat DNS rebinding (the proxy is the operator's to lock down).

Refusals raise `AddressRefused` (a `requests.exceptions.ConnectionError`, so code that knows nothing of this
module still sees a failed connection, never a success) or `RedirectRefused`; `refusal(exc)` finds either in an
exception chain, and adapters turn it into a TrackerConfigError whose message names the host and the reason.

Pure Python: no Django. The allow-list is passed in as a value (TrackerSettings.allowed_hosts).
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.utils import select_proxy
from urllib3 import PoolManager
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

SETTING = "CERTIFAI_TRACKER_ALLOWED_HOSTS"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RESOLVE_TIMEOUT = 3.0  # seconds, for the save-time check only

# Instance metadata and host-agent endpoints of the clouds: credentials live there.
CLOUD_METADATA = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle, Hetzner, ...
    "169.254.170.2",  # AWS ECS task metadata and credentials
    "169.254.170.23",  # AWS EKS pod identity agent
    "169.254.0.23",  # Tencent Cloud
    "fd00:ec2::254",  # AWS over IPv6
    "fd00:ec2::23",  # AWS EKS pod identity agent over IPv6
    "100.100.100.200",  # Alibaba Cloud
    "192.0.0.192",  # Oracle Cloud (legacy)
    "168.63.129.16",  # Azure WireServer (a public address, reachable from every Azure VM)
))
_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


# --- addresses ---------------------------------------------------------------------------------------------------


def parse_address(value: Any) -> IPAddress | None:
    """An IP address from "127.0.0.1", "[::1]" or "fe80::1%eth0"; None for a host name."""
    text = str(value).strip().strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def display(ip: IPAddress) -> str:
    """How an address is written in messages (an IPv4-mapped one as ::ffff:127.0.0.1)."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return f"::ffff:{ip.ipv4_mapped}"
    return str(ip)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, where one does (mapped, compatible, NAT64, 6to4, Teredo)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if any(ip in net for net in _NAT64) or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def refused_reason(address: Any) -> str | None:
    """Why a connection to `address` is refused unless allowed ("a loopback address", ...), or None for a
    public address. Raises ValueError for something that is not an IP address."""
    ip = address if isinstance(address, ipaddress.IPv4Address | ipaddress.IPv6Address) else parse_address(address)
    if ip is None:
        raise ValueError(f"not an IP address: {address!r}")
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            reason = refused_reason(inner)
            if reason:
                return f"{reason} in IPv6 form ({display(ip)} stands for {inner})"
            if ip.ipv4_mapped is not None:  # ::ffff:8.8.8.8 is 8.8.8.8, reached over an IPv6 socket
                return None
    if ip in CLOUD_METADATA:
        return "a cloud metadata address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if isinstance(ip, ipaddress.IPv6Address) and ip in _UNIQUE_LOCAL:
        return "a unique-local address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return "a site-local address"
    if ip.is_private:
        return "a private address"
    if ip.is_reserved:
        return "a reserved address"
    if not ip.is_global:
        return "an address that is not publicly routable"
    return None


def _is_metadata(ip: IPAddress) -> bool:
    inner = _embedded_ipv4(ip) if isinstance(ip, ipaddress.IPv6Address) else None
    return ip in CLOUD_METADATA or (inner is not None and inner in CLOUD_METADATA)


def normalize_host(host: str) -> str:
    """Lower case, no brackets, no trailing dot: the form host names are compared in."""
    return str(host or "").strip().strip("[]").rstrip(".").lower()


# --- the allow-list ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AllowList:
    """CERTIFAI_TRACKER_ALLOWED_HOSTS: host names, and IP addresses or CIDRs."""

    names: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str] | str | None) -> AllowList:
        if isinstance(entries, AllowList):
            return entries
        if isinstance(entries, str):
            entries = entries.split(",")
        names: set[str] = set()
        networks: list[IPNetwork] = []
        for raw in entries or ():
            entry = str(raw).strip()
            if "://" in entry:  # a pasted URL: its host
                entry = urlsplit(entry).hostname or ""
            if not entry:
                continue
            if "/" in entry:
                try:
                    networks.append(ipaddress.ip_network(entry, strict=False))
                except ValueError:
                    logger.warning("%s: ignored %r, which is neither a host name nor a CIDR", SETTING, entry)
                continue
            ip = parse_address(entry)
            if ip is not None:
                networks.append(ipaddress.ip_network(ip))
            else:
                names.add(normalize_host(entry))
        return cls(frozenset(names), tuple(networks))

    def __bool__(self) -> bool:
        return bool(self.names or self.networks)

    def allows_address(self, ip: IPAddress) -> bool:
        candidates = [ip]
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            candidates.append(ip.ipv4_mapped)
        return any(c.version == net.version and c in net for c in candidates for net in self.networks)

    def allows_host(self, host: str) -> bool:
        """The host (a name, or an IP address literal) is listed."""
        host = normalize_host(host)
        if host in self.names:
            return True
        ip = parse_address(host)
        return ip is not None and self.allows_address(ip)


# --- refusals ----------------------------------------------------------------------------------------------------


class Refusal(Exception):
    """Why a connection may not be used. Deliberately not an OSError: urllib3 must neither wrap nor retry it.
    `GuardedHTTPAdapter.send` turns it into `AddressRefused`."""

    def __init__(self, host: str, address: str, reason: str, http: bool = False):
        self.host, self.address, self.reason, self.http = host, address, reason, http
        super().__init__(self.message)

    @property
    def message(self) -> str:
        if self.http:
            return (f"plain http to {self.host} is refused: use https://{self.host}…, or add the host to "
                    f"{SETTING} for a self-hosted tracker on a private network.")
        literal = parse_address(self.host)
        where = f"the address {self.host} is" if literal is not None and display(literal) == self.address else \
            f"the host {self.host} resolves to {self.address},"
        text = (f"{where} {self.reason}; Certifai connects to trackers on public addresses only. For a self-hosted "
                f"tracker on a private network, add the host (or its network) to {SETTING}.")
        if "metadata" in self.reason:
            text = (f"{where} {self.reason}, which is never a tracker: Certifai refuses it unless that very address "
                    f"is listed in {SETTING}.")
        return text


class RefusedError:
    """Mixin of the requests exceptions this module raises; `message` is safe to show (no URL, no token)."""

    message: str


class AddressRefused(RefusedError, requests.exceptions.ConnectionError):
    """A connection reached (or would reach) an address that is not allowed, or plain http to a host not allowed."""

    def __init__(self, message: str, **kwargs: Any):
        self.message = message
        super().__init__(message, **kwargs)


class RedirectRefused(RefusedError, requests.exceptions.RequestException):
    """A write was answered with a redirect: not followed."""

    def __init__(self, message: str, **kwargs: Any):
        self.message = message
        super().__init__(message, **kwargs)


def refusal(exc: BaseException | None, _seen: set[int] | None = None) -> RefusedError | None:
    """The AddressRefused or RedirectRefused in `exc`, its causes, contexts or arguments, or None."""
    seen = set() if _seen is None else _seen
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, RefusedError):
            return exc
        for arg in getattr(exc, "args", ()):
            if isinstance(arg, BaseException):
                found = refusal(arg, seen)
                if found is not None:
                    return found
        exc = exc.__cause__ or exc.__context__
    return None


def refusal_text(exc: BaseException | None, tracker: str, action: str) -> str | None:
    """A message for a TrackerConfigError when `exc` is a refusal of this module (names the host and why), or None."""
    found = refusal(exc)
    if found is None:
        return None
    if isinstance(found, RedirectRefused):
        return f"{tracker} redirected the request to {action}, which Certifai does not follow: {found.message}"
    return f"Certifai refused to connect to {tracker} to {action}: {found.message}"


# --- the checks --------------------------------------------------------------------------------------------------


def check_connection(host: str, peer: str, allow: AllowList, *, tls: bool) -> None:
    """Raise Refusal unless a connection to `host` that reached `peer` may be used."""
    name = normalize_host(host)
    ip = parse_address(peer)
    if ip is None:  # a socket without an IP peer (a Unix socket?): nothing a tracker URL can lead to
        raise Refusal(name, str(peer), "not an IP address")
    reason = refused_reason(ip)
    host_allowed = allow.allows_host(name)
    address_allowed = allow.allows_address(ip)
    if reason and not address_allowed and not (host_allowed and not _is_metadata(ip)):
        raise Refusal(name, display(ip), reason)
    if not tls and not (host_allowed or address_allowed):
        raise Refusal(name, display(ip), "plain http", http=True)


def _resolve(host: str, port: int, timeout: float) -> list[str] | None:
    """The addresses `host` resolves to; None when it can't be resolved in time (or at all)."""
    result: list[Any] = []

    def lookup() -> None:
        try:
            result.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except (OSError, UnicodeError) as exc:
            result.append(exc)

    thread = threading.Thread(target=lookup, daemon=True, name="netguard-resolve")
    thread.start()
    thread.join(timeout)
    if not result or isinstance(result[0], BaseException):
        return None
    return list(dict.fromkeys(info[4][0] for info in result[0]))


def check_target(url: str, allow: AllowList, *, resolve: bool = True, timeout: float = RESOLVE_TIMEOUT) -> None:
    """Raise Refusal when `url` is refused by the rules, judging its host by what it resolves to now.

    A name that does not resolve passes (the connection will fail or be checked then). Used at save time and
    before a request through a proxy; the connect-time check is the one that counts."""
    parts = urlsplit(url)
    host = normalize_host(parts.hostname or "")
    if not host:
        return
    scheme = (parts.scheme or "").lower()
    ip = parse_address(host)
    if ip is not None:
        addresses = [str(ip)]
    elif resolve:
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            return
        addresses = _resolve(host, port, timeout) or []
    else:
        addresses = []
    for address in addresses:
        check_connection(host, address, allow, tls=scheme == "https")
    if scheme == "http" and not addresses and not allow.allows_host(host):
        raise Refusal(host, "", "plain http", http=True)


def url_problem(url: str, allowed_hosts: Iterable[str] | AllowList | None, *, resolve: bool = True) -> str | None:
    """What is wrong with a tracker URL under the rules (for a form or API field error), or None."""
    if not url:
        return None
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        return "use an https:// address."
    try:
        check_target(url, AllowList.parse(allowed_hosts), resolve=resolve)
    except Refusal as exc:
        return exc.message
    return None


# --- requests and urllib3 plumbing -------------------------------------------------------------------------------


class _GuardedConnectionMixin:
    """Checks the addresses before connecting, and the peer address right after, before TLS or the request.

    Before: every address the name resolves to must pass, so no packet goes to a refused address (and a
    connection test can't be used to scan internal ports: open or closed, the answer is the same refusal).
    After: the address the socket actually reached must pass, whatever DNS said a moment earlier (rebinding)."""

    allow: AllowList | None = None

    def _new_conn(self) -> socket.socket:
        host, port = self._dns_host, self.port  # type: ignore[attr-defined]
        tls = isinstance(self, HTTPSConnection)
        if self.allow is None:
            raise Refusal(normalize_host(host), "", "not checked: no allow-list was given")
        try:
            infos = socket.getaddrinfo(normalize_host(host), port, socket.AF_UNSPEC, socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            infos = []  # urllib3 resolves again below and reports the failure its own way
        for info in infos:
            check_connection(host, info[4][0], self.allow, tls=tls)
        sock = super()._new_conn()  # type: ignore[misc]
        try:
            try:
                peer = sock.getpeername()[0]
            except OSError:
                peer = ""
            check_connection(host, peer, self.allow, tls=tls)
        except BaseException:
            sock.close()
            raise
        return sock


class GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    pass


class GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    pass


class _GuardedPoolMixin:
    allow: AllowList | None = None

    def _new_conn(self) -> Any:
        conn = super()._new_conn()  # type: ignore[misc]
        conn.allow = self.allow
        return conn


class GuardedHTTPConnectionPool(_GuardedPoolMixin, HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class GuardedHTTPSConnectionPool(_GuardedPoolMixin, HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


class GuardedPoolManager(PoolManager):
    def __init__(self, allow: AllowList, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.allow = allow
        self.pool_classes_by_scheme = {"http": GuardedHTTPConnectionPool, "https": GuardedHTTPSConnectionPool}

    def _new_pool(self, scheme: str, host: str, port: int, request_context: dict[str, Any] | None = None) -> Any:
        pool = super()._new_pool(scheme, host, port, request_context)
        pool.allow = self.allow
        return pool


class GuardedHTTPAdapter(HTTPAdapter):
    """A requests transport adapter whose connections are checked by `check_connection` when they open."""

    def __init__(self, allowed_hosts: Iterable[str] | AllowList | None = (), **kwargs: Any):
        self.allow = AllowList.parse(allowed_hosts)  # before super().__init__, which builds the pool manager
        super().__init__(**kwargs)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        self._pool_connections = connections
        self._pool_maxsize = maxsize
        self._pool_block = block
        self.poolmanager = GuardedPoolManager(self.allow, num_pools=connections, maxsize=maxsize, block=block,
                                              **pool_kwargs)

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        proxies = kwargs.get("proxies") if "proxies" in kwargs else (args[4] if len(args) > 4 else None)
        try:
            if proxies and select_proxy(request.url or "", proxies):
                check_target(request.url or "", self.allow)  # the proxy connects: check the name now
            return super().send(request, *args, **kwargs)
        except Refusal as exc:
            logger.warning("refused a tracker connection: %s", exc.message)
            raise AddressRefused(exc.message, request=request) from None


def _refuse_write_redirect(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
    method = (response.request.method or "GET").upper() if response.request is not None else "GET"
    if response.is_redirect and method not in SAFE_METHODS:
        source = normalize_host(urlsplit(response.url or "").hostname or "")
        target = normalize_host(urlsplit(response.headers.get("location") or "").hostname or "") or source
        response.close()
        message = (f"{source} answered a {method} with a redirect ({response.status_code}) to {target}: set the "
                   "tracker URL to the address the tracker answers on.")
        logger.warning("refused to follow a redirect: %s", message)
        raise RedirectRefused(message, response=response, request=response.request)
    return response


def guard_session(session: requests.Session, allowed_hosts: Iterable[str] | AllowList | None,
                  **adapter_kwargs: Any) -> requests.Session:
    """Make every connection of `session` pass the checks, and its writes never follow a redirect.

    `adapter_kwargs` go to the HTTPAdapter (max_retries, pool_connections, pool_maxsize)."""
    adapter = GuardedHTTPAdapter(allowed_hosts, **adapter_kwargs)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    hooks = session.hooks.setdefault("response", [])
    if _refuse_write_redirect not in hooks:
        hooks.insert(0, _refuse_write_redirect)
    return session


def is_guarded(session: requests.Session) -> bool:
    return all(isinstance(session.get_adapter(f"{scheme}://x"), GuardedHTTPAdapter) for scheme in ("http", "https"))


__all__ = [
    "CLOUD_METADATA", "SETTING", "AddressRefused", "AllowList", "GuardedHTTPAdapter", "RedirectRefused", "Refusal",
    "RefusedError", "check_connection", "check_target", "guard_session", "is_guarded", "normalize_host",
    "refusal", "refusal_text", "refused_reason", "url_problem",
]
