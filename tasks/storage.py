"""Where dataset bytes live: a local directory or an S3 prefix, behind one small interface."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import socket
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ContextManager, Iterator, Protocol
from urllib.parse import urlparse

from labelguard.errors import DatasetExists, DatasetMissing, StoreError, StoreUnreachable

CREDENTIALS_FIX = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE"
EMBEDDED_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "labelguard-embedded",
    "AWS_SECRET_ACCESS_KEY": "labelguard-embedded",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class ObjectInfo:
    """What a write or a head returns: where, how big, which version, and our own digest."""

    key: str
    size: int
    sha256: str | None = None
    version_id: str | None = None


class Store(Protocol):
    """Bytes under a URI. Writes are create-only unless the caller plays the attacker."""

    uri: str

    def put(self, key: str, data: bytes, *, create_only: bool = True) -> ObjectInfo: ...

    def get(self, key: str, *, version_id: str | None = None) -> bytes: ...

    def fetch(self, key: str) -> "ContextManager[tuple[Path, str]]":
        """A local path holding the object and its SHA-256, streamed: never the whole object in memory."""
        ...

    def head(self, key: str) -> ObjectInfo | None: ...

    def delete(self, key: str) -> None: ...

    def child(self, name: str) -> "Store": ...

    def ensure_writable(self) -> None: ...


class LocalStore:
    """A directory on disk; create-only by hard-linking a fully written temp file into place."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.uri = str(self.root)

    def _path(self, key: str) -> Path:
        return self.root / key

    def ensure_writable(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.root, prefix=".lg-probe-"):
                pass
        except OSError as exc:
            raise StoreError(
                f"cannot write to {self.root}: {exc.strerror or exc}",
                "choose a writable destination directory",
            ) from None

    def put(self, key: str, data: bytes, *, create_only: bool = True) -> ObjectInfo:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            if create_only:
                try:
                    os.link(tmp, path)
                except FileExistsError:
                    raise DatasetExists(
                        f"{path} already exists; writes are create-only",
                        "choose a new destination or remove the old dataset yourself",
                    ) from None
            else:
                os.replace(tmp, path)
                tmp = ""
        finally:
            if tmp:
                os.unlink(tmp)
        return ObjectInfo(key=key, size=len(data), sha256=sha256_hex(data))

    def get(self, key: str, *, version_id: str | None = None) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise DatasetMissing(f"no object {key!r} under {self.uri}", "check the URI") from None

    @contextmanager
    def fetch(self, key: str) -> Iterator[tuple[Path, str]]:
        path = self._path(key)
        try:
            with open(path, "rb") as fh:
                digest = hashlib.file_digest(fh, "sha256").hexdigest()
        except FileNotFoundError:
            raise DatasetMissing(f"no object {key!r} under {self.uri}", "check the URI") from None
        yield path, digest

    def head(self, key: str) -> ObjectInfo | None:
        path = self._path(key)
        if not path.is_file():
            return None
        return ObjectInfo(key=key, size=path.stat().st_size)

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def child(self, name: str) -> "LocalStore":
        return LocalStore(self.root / name)


class S3Store:
    """An S3 prefix through boto3 over HTTP: versioned bucket, SHA-256 checksums, If-None-Match."""

    def __init__(self, bucket: str, prefix: str, *, endpoint_url: str | None = None, client=None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url
        self.uri = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self.client = client or _s3_client(endpoint_url)

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _call(self, op: str, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

        try:
            return getattr(self.client, op)(**kwargs)
        except EndpointConnectionError:
            raise StoreUnreachable(
                f"cannot reach the S3 endpoint {self.client.meta.endpoint_url}",
                "start it, or point AWS_ENDPOINT_URL_S3 at a running endpoint",
            ) from None
        except NoCredentialsError:
            raise StoreError(f"no AWS credentials for {self.uri}", CREDENTIALS_FIX) from None
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise DatasetExists(
                    f"{self.uri}/{kwargs.get('Key', '').removeprefix(self.prefix + '/')} already exists; writes are create-only",
                    "choose a new destination prefix",
                ) from None
            if code in ("NoSuchKey", "404", "NotFound"):
                raise DatasetMissing(f"no object {kwargs.get('Key')!r} in bucket {self.bucket}", "check the URI") from None
            if code == "NoSuchBucket":
                raise DatasetMissing(f"bucket {self.bucket!r} does not exist", "check the URI or ingest first") from None
            if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
                raise StoreError(f"access denied to {self.uri} ({code})", "check the credentials and bucket policy") from None
            raise StoreError(f"S3 {op} on {self.uri} failed: {code or exc}", "check the endpoint and bucket") from None
        except BotoCoreError as exc:
            raise StoreError(f"S3 {op} on {self.uri} failed: {exc}", "check the endpoint and credentials") from None

    def ensure_writable(self) -> None:
        try:
            self._call("head_bucket", Bucket=self.bucket)
        except DatasetMissing:
            region = self.client.meta.region_name
            extra = {} if region in (None, "us-east-1") else {"CreateBucketConfiguration": {"LocationConstraint": region}}
            self._call("create_bucket", Bucket=self.bucket, **extra)
        # Versioning keeps every overwrite recoverable and lets manifests pin a version.
        self._call(
            "put_bucket_versioning",
            Bucket=self.bucket,
            VersioningConfiguration={"Status": "Enabled"},
        )

    def put(self, key: str, data: bytes, *, create_only: bool = True) -> ObjectInfo:
        digest = hashlib.sha256(data).digest()
        extra = {"IfNoneMatch": "*"} if create_only else {}
        resp = self._call(
            "put_object",
            Bucket=self.bucket,
            Key=self._key(key),
            Body=data,
            ChecksumSHA256=base64.b64encode(digest).decode(),
            **extra,
        )
        return ObjectInfo(key=key, size=len(data), sha256=digest.hex(), version_id=resp.get("VersionId"))

    def get(self, key: str, *, version_id: str | None = None) -> bytes:
        extra = {"VersionId": version_id} if version_id else {}
        return self._call("get_object", Bucket=self.bucket, Key=self._key(key), **extra)["Body"].read()

    @contextmanager
    def fetch(self, key: str) -> Iterator[tuple[Path, str]]:
        body = self._call("get_object", Bucket=self.bucket, Key=self._key(key))["Body"]
        digest = hashlib.sha256()
        with tempfile.NamedTemporaryFile(prefix="labelguard-", suffix=Path(key).suffix) as tmp:
            for chunk in body.iter_chunks(chunk_size=8 << 20):
                digest.update(chunk)
                tmp.write(chunk)
            tmp.flush()
            yield Path(tmp.name), digest.hexdigest()

    def head(self, key: str) -> ObjectInfo | None:
        try:
            resp = self._call("head_object", Bucket=self.bucket, Key=self._key(key))
        except DatasetMissing:
            return None
        return ObjectInfo(key=key, size=resp["ContentLength"], version_id=resp.get("VersionId"))

    def delete(self, key: str) -> None:
        self._call("delete_object", Bucket=self.bucket, Key=self._key(key))

    def child(self, name: str) -> "S3Store":
        return S3Store(self.bucket, f"{self.prefix}/{name}", endpoint_url=self.endpoint_url, client=self.client)


def _s3_client(endpoint_url: str | None):
    import boto3
    from botocore.config import Config

    session = boto3.session.Session()
    if session.get_credentials() is None:
        raise StoreError("no AWS credentials found", CREDENTIALS_FIX)
    config = Config(
        connect_timeout=3,
        read_timeout=60,
        retries={"max_attempts": 2, "mode": "standard"},
        request_checksum_calculation="when_required",
    )
    return session.client("s3", endpoint_url=endpoint_url or None, config=config)


def open_store(uri: str, *, endpoint_url: str | None = None) -> Store:
    """Open ``s3://bucket/prefix`` or a local directory (plain path or ``file://``)."""
    parsed = urlparse(uri)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise StoreError(f"no bucket in {uri!r}", "write it as s3://bucket/prefix")
        return S3Store(parsed.netloc, parsed.path, endpoint_url=endpoint_url)
    if parsed.scheme in ("", "file"):
        return LocalStore(Path(parsed.path if parsed.scheme == "file" else uri))
    raise StoreError(f"unsupported URI scheme {parsed.scheme!r} in {uri!r}", "use s3://bucket/prefix or a directory path")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def embedded_s3(port: int | None = None) -> Iterator[str]:
    """Run a moto S3 *server* on 127.0.0.1 and point this process's AWS settings at it.

    Yields the endpoint URL. The product's own boto3 code path talks real HTTP to it, exactly as
    it would to AWS or MinIO.
    """
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port or _free_port(), verbose=False)
    server.start()
    host, bound = server.get_host_and_port()
    endpoint = f"http://{host}:{bound}"
    saved = {k: os.environ.get(k) for k in (*EMBEDDED_CREDENTIALS, "AWS_ENDPOINT_URL_S3")}
    os.environ.update(EMBEDDED_CREDENTIALS)
    os.environ["AWS_ENDPOINT_URL_S3"] = endpoint
    try:
        yield endpoint
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        server.stop()
