"""Arrow schemas derived from the pydantic record models.

``arrow_schema(ClipRecord)`` walks the model's field annotations and maps them to
Arrow types: ``str`` -> string, ``int`` -> int64, ``float`` -> float64, ``bool`` ->
bool, ``X | None`` -> nullable X, ``list[X]`` -> list<X>, a nested model -> struct,
``Literal[...]`` of strings -> string. Nothing is declared twice: changing a model
changes the parquet schema.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, Union

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel

_SCALARS = {str: pa.string(), int: pa.int64(), float: pa.float64(), bool: pa.bool_()}


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) != 1:
            raise TypeError(f"unsupported union {tp!r}")
        return args[0], True
    return tp, False


def arrow_type(tp: Any) -> pa.DataType:
    """Arrow type for a Python annotation (see module docstring). Raises TypeError."""
    tp, _ = _unwrap_optional(tp)
    if tp in _SCALARS:
        return _SCALARS[tp]
    origin = typing.get_origin(tp)
    if origin is Literal:
        return pa.string()
    if origin is list:
        (item,) = typing.get_args(tp)
        return pa.list_(arrow_type(item))
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return pa.struct(_fields(tp))
    raise TypeError(f"no Arrow type for {tp!r}")


def _fields(model: type[BaseModel]) -> list[pa.Field]:
    hints = typing.get_type_hints(model)
    out = []
    for name in model.model_fields:
        tp, nullable = _unwrap_optional(hints[name])
        out.append(pa.field(name, arrow_type(tp), nullable=True))
    return out


def arrow_schema(model: type[BaseModel]) -> pa.Schema:
    """The Arrow schema of ``model`` with ``schema_version`` in its metadata."""
    version = model.model_fields.get("schema_version")
    meta = {"schema_version": str(version.default)} if version is not None else {}
    return pa.schema(_fields(model), metadata=meta)


def to_table(model: type[BaseModel], rows: list[BaseModel]) -> pa.Table:
    """Rows of ``model`` as an Arrow table with the derived schema."""
    schema = arrow_schema(model)
    data = [r.model_dump(mode="json") for r in rows]
    return pa.Table.from_pylist(data, schema=schema)


def write_parquet(model: type[BaseModel], rows: list[BaseModel], path: str) -> None:
    """Write rows to a parquet file at ``path``, a local path or fsspec URL, in one
    atomic put (:func:`curate.store.write_bytes`): readers never see half a file."""
    from curate import store

    buf = pa.BufferOutputStream()
    pq.write_table(to_table(model, rows), buf)
    store.write_bytes(path, buf.getvalue().to_pybytes())


def read_records(model: type[BaseModel], path: str) -> list[BaseModel]:
    """Read a parquet file written by :func:`write_parquet` (local path or fsspec URL) into models."""
    from fsspec.core import url_to_fs

    fs, inner = url_to_fs(path)
    return [model.model_validate(r) for r in pq.read_table(inner, filesystem=fs).to_pylist()]
