#!/usr/bin/python3
"""Writes a STOW-RS multipart/related body holding one DICOM instance of about SIZE_MB megabytes
(a Secondary Capture of 1 MiB frames of pseudo-random bytes), streamed to disk (never whole in
memory), and prints the instance's SHA-256 and size ("HEX BYTES"): what a retrieval must give back.
With "tiles", the Pixel Data is encapsulated (JPEG Baseline, as a whole-slide image's tiles are)
in 32 KiB fragments of pseudo-random bytes, each short enough for a parser to load.

    /usr/bin/python3 big_stow_body.py OUT BOUNDARY SIZE_MB STUDY SERIES SOP [tiles]
"""
import hashlib
import io
import os
import random
import sys

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, JPEGBaseline8Bit, SecondaryCaptureImageStorage

TILE = 32 << 10


def header(size, study, series, sop, tiles):
    """The Part 10 bytes up to and including the Pixel Data element's header."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = sop
    meta.TransferSyntaxUID = JPEGBaseline8Bit if tiles else ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = sop
    ds.StudyInstanceUID = study
    ds.SeriesInstanceUID = series
    ds.PatientID = "BIG-STOW"
    ds.PatientName = "Big^Stow"
    ds.Modality = "OT"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.Columns = 1024
    ds.Rows = 1024
    ds.NumberOfFrames = max(1, size >> 20)  # Rows is 16-bit: the size is in 1 MiB frames
    out = io.BytesIO()
    ds.is_little_endian = True
    ds.is_implicit_VR = False
    ds.preamble = b"\0" * 128
    pydicom.dcmwrite(out, ds, write_like_original=False)
    pixel_bytes = ds.Rows * ds.Columns * ds.NumberOfFrames
    if tiles:
        # (7FE0,0010) OB of undefined length, then an empty Basic Offset Table item.
        element = b"\xe0\x7f\x10\x00OB\x00\x00\xff\xff\xff\xff" + b"\xfe\xff\x00\xe0" + bytes(4)
    else:
        # (7FE0,0010) OB, explicit VR little endian: tag, VR, 2 reserved bytes, 4-byte length.
        element = b"\xe0\x7f\x10\x00OB\x00\x00" + pixel_bytes.to_bytes(4, "little")
    return out.getvalue() + element, pixel_bytes


def main():
    out_path, boundary, size_mb, study, series, sop = sys.argv[1:7]
    tiles = sys.argv[7:] == ["tiles"]
    head, pixel_bytes = header(int(size_mb) << 20, study, series, sop, tiles)
    block = random.Random(16).randbytes(1 << 20)
    digest = hashlib.sha256()
    total = 0
    with open(out_path, "wb") as out:
        out.write(f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode())

        def emit(data):
            nonlocal total
            out.write(data)
            digest.update(data)
            total += len(data)

        emit(head)
        left = pixel_bytes
        if tiles:
            while left > 0:  # items of TILE bytes, then the sequence delimiter
                emit(b"\xfe\xff\x00\xe0" + TILE.to_bytes(4, "little") + block[left % len(block):][:TILE].ljust(TILE, b"\x5a"))
                left -= TILE
            emit(b"\xfe\xff\xdd\xe0" + bytes(4))
        while left > 0:
            emit(block[: min(left, len(block))])
            left -= len(block)
        out.write(f"\r\n--{boundary}--\r\n".encode())
    print(digest.hexdigest(), total)


if __name__ == "__main__":
    main()
