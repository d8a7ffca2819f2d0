"""Data sets for GMIA audits: the bundled Adult and Cancer sets, image sets in the cache, user CSV files, splits."""

from gmia.data.csv import encode_frame, load_csv, load_csv_with_schema
from gmia.data.records import RecordError, decode_records, encode_records
from gmia.data.images import image_dataset, read_idx
from gmia.data.registry import DATASETS, load_bundled, load_image
from gmia.data.schema import Dataset, Feature, Schema, duplicate_groups
from gmia.data.splits import Split, default_pool_size, paper_split

__all__ = [
    "DATASETS",
    "Dataset",
    "Feature",
    "RecordError",
    "Schema",
    "Split",
    "decode_records",
    "default_pool_size",
    "duplicate_groups",
    "encode_frame",
    "encode_records",
    "image_dataset",
    "load_csv",
    "load_csv_with_schema",
    "load_bundled",
    "load_image",
    "paper_split",
    "read_idx",
]
