"""A throw-away ``redis-server`` for tests: real server, free port, private directory.

Used by this plugin's tests and usable by anyone testing against the Redis broker::

    with RedisServer(appendonly=True) as server:
        broker = RedisBroker(RedisConfig(url=server.url, stream="orders"))
        ...
        server.restart(kill=True)  # same port and directory: the AOF is replayed

The server is bound to 127.0.0.1, saves no RDB snapshots and, when ``appendonly`` is on,
fsyncs its AOF on every write. On Linux it is told to exit when the thread that started it
ends, so a killed test run leaves no server behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

import redis

INSTALL_HINT = (
    "redis-server is not installed: run scripts/bootstrap.sh, "
    "or `apt-get install redis-server` (Debian/Ubuntu)"
)


class RedisServerError(RuntimeError):
    """The test server could not be found, started or stopped."""


class RedisServer:
    """One ``redis-server`` process; `start` / `stop` / `restart` keep its port and directory.

    ``password``: set ``requirepass`` (the URL then carries it). ``appendonly``: turn the AOF on
    with ``appendfsync always``. ``tls``: serve TLS only, with a self-signed certificate for
    127.0.0.1 (`url` is then ``rediss://`` and names the certificate as CA; needs the
    ``cryptography`` package). ``directory``: where its files go (a new temp dir otherwise,
    removed by `close`).
    """

    def __init__(
        self,
        *,
        password: str | None = None,
        appendonly: bool = False,
        tls: bool = False,
        directory: str | Path | None = None,
        executable: str | None = None,
        start_timeout_s: float = 10.0,
    ) -> None:
        found = executable or shutil.which("redis-server") or _debian_path()
        if found is None:
            raise RedisServerError(INSTALL_HINT)
        self.executable = found
        self.password = password
        self.appendonly = appendonly
        self.tls = tls
        self.start_timeout_s = start_timeout_s
        self._own_dir = directory is None
        self.directory = Path(directory or tempfile.mkdtemp(prefix="jobqueue-redis-"))
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://[:password@]127.0.0.1:<port>/0`` (``rediss://...?ssl_ca_certs=`` for TLS)."""
        return self._url(self.port)

    @property
    def certificate(self) -> Path:
        """The self-signed certificate of a TLS server (also its CA)."""
        return self.directory / "server.crt"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self) -> None:
        """Start the server (on a free port the first time) and wait until it answers PING."""
        if self._process is not None:
            raise RedisServerError(f"redis-server on port {self.port} is already running")
        attempts = 1 if self.port else 5  # a first start may lose its port to a race
        for attempt in range(attempts):
            port = self.port or free_port()
            self._process = self._spawn(port)
            try:
                self._wait_ready(port)
            except RedisServerError:
                self._reap()
                if attempt + 1 == attempts or "Address already in use" not in self._log_tail():
                    raise
                continue
            self.port = port
            return

    def stop(self, *, kill: bool = False) -> None:
        """Stop the server: SIGTERM (clean shutdown) or, with ``kill``, SIGKILL (a crash)."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        self._reap()

    def restart(self, *, kill: bool = False) -> None:
        """Stop and start again on the same port and directory (the AOF is replayed)."""
        self.stop(kill=kill)
        self.start()

    def close(self) -> None:
        """Stop the server and remove its directory if this object created it."""
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.directory, ignore_errors=True)

    def client(self) -> redis.Redis:
        """A plain redis-py client on the server, for checks the broker API does not expose."""
        return redis.Redis.from_url(self.url, socket_timeout=10)

    def __enter__(self) -> RedisServer:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _url(self, port: int) -> str:
        auth = f":{self.password}@" if self.password else ""
        if self.tls:
            return f"rediss://{auth}127.0.0.1:{port}/0?ssl_ca_certs={self.certificate}"
        return f"redis://{auth}127.0.0.1:{port}/0"

    def _spawn(self, port: int) -> subprocess.Popen[bytes]:
        args = [
            self.executable,
            "--port", "0" if self.tls else str(port),
            "--bind", "127.0.0.1",
            "--dir", str(self.directory),
            "--save", "",
            "--daemonize", "no",
            "--logfile", str(self._log_path()),
            "--appendonly", "yes" if self.appendonly else "no",
            "--appendfsync", "always",
        ]  # fmt: skip
        if self.password:
            args += ["--requirepass", self.password]
        if self.tls:
            key = self.directory / "server.key"
            if not self.certificate.exists():
                _write_self_signed(self.certificate, key)
            args += [
                "--tls-port", str(port),
                "--tls-cert-file", str(self.certificate),
                "--tls-key-file", str(key),
                "--tls-ca-cert-file", str(self.certificate),
                "--tls-auth-clients", "no",
            ]  # fmt: skip
        try:
            return subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        except OSError as exc:
            raise RedisServerError(f"cannot run {self.executable}: {exc}. {INSTALL_HINT}") from exc

    def _wait_ready(self, port: int) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.start_timeout_s
        probe = redis.Redis.from_url(self._url(port), socket_timeout=1, socket_connect_timeout=1)
        try:
            while True:
                if self._process.poll() is not None:
                    raise RedisServerError(
                        f"redis-server exited with status {self._process.returncode} "
                        f"on port {port}; log:\n{self._log_tail()}"
                    )
                with contextlib.suppress(redis.RedisError):
                    if probe.ping():
                        return
                if time.monotonic() > deadline:
                    raise RedisServerError(
                        f"redis-server did not answer PING on port {port} within "
                        f"{self.start_timeout_s:.0f} s; log:\n{self._log_tail()}"
                    )
                time.sleep(0.05)
        finally:
            probe.close()

    def _reap(self) -> None:
        if self._process is not None:
            if self._process.poll() is None:
                self._process.kill()
            self._process.wait(timeout=10)
        self._process = None

    def _log_path(self) -> Path:
        return self.directory / "redis.log"

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self._log_path().read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _debian_path() -> str | None:
    path = "/usr/bin/redis-server"
    return path if os.access(path, os.X_OK) else None


def _write_self_signed(certificate: Path, key_path: Path) -> None:
    """A one-day self-signed certificate for 127.0.0.1 and its private key, as PEM files."""
    import datetime
    import ipaddress

    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError as exc:
        raise RedisServerError(
            "a TLS test server needs the `cryptography` package (pip install cryptography)"
        ) from exc
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    certificate.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _die_with_parent() -> None:
    """In the child before exec: ask Linux to SIGTERM it when the parent process dies."""
    import ctypes

    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
