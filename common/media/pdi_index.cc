#include "common/media/pdi_index.h"

namespace medvault::media {

PdiInstance PdiInstanceFromIndex(const v1::StudySummary& study, const v1::InstanceInfo& info) {
  const v1::InstanceTags& t = info.tags();
  PdiInstance i;
  i.study_uid = study.study_uid();
  i.series_uid = t.series_uid();
  i.sop_instance_uid = t.sop_instance_uid();
  i.transfer_syntax_uid = t.transfer_syntax_uid();
  i.size = info.size();
  i.patient_name = t.patient_name();
  i.patient_id = t.patient_id();
  i.patient_birth_date = t.patient_birth_date();
  i.study_date = t.study_date();
  i.study_description = t.study_description();
  i.modality = t.modality();
  i.series_description = t.series_description();
  i.series_number = t.series_number();
  i.instance_number = t.instance_number();
  i.sop_class_uid = t.sop_class_uid();
  i.image = t.rows() > 0;
  return i;
}

std::vector<PdiInstance> PdiInstancesOf(const v1::GetStudyResponse& study) {
  std::vector<PdiInstance> out;
  for (const v1::SeriesInfo& series : study.series()) {
    for (const v1::InstanceInfo& info : series.instances()) {
      out.push_back(PdiInstanceFromIndex(study.study(), info));
    }
  }
  return out;
}

}  // namespace medvault::media
