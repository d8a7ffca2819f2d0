"""Data sets for GMIA audits: the bundled Adult and Cancer sets, image sets in the cache, user CSV files, splits.

Names load on first use (as in `gmia`): `Dataset` and `Schema` come without pandas, which only
reading a file needs."""

from gmia.base.extras import lazy_exports

_EXPORTS = {
    **{n: "gmia.data.csv" for n in ("encode_frame", "load_csv", "load_csv_with_schema")},
    **{n: "gmia.data.records" for n in ("RecordError", "decode_records", "encode_records")},
    **{n: "gmia.data.images" for n in ("image_dataset", "read_idx")},
    **{n: "gmia.data.registry" for n in ("DATASETS", "dataset_name", "load_bundled", "load_image")},
    **{n: "gmia.data.schema" for n in ("Dataset", "Feature", "Schema", "duplicate_groups")},
    **{n: "gmia.data.splits" for n in ("Split", "default_pool_size", "paper_split")},
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
