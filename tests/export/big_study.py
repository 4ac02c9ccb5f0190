"""Writes a large-ish study for export_test's memory check: COUNT CT instances of one series, each
a 2048 x 2048 16-bit image (8 MiB) of a smooth pattern, made from pydicom's CT_small.dcm.

    python3 big_study.py PYDICOM_TEST_FILES OUT_DIR COUNT
"""
import sys

from array import array

import pydicom
from pydicom.uid import generate_uid

src, out, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
base = pydicom.dcmread(src + "/CT_small.dcm")
study, series = generate_uid(), generate_uid()
ramp = array("H", (i % 4096 for i in range(4096 + 2048 + 64 * count))).tobytes()
for k in range(count):
    ds = base.copy()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.InstanceNumber = k + 1
    ds.Rows = ds.Columns = 2048
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    # Pixel (row, column) = (row + column + 64 k) mod 4096, little endian.
    ds.PixelData = b"".join(ramp[2 * (r + 64 * k):2 * (r + 64 * k + 2048)] for r in range(2048))
    ds.save_as("%s/IM%04d.dcm" % (out, k + 1), write_like_original=False)
print(study)
