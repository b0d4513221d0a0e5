"""How postings are laid out on disk: Whoosh's W3 format, cheaper to load.

Whoosh pickles each block of postings with protocol 2, where every posting's value (its
positions) is a byte string rebuilt by calling a function on load, and each value is
itself a pickled list of gaps. Reading the positions of a phrase's words was most of a
phrase search. Here blocks are pickled with the highest protocol (byte strings load as
they are) and positions are a packed array of unsigned integers (half the size on disk).
Indexes written before load as ever: Whoosh's reader unpickles any protocol, and the
schema check rebuilds an index whose text fields still use `Positions`.
"""

from __future__ import annotations

import struct
import sys
import zlib
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import reduce
from operator import itemgetter, or_
from pickle import HIGHEST_PROTOCOL, dumps

from whoosh.codec.base import Segment
from whoosh.codec.whoosh3 import (
    LENGTHS_COLUMN,
    WHOOSH3_HEADER_MAGIC,
    W3Codec,
    W3FieldWriter,
    W3PerDocReader,
    W3PostingsWriter,
    _lenfield,
)
from whoosh.columns import NumericColumn
from whoosh.fields import Schema
from whoosh.filedb.filestore import Storage
from whoosh.formats import Positions
from whoosh.util.numeric import byte_to_length, length_to_byte

from portal.search.analysis import positions_by_term

#: Positions below this fit two bytes each; a value's first byte says which width it uses.
_SHORT_LIMIT = 1 << 16
_WIDTHS = {ord("H"): 2, ord("I"): 4}
_SHORT = b"H"
_BIT = (1).__lshift__
_SWAP = sys.byteorder != "little"
if array("H").itemsize != 2 or array("I").itemsize != 4:  # C's short and int: 16 and 32 bits
    raise ImportError("CompactPositions needs 16- and 32-bit array typecodes H and I")


# Little-endian packers of n two-byte positions, for n up to 64 (most postings).
_PACK_SHORTS = {n: struct.Struct(f"<{n}H").pack for n in range(1, 65)}


def array_bytes(typecode: str, values: Sequence[int]) -> bytes:
    """`values` as little-endian unsigned integers of the array `typecode`."""
    packed = array(typecode, values)
    if _SWAP:
        packed.byteswap()
    return packed.tobytes()


class CompactPositions(Positions):
    """Positions as a typecode byte (``H`` or ``I``) and little-endian unsigned integers.

    Same features as Whoosh's `Positions` (frequency, weight, positions, position boosts
    of 1); only the encoding of a posting's value differs (weights and position boosts are
    `Positions`' own, computed from the two methods below).
    """

    def word_values(  # type: ignore[no-untyped-def]
        self, value, analyzer, **kwargs
    ) -> Iterator[tuple[str, int, float, bytes]]:
        """(term, frequency, weight, value) of each term of `value`, as `Positions` gives
        them, through `analysis.positions_by_term` where it knows the analyzer."""
        terms = positions_by_term(analyzer) if isinstance(value, str) else None
        if terms is None or kwargs.keys() - {"mode"}:
            yield from super().word_values(value, analyzer, **kwargs)
            return
        boost = self.field_boost
        for term, positions in terms(value).items():
            count = len(positions)
            if positions[-1] < _SHORT_LIMIT:  # ascending: the last is the largest
                pack = _PACK_SHORTS.get(count)
                encoded = _SHORT + (pack(*positions) if pack else array_bytes("H", positions))
            else:
                encoded = self.encode(positions)
            yield term, count, count * boost, encoded

    def encode(self, poslist: Sequence[int]) -> bytes:
        """The value of one posting: its positions, in order."""
        typecode = "H" if not poslist or max(poslist) < _SHORT_LIMIT else "I"
        return typecode.encode() + array_bytes(typecode, poslist)

    def decode_positions(self, valuestring: bytes) -> list[int]:
        """The positions a value holds."""
        return positions_of(valuestring).tolist()

    def decode_frequency(self, valuestring: bytes) -> int:
        """How many times the word occurs: the number of positions."""
        return (len(valuestring) - 1) // _WIDTHS[valuestring[0]]


def positions_of(value: bytes) -> array:
    """The positions of a `CompactPositions` value, as an array."""
    if value[0] not in _WIDTHS:
        raise ValueError(f"not a CompactPositions value: {value[:8]!r}")
    positions = array(chr(value[0]), value[1:])
    if _SWAP:
        positions.byteswap()
    return positions


def mask_of(positions: Iterable[int]) -> int:
    """Positions as the bits of an integer (bit p set for position p)."""
    return reduce(or_, map(_BIT, positions), 0)


def compact_masks(values: Sequence[bytes]) -> list[int]:
    """`mask_of` the positions of each `CompactPositions` value."""
    if bytes(map(itemgetter(0), values)).strip(_SHORT):  # four-byte (or foreign) values
        return [mask_of(positions_of(value)) for value in values]
    unpack = _UNPACKERS  # one step per value; up to three positions (most values) read inline
    return [
        1 << (value[1] | value[2] << 8)
        if (length := len(value)) == 3
        else 1 << (value[1] | value[2] << 8) | 1 << (value[3] | value[4] << 8)
        if length == 5
        else 1 << (value[1] | value[2] << 8)
        | 1 << (value[3] | value[4] << 8)
        | 1 << (value[5] | value[6] << 8)
        if length == 7
        else mask_of(unpack[length](value))
        for value in values
    ]


class _Unpackers(dict[int, Callable[[bytes], Sequence[int]]]):
    """Value length -> reader of its two-byte positions (struct's for up to 64)."""

    def __missing__(self, length: int) -> Callable[[bytes], Sequence[int]]:
        return positions_of  # raises ValueError for a length that is not 1 + 2n


_UNPACKERS = _Unpackers({1 + 2 * n: struct.Struct(f"<x{n}H").unpack for n in range(1, 65)})


class CompactPostingsWriter(W3PostingsWriter):
    """W3's postings writer with blocks pickled by the highest protocol, which also takes
    a term's postings whole (`add_term_postings`)."""

    def add_term_postings(
        self, ids: array, weights: array, values: list[bytes | None], lengths: bytes | None
    ) -> None:
        """Add a whole term's postings, document numbers ascending, as as many
        `add_posting` calls would: the same blocks, statistics and bytes, without a call
        and four type checks per posting. `lengths` holds each document's encoded field
        length (`encoded_lengths`), or is None where the field has none."""
        if self._ids:
            raise ValueError("add_term_postings takes a term's postings whole")
        limit = self._blocklimit
        for start in range(0, len(ids), limit):
            if start:
                self._write_block()
            end = start + limit
            block = self._ids = ids[start:end]
            self._weights = array("f", weights[start:end])
            top = max(weights[start:end])
            self._maxweight = top if top > 0 else 0
            chosen = values[start:end]
            self._values = chosen if all(chosen) else [value for value in chosen if value]
            encoded = bytes(map(lengths.__getitem__, block)).replace(b"\0", b"") if lengths else b""
            self._minlength = byte_to_length(min(encoded)) if encoded else None
            self._maxlength = byte_to_length(max(encoded)) if encoded else 0

    def _write_block(self, last: bool = False) -> None:
        # W3PostingsWriter._write_block with the pickle protocol changed (the on-disk
        # layout is otherwise Whoosh's, so Whoosh's readers read it).
        if not self._blockcount:
            self._postfile.write(WHOOSH3_HEADER_MAGIC)
        self._terminfo.add_block(self)
        data = (self._mini_ids(), self._mini_weights(), self._mini_values())
        databytes = dumps(data, HIGHEST_PROTOCOL)
        comp = self._compression
        if comp:
            databytes = zlib.compress(databytes, comp)
        ids = self._ids
        infobytes = dumps(
            (
                len(ids),
                ids[-1],
                self._maxweight,
                comp,
                length_to_byte(self._minlength),
                length_to_byte(self._maxlength),
            ),
            HIGHEST_PROTOCOL,
        )
        blocklength = len(infobytes) + len(databytes)
        self._postfile.write_int(-blocklength if last else blocklength)
        self._postfile.write(infobytes)
        self._postfile.write(databytes)
        self._blockcount += 1
        self._new_block()


def encoded_lengths(perdoc: W3PerDocReader, fieldname: str) -> bytes | None:
    """The encoded length (`length_to_byte`) of `fieldname` in each of a segment's documents,
    in one read; None if the segment has no lengths for it (Whoosh then reads every length
    as the caller's default)."""
    column = perdoc._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)
    if column is None:
        return None
    count = perdoc.doc_count_all()
    if type(column) is NumericColumn.Reader and column._typecode == "B":
        lengths = column._dbfile.get(column._basepos, min(column._count, count))
    else:
        lengths = bytes(column[docnum] for docnum in range(count))
    return lengths + bytes(count - len(lengths))


class CompactPerDocReader(W3PerDocReader):
    """W3's per-document reader with each field's lengths read whole, the first time one
    is asked for. Writing a segment asks for the length of every posting's document, which
    read them one byte at a time through three calls and a seek: a sixth of a rebuild."""

    def __init__(self, storage: Storage, segment: Segment) -> None:
        super().__init__(storage, segment)
        self._lengths: dict[str, bytes | None] = {}

    def field_lengths(self, fieldname: str) -> bytes | None:
        """`encoded_lengths` of `fieldname`, read once."""
        try:
            return self._lengths[fieldname]
        except KeyError:
            lengths = self._lengths[fieldname] = encoded_lengths(self, fieldname)
            return lengths

    def doc_field_length(self, docnum: int, fieldname: str, default: int = 0) -> int | None:
        """W3PerDocReader.doc_field_length (None for a document without the field)."""
        lengths = self.field_lengths(fieldname)
        if docnum > self._doccount:
            raise IndexError(f"Asked for docnum {docnum!r} of {self._doccount}")
        if lengths is None:
            return default
        encoded = lengths[docnum] if docnum < len(lengths) else 0
        return byte_to_length(encoded) if encoded else None


class CompactFieldWriter(W3FieldWriter):
    """W3's terms and postings writer, which also takes postings grouped by term."""

    def add_grouped_postings(
        self,
        schema: Schema,
        perdoc: CompactPerDocReader | None,
        terms: Iterable[tuple[str, bytes, array, array, list[bytes | None]]],
    ) -> None:
        """`add_postings` for (field name, term, document numbers, weights, values) sorted
        by field name and term, each term's documents ascending and all its postings in one
        item: each term's postings go to the postings writer whole."""
        fieldname = None
        lengths: bytes | None = None
        for name, text, ids, weights, values in terms:
            if name != fieldname:
                if fieldname is not None:
                    self.finish_field()
                fieldname = name
                self.start_field(name, schema[name])
                lengths = perdoc.field_lengths(name) if perdoc is not None else None
            self.start_term(text)
            self._postwriter.add_term_postings(ids, weights, values, lengths)
            self.finish_term()
        if fieldname is not None:
            self.finish_field()
        self.is_closed = True


class CompactCodec(W3Codec):
    """Whoosh's W3 codec writing posting blocks with `CompactPostingsWriter` and reading
    field lengths with `CompactPerDocReader`."""

    def per_document_reader(  # type: ignore[no-untyped-def]
        self, storage, segment
    ) -> CompactPerDocReader:
        """Columns, lengths and deletions of one segment."""
        return CompactPerDocReader(storage, segment)

    def field_writer(self, storage, segment) -> CompactFieldWriter:  # type: ignore[no-untyped-def]
        """A writer for one segment's terms and postings."""
        return CompactFieldWriter(self, storage, segment)

    def postings_writer(self, dbfile, byteids: bool = False) -> CompactPostingsWriter:  # type: ignore[no-untyped-def]
        """A writer for one postings file."""
        return CompactPostingsWriter(
            dbfile,
            blocklimit=self._blocklimit,
            byteids=byteids,
            compression=self._compression,
            inlinelimit=self._inlinelimit,
        )
