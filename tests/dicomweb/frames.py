#!/usr/bin/python3
"""Writes the bytes of the named frames of a DICOM file, as pydicom (a reader nobody here wrote)
extracts them, to OUT_DIR/frame-N: the native pixel bytes of frame N (little endian, as pydicom
holds them), or the concatenated fragments of encapsulated frame N. tests/dicomweb_test.cc compares
WADO-RS /frames answers with them byte for byte.

    /usr/bin/python3 frames.py FILE OUT_DIR N [N...]
"""
import os
import sys

import pydicom
from pydicom.encaps import generate_pixel_data_frame


def main():
    ds = pydicom.dcmread(sys.argv[1])
    out_dir = sys.argv[2]
    wanted = [int(n) for n in sys.argv[3:]]
    count = int(getattr(ds, "NumberOfFrames", 1) or 1)
    if ds.file_meta.TransferSyntaxUID.is_compressed:
        frames = list(generate_pixel_data_frame(ds.PixelData, count))
    else:
        size = ds.Rows * ds.Columns * ds.SamplesPerPixel * ds.BitsAllocated // 8
        frames = [ds.PixelData[i * size:(i + 1) * size] for i in range(count)]
    for n in wanted:
        with open(os.path.join(out_dir, "frame-%d" % n), "wb") as f:
            f.write(frames[n - 1])


if __name__ == "__main__":
    main()
