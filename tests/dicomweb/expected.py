#!/usr/bin/python3
"""Prints, as JSON, the attributes QIDO-RS should answer for one DICOM file, read by pydicom (a
reader nobody here wrote): {"study": {tag: value}, "series": {...}, "instance": {...}}, a value
being the first value as DICOM JSON carries it (PN as its Alphabetic string, IS/US as a number)
or null when the file lacks it. tests/dicomweb/client.mjs compares the answers attribute by
attribute.

    /usr/bin/python3 expected.py FILE
"""
import json
import sys

import pydicom

LEVELS = {
    "study": ["StudyInstanceUID", "PatientID", "PatientName", "PatientBirthDate", "PatientSex",
              "StudyDate", "StudyTime", "AccessionNumber", "StudyDescription"],
    "series": ["SeriesInstanceUID", "Modality", "SeriesNumber", "SeriesDescription"],
    "instance": ["SOPInstanceUID", "SOPClassUID", "InstanceNumber", "Rows", "Columns",
                 "BitsAllocated", "NumberOfFrames"],
}
NUMBERS = {"SeriesNumber", "InstanceNumber", "Rows", "Columns", "BitsAllocated", "NumberOfFrames"}


def main():
    ds = pydicom.dcmread(sys.argv[1], stop_before_pixels=True)
    out = {}
    for level, keywords in LEVELS.items():
        out[level] = {}
        for kw in keywords:
            tag = "%08X" % pydicom.datadict.tag_for_keyword(kw)
            value = ds.get(kw)
            if value is None or value == "":
                out[level][tag] = None
            elif kw in NUMBERS:
                # The index keeps 0 for absent numbers: an absent attribute and 0 look alike.
                out[level][tag] = int(value) or None
            else:
                out[level][tag] = str(value).strip()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
