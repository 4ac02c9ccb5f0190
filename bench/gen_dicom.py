#!/usr/bin/python3
"""Writes synthetic but valid DICOM instances for benchmarks (run with Debian's /usr/bin/python3,
which has python3-pydicom).

  gen_dicom.py ct OUT_DIR --slices N          CT series, 512x512 16-bit slices (~0.5 MB each)
  gen_dicom.py large OUT_DIR --mb M [--count K]  K single-frame objects of ~M MB each

Pixel data is random (incompressible, like the worst case of real data). Every study, series and
SOP Instance UID is fresh, so repeated runs never collide.
"""
import argparse
import os
import sys

from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"


def instance(path, study, series, number, rows, cols, sop_class, modality, patient):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(path, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = study
    ds.SeriesInstanceUID = series
    ds.PatientID = patient
    ds.PatientName = "Bench^" + patient
    ds.StudyDate = "20260101"
    ds.Modality = modality
    ds.SeriesNumber = 1
    ds.InstanceNumber = number
    ds.Rows = rows
    ds.Columns = cols
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.PixelData = os.urandom(rows * cols * 2)
    ds.is_little_endian = True
    ds.is_implicit_VR = False
    ds.save_as(path, write_like_original=False)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("kind", choices=["ct", "large"])
    p.add_argument("out")
    p.add_argument("--slices", type=int, default=100)
    p.add_argument("--mb", type=int, default=50)
    p.add_argument("--count", type=int, default=1)
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    patient = "BENCH%06d" % (int.from_bytes(os.urandom(3), "big"))
    if a.kind == "ct":
        study, series = generate_uid(), generate_uid()
        for i in range(a.slices):
            instance(os.path.join(a.out, "ct%05d.dcm" % i), study, series, i + 1, 512, 512,
                     CT_IMAGE_STORAGE, "CT", patient)
    else:
        side = int((a.mb * 1024 * 1024 / 2) ** 0.5)
        for i in range(a.count):
            instance(os.path.join(a.out, "large%03d.dcm" % i), generate_uid(), generate_uid(), 1,
                     side, side, SECONDARY_CAPTURE, "MG", patient)
    return 0


if __name__ == "__main__":
    sys.exit(main())
