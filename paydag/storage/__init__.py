"""Where files are kept and found: the raw store (raw: its interface and keys; local and s3: one
backend per file), input files and inboxes by path or s3:// URI (inputs), the rent-ledger drop
(rent_ledger), the batch journal (journal). s3.py makes the only boto3 client, sftp.py the only SSH one."""

from paydag.storage.inputs import done_with, fetch_input, inbox_files, keep_input
from paydag.storage.local import LocalRawStore
from paydag.storage.raw import (
    Direction,
    KeyConflict,
    RawObject,
    RawStore,
    RawStoreError,
    RawStoreUnavailable,
    name_in_key,
    open_raw_store,
    raw_key,
    safe_name,
)
from paydag.storage.rent_ledger import RentLedgerDrop
from paydag.storage.s3 import S3RawStore

__all__ = [
    "Direction",
    "KeyConflict",
    "LocalRawStore",
    "RawObject",
    "RawStore",
    "RawStoreError",
    "RawStoreUnavailable",
    "RentLedgerDrop",
    "S3RawStore",
    "done_with",
    "fetch_input",
    "inbox_files",
    "keep_input",
    "name_in_key",
    "open_raw_store",
    "raw_key",
    "safe_name",
]
