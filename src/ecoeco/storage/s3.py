"""The distributed storage adapter: an S3 bucket (or any S3-compatible server)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from ecoeco.core.clock import utcnow
from ecoeco.storage.base import ObjectNotFound, Storage, UploadTarget, check_key


class S3Storage(Storage):
    backend = "s3"

    def __init__(self, bucket: str, *, endpoint_url: str | None, region: str) -> None:
        self.bucket = bucket
        self.client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            config=BotoConfig(
                connect_timeout=3,
                read_timeout=10,
                retries={"max_attempts": 3, "mode": "standard"},
                signature_version="s3v4",
            ),
        )

    async def put(self, key: str, data: bytes, *, content_type: str) -> None:
        await asyncio.to_thread(
            self.client.put_object,
            Bucket=self.bucket,
            Key=check_key(key),
            Body=data,
            ContentType=content_type,
        )

    async def get(self, key: str) -> bytes:
        try:
            obj = await asyncio.to_thread(self.client.get_object, Bucket=self.bucket, Key=check_key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                raise ObjectNotFound(key) from exc
            raise
        body: bytes = await asyncio.to_thread(obj["Body"].read)
        return body

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=check_key(key))

    async def ping(self) -> None:
        await asyncio.to_thread(self.client.head_bucket, Bucket=self.bucket)

    async def upload_target(
        self, key: str, *, content_type: str, size: int, expires_at: datetime
    ) -> UploadTarget:
        # The signature covers the type and the exact length, so S3 refuses anything else.
        url: str = await asyncio.to_thread(
            self.client.generate_presigned_url,
            "put_object",
            Params={
                "Bucket": self.bucket,
                "Key": check_key(key),
                "ContentType": content_type,
                "ContentLength": size,
            },
            ExpiresIn=max(1, int((expires_at - utcnow()).total_seconds())),
        )
        return UploadTarget(url=url, headers={"Content-Type": content_type, "Content-Length": str(size)})
