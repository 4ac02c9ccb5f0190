#!/usr/bin/python3
"""Writes N small single-instance studies for the QIDO benchmark (bench/qido_10k.sh) and the
queries to time against them, with the number of studies each must answer.

  qido_data.py OUT_DIR --studies N [--queries Q] [--seed S]

Study i has PatientID QP<i>, AccessionNumber QA<i>, a StudyDate spread over five years
(2020-01-01 + i mod 1826 days) and one of eight modalities (i mod 8): one 8x8 16-bit instance
(~1 KB). Writes OUT_DIR/files/*.dcm and OUT_DIR/queries.tsv: "<class>\t<query string>\t<expected
count>", Q queries per class (PatientID, AccessionNumber, a one-month StudyDate range,
ModalitiesInStudy with limit=50, all studies with limit=100), drawn with a fixed seed so that
medvault and Orthanc are asked the same questions.
"""
import argparse
import datetime
import os
import random

from pydicom.uid import generate_uid

from gen_dicom import SECONDARY_CAPTURE, header  # bench/, the script's directory

MODALITIES = ["CT", "MR", "US", "CR", "DX", "MG", "PT", "NM"]
DAYS = 1826
EPOCH = datetime.date(2020, 1, 1)


def study_date(i):
    return EPOCH + datetime.timedelta(days=i % DAYS)


def write(path, i):
    ds = header(path, generate_uid(), generate_uid(), 1, SECONDARY_CAPTURE,
                MODALITIES[i % len(MODALITIES)], "QP%06d" % i)
    ds.AccessionNumber = "QA%06d" % i
    ds.StudyDate = study_date(i).strftime("%Y%m%d")
    ds.StudyTime = "120000"
    ds.StudyID = str(i)
    ds.Rows = ds.Columns = 8
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.PixelData = os.urandom(8 * 8 * 2)
    ds.save_as(path, write_like_original=False)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--studies", type=int, default=10000)
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--seed", type=int, default=16)
    a = p.parse_args()
    files = os.path.join(a.out, "files")
    os.makedirs(files, exist_ok=True)
    n = a.studies
    for i in range(n):
        write(os.path.join(files, "s%06d.dcm" % i), i)
    rnd = random.Random(a.seed)
    dates = [study_date(i) for i in range(n)]
    with open(os.path.join(a.out, "queries.tsv"), "w") as q:
        for _ in range(a.queries):
            i = rnd.randrange(n)
            q.write("patient\tPatientID=QP%06d\t1\n" % i)
        for _ in range(a.queries):
            i = rnd.randrange(n)
            q.write("accession\tAccessionNumber=QA%06d\t1\n" % i)
        for _ in range(a.queries):
            start = EPOCH + datetime.timedelta(days=rnd.randrange(DAYS - 30))
            end = start + datetime.timedelta(days=30)
            want = min(1000, sum(1 for d in dates if start <= d <= end))  # medvault's default limit
            q.write("date_month\tStudyDate=%s-%s&limit=1000\t%d\n" %
                    (start.strftime("%Y%m%d"), end.strftime("%Y%m%d"), want))
        for _ in range(a.queries):
            m = rnd.randrange(len(MODALITIES))
            want = min(50, len(range(m, n, len(MODALITIES))))
            q.write("modality_limit50\tModalitiesInStudy=%s&limit=50\t%d\n" % (MODALITIES[m], want))
        for _ in range(a.queries):
            q.write("all_limit100\tlimit=100\t%d\n" % min(100, n))


if __name__ == "__main__":
    main()
