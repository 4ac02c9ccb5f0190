"""The synthetic index of the scale benchmark, the twin of bench/scale_data.{h,cc}: the same seed
gives the same patients, studies, series, instances and queries, value for value (scale_bench
--dump_tags and `scale_orthanc.py dump` print both; bench/smoke_test.sh compares them). Every name
and UID is synthetic.

Shape: studies of 200..500 instances in 2..4 series of one modality (CT, MR, CR or MG), study
dates spread over 2000-01-01..2024-12-31, two studies per patient, ingested study after study.
"""
import bisect
import datetime

M64 = (1 << 64) - 1
MODALITIES = ["CT", "MR", "CR", "MG"]
DATE_SPAN_DAYS = 9131
QUERY_SHAPES = ["patient", "date", "modality", "all"]
PATIENT_DOMAIN = 1 << 40
QUERY_DOMAIN = 1 << 50
SOP_CLASS = {"CT": "1.2.840.10008.5.1.4.1.1.2", "MR": "1.2.840.10008.5.1.4.1.1.4",
             "CR": "1.2.840.10008.5.1.4.1.1.1", "MG": "1.2.840.10008.5.1.4.1.1.1.2"}
DESCRIPTION = {"CT": "CT CHEST ABDOMEN", "MR": "MR BRAIN", "CR": "CR CHEST", "MG": "MG SCREENING"}
EPOCH = datetime.date(2000, 1, 1)


def splitmix64(x):
    z = (x + 0x9e3779b97f4a7c15) & M64
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M64
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M64
    return z ^ (z >> 31)


def h(seed, a, b):
    return splitmix64(splitmix64(splitmix64(seed) ^ a) ^ b)


def date_after_2000(days):
    return (EPOCH + datetime.timedelta(days=days)).strftime("%Y%m%d")


def uid(seed, kind, study, suffix=""):
    return "2.25.%d%d%012d%s" % (seed, kind, study, suffix)


class Study:
    def __init__(self, seed, s):
        self.index = s
        self.patient = s // 2
        self.instances = 200 + h(seed, s, 0) % 301
        self.series = 2 + h(seed, s, 1) % 3
        self.modality = MODALITIES[h(seed, s, 2) % 4]
        self.date = date_after_2000(h(seed, s, 3) % DATE_SPAN_DAYS)


class Dataset:
    def __init__(self, seed):
        self.seed = seed
        self.studies = []
        self.first = []  # global index of each study's first instance
        self.reserved = 0

    def reserve(self, n):
        while self.reserved < n:
            self.studies.append(Study(self.seed, len(self.studies)))
            self.first.append(self.reserved)
            self.reserved += self.studies[-1].instances

    def study_of(self, n):
        return bisect.bisect_right(self.first, n) - 1

    def studies_covering(self, n):
        return 0 if n == 0 else self.study_of(n - 1) + 1

    def tags(self, n):
        """The index tags of instance n as a dict named like medvault's InstanceTags."""
        st = self.studies[self.study_of(n)]
        i = n - self.first[st.index]
        series = i * st.series // st.instances
        seed = self.seed
        return {
            "patient_id": "SCALE%08d" % st.patient,
            "patient_name": "Scale^Patient%08d" % st.patient,
            "patient_birth_date": "19%02d0101" % (30 + h(seed, PATIENT_DOMAIN + st.patient, 0) % 70),
            "patient_sex": "F" if st.patient % 2 == 0 else "M",
            "study_uid": uid(seed, 1, st.index),
            "study_date": st.date,
            "study_time": "120000",
            "study_description": DESCRIPTION[st.modality],
            "accession_number": "A%010d" % st.index,
            "series_uid": uid(seed, 2, st.index, "%02d" % series),
            "modality": st.modality,
            "series_description": "SERIES %d" % (series + 1),
            "series_number": series + 1,
            "sop_instance_uid": uid(seed, 3, st.index, "%04d" % i),
            "sop_class_uid": SOP_CLASS[st.modality],
            "instance_number": i + 1,
        }


def make_query(seed, shape, instances, studies, j):
    """The j-th query of QUERY_SHAPES[shape] at the checkpoint of `instances` instances, as a dict
    of StudyQuery's fields (empty: no filter)."""
    x = h(seed, QUERY_DOMAIN + instances, 4 * j + shape)
    if shape == 0:
        return {"patient_id": "SCALE%08d" % ((x % max(studies, 1)) // 2)}
    if shape == 1:
        start = x % (DATE_SPAN_DAYS - 365)
        return {"study_date_from": date_after_2000(start), "study_date_to": date_after_2000(start + 364)}
    if shape == 2:
        return {"modality": MODALITIES[x % 4]}
    return {}
