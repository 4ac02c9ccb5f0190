#!/usr/bin/python3
"""Writes synthetic but valid DICOM instances for benchmarks (run with Debian's /usr/bin/python3,
which has python3-pydicom).

  gen_dicom.py ct OUT_DIR --slices N          CT series, 512x512 16-bit slices (~0.5 MB each)
  gen_dicom.py mr OUT_DIR --slices N          MR series, 256x256 16-bit slices (~128 KB each)
  gen_dicom.py large OUT_DIR --mb M [--count K]  K single-frame objects of ~M MB each
  gen_dicom.py mg OUT_DIR [--count K]         K mammography-like objects, 4096x6144 16-bit (~50 MB)
  gen_dicom.py tomo OUT_DIR [--mb 1024]       one tomosynthesis-like multi-frame object (~1 GB)
  gen_dicom.py report OUT_DIR [--count K]     K small reports: Encapsulated PDF instances (~20 KB)

Pixel data is random (incompressible, like the worst case of real data). Every study, series and
SOP Instance UID is fresh, so repeated runs never collide.
"""
import argparse
import os
import sys

from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
DIGITAL_MAMMOGRAPHY = "1.2.840.10008.5.1.4.1.1.1.2"  # For Presentation
BREAST_TOMOSYNTHESIS = "1.2.840.10008.5.1.4.1.1.13.1.3"
ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"


def header(path, study, series, number, sop_class, modality, patient):
    """A dataset with file meta, a fresh SOP Instance UID and the patient/study/series tags."""
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
    ds.is_little_endian = True
    ds.is_implicit_VR = False
    return ds


def instance(path, study, series, number, rows, cols, sop_class, modality, patient, frames=1):
    ds = header(path, study, series, number, sop_class, modality, patient)
    ds.Rows = rows
    ds.Columns = cols
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    if frames > 1:
        ds.NumberOfFrames = frames
    # Random bytes in slices of 1 MiB: os.urandom of a whole 1 GB frame set would need 2 copies.
    total = rows * cols * 2 * frames
    buf = bytearray(total)
    step = 1 << 20
    for at in range(0, total, step):
        n = min(step, total - at)
        buf[at:at + n] = os.urandom(n)
    ds.PixelData = bytes(buf)
    del buf
    ds.save_as(path, write_like_original=False)


def report(path, study, patient):
    """A small report-like instance: an Encapsulated PDF (~20 KB) in a series of its own."""
    ds = header(path, study, generate_uid(), 1, ENCAPSULATED_PDF, "DOC", patient)
    ds.SeriesNumber = 99
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.DocumentTitle = "Radiology report"
    # Not a renderable PDF, but report-sized and incompressible like a real one's streams.
    body = b"%PDF-1.4\n% medvault bench report\n" + os.urandom(20000) + b"\n%%EOF\n"
    if len(body) % 2:
        body += b"\n"
    ds.EncapsulatedDocument = body
    ds.save_as(path, write_like_original=False)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("kind", choices=["ct", "mr", "large", "mg", "tomo", "report"])
    p.add_argument("out")
    p.add_argument("--slices", type=int, default=100)
    p.add_argument("--mb", type=int, default=None)
    p.add_argument("--count", type=int, default=1)
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    patient = "BENCH%06d" % (int.from_bytes(os.urandom(3), "big"))
    if a.kind == "ct":
        study, series = generate_uid(), generate_uid()
        for i in range(a.slices):
            instance(os.path.join(a.out, "ct%05d.dcm" % i), study, series, i + 1, 512, 512,
                     CT_IMAGE_STORAGE, "CT", patient)
    elif a.kind == "mr":
        study, series = generate_uid(), generate_uid()
        for i in range(a.slices):
            instance(os.path.join(a.out, "mr%05d.dcm" % i), study, series, i + 1, 256, 256,
                     MR_IMAGE_STORAGE, "MR", patient)
    elif a.kind == "mg":
        for i in range(a.count):
            instance(os.path.join(a.out, "mg%03d.dcm" % i), generate_uid(), generate_uid(), 1,
                     6144, 4096, DIGITAL_MAMMOGRAPHY, "MG", patient)
    elif a.kind == "tomo":
        # 2048x2048 16-bit frames of 8 MiB; --mb sets the total (default ~1 GB).
        frames = max(1, (a.mb or 1024) // 8)
        for i in range(a.count):
            instance(os.path.join(a.out, "tomo%03d.dcm" % i), generate_uid(), generate_uid(), 1,
                     2048, 2048, BREAST_TOMOSYNTHESIS, "MG", patient, frames=frames)
    elif a.kind == "report":
        study = generate_uid()
        for i in range(a.count):
            report(os.path.join(a.out, "report%03d.dcm" % i), study, patient)
    else:
        side = int(((a.mb or 50) * 1024 * 1024 / 2) ** 0.5)
        for i in range(a.count):
            instance(os.path.join(a.out, "large%03d.dcm" % i), generate_uid(), generate_uid(), 1,
                     side, side, SECONDARY_CAPTURE, "MG", patient)
    return 0


if __name__ == "__main__":
    sys.exit(main())
