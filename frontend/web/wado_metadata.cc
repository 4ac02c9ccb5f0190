#include "frontend/web/wado_metadata.h"

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "frontend/core/dicom_header.h"
#include "frontend/web/media_type.h"

namespace medvault::frontend::web {
namespace {

bool AcceptsDicomJson(const std::string& accept) {
  if (accept.empty()) return true;
  for (const MediaType& m : ParseAccept(accept)) {
    if (m.type == "*/*" || m.type == "application/*" || m.type == "application/json" ||
        m.type == "application/dicom+json") {
      return true;
    }
  }
  return false;
}

bool AcceptsOctetStreamMultipart(const std::string& accept) {
  if (accept.empty()) return true;
  for (const MediaType& m : ParseAccept(accept)) {
    if (m.type == "*/*" || m.type == "multipart/*") return true;
    const std::string type = m.Param("type");
    if (m.type == "multipart/related" && (type.empty() || type == "application/octet-stream")) {
      return true;
    }
  }
  return false;
}

// The whole stored object, through the read path (a key release audited for `caller`).
absl::StatusOr<std::string> ReadObject(ImageStoreCore* core, const std::string& sop_instance_uid,
                                       const std::string& caller) {
  v1::GetInstanceRequest get;
  get.set_sop_instance_uid(sop_instance_uid);
  std::string file;
  absl::Status read = core->Get(
      get,
      [&](const v1::InstanceInfo* info, uint64_t, absl::string_view data) {
        if (info != nullptr) file.reserve(info->size());
        file.append(data.data(), data.size());
        return absl::OkStatus();
      },
      caller);
  if (!read.ok()) return read;
  return file;
}

// One instance's DICOM JSON object, from its stored header or else from the object itself.
absl::StatusOr<std::string> InstanceJson(ImageStoreCore* core, const v1::InstanceHeaderEntry& entry,
                                         const std::string& base, const std::string& caller) {
  const v1::InstanceTags& tags = entry.info().tags();
  const std::string bulk_base =
      absl::StrCat(base, "/studies/", tags.study_uid(), "/series/", tags.series_uid(),
                   "/instances/", tags.sop_instance_uid(), "/bulkdata");
  if (entry.has_header()) return HeaderToDicomJson(entry.header(), bulk_base);
  absl::StatusOr<std::string> file = ReadObject(core, tags.sop_instance_uid(), caller);
  if (!file.ok()) return file.status();
  absl::StatusOr<v1::InstanceHeader> header = CaptureHeaderFromFile(*file);
  if (!header.ok()) return header.status();
  return HeaderToDicomJson(*header, bulk_base);
}

}  // namespace

std::string DicomWebBase(const HttpRequest& request) {
  const std::string host = request.Header("host");
  if (host.empty() || host.find_first_of("/\"\\ ") != std::string::npos) return "/dicomweb";
  return absl::StrCat("https://", host, "/dicomweb");
}

absl::Status AnswerMetadata(ImageStoreCore* core, const HttpRequest& request, HttpResponder& out,
                            const std::string& caller, const std::string& study,
                            const std::string& series, const std::string& instance) {
  if (!AcceptsDicomJson(request.Header("accept"))) {
    return Respond(out, 406, "text/plain", "only application/dicom+json is served\n");
  }
  const std::string base = DicomWebBase(request);
  v1::GetInstanceHeadersRequest page_request;
  page_request.set_study_uid(study);
  page_request.set_series_uid(series);
  page_request.set_sop_instance_uid(instance);
  bool first = true;
  do {
    absl::StatusOr<v1::GetInstanceHeadersResponse> page = core->GetInstanceHeaders(page_request);
    if (!page.ok()) return page.status();
    std::string chunk;
    for (const v1::InstanceHeaderEntry& entry : page->instances()) {
      absl::StatusOr<std::string> json = InstanceJson(core, entry, base, caller);
      if (!json.ok()) return json.status();
      absl::StrAppend(&chunk, first ? "[" : ",", *json);
      first = false;
    }
    if (!out.begun()) {
      if (absl::Status s = out.Begin(200, {{"Content-Type", "application/dicom+json"}}); !s.ok()) {
        return s;
      }
    }
    if (absl::Status s = out.Write(chunk); !s.ok()) return s;
    page_request.set_page_token(page->next_page_token());
  } while (!page_request.page_token().empty());
  if (absl::Status s = out.Write(first ? "[]" : "]"); !s.ok()) return s;
  return out.End();
}

absl::Status AnswerBulkdata(ImageStoreCore* core, const HttpRequest& request, HttpResponder& out,
                            const std::string& caller, const std::string& study,
                            const std::string& series, const std::string& instance,
                            const std::string& tag_path) {
  if (!AcceptsOctetStreamMultipart(request.Header("accept"))) {
    return Respond(out, 406, "text/plain",
                   "only multipart/related; type=\"application/octet-stream\" is served\n");
  }
  // The instance must be the study's and the series' (the index says; no key released if not).
  v1::GetInstanceHeadersRequest where;
  where.set_study_uid(study);
  where.set_series_uid(series);
  where.set_sop_instance_uid(instance);
  if (absl::StatusOr<v1::GetInstanceHeadersResponse> found = core->GetInstanceHeaders(where);
      !found.ok()) {
    return found.status();
  }
  absl::StatusOr<std::string> file = ReadObject(core, instance, caller);
  if (!file.ok()) return file.status();
  absl::StatusOr<std::string> value = BulkValue(*file, tag_path);
  if (absl::IsInvalidArgument(value.status())) return absl::NotFoundError("no such bulk data");
  if (!value.ok()) return value.status();
  absl::BitGen random;
  const std::string boundary = absl::StrFormat(
      "medvault-bulk-%016x%016x", absl::Uniform<uint64_t>(random), absl::Uniform<uint64_t>(random));
  return Respond(
      out, 200,
      absl::StrCat("multipart/related; type=\"application/octet-stream\"; boundary=", boundary),
      absl::StrCat("--", boundary, "\r\nContent-Type: application/octet-stream\r\n\r\n", *value,
                   "\r\n--", boundary, "--\r\n"));
}

}  // namespace medvault::frontend::web
