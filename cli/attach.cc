// `medvault attach --study UID FILE [--type T]`: stores a report or other document beside a study's
// images as an Encapsulated Document instance (cli/document.h); `medvault get --instance UID
// --document -o FILE` gives the original file back.
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/commands.h"
#include "cli/document.h"
#include "cli/files.h"
#include "cli/format.h"
#include "common/rpc.h"
#include "dcmtk/dcmdata/dcuid.h"

namespace medvault::cli {
namespace {

// Documents are reports, not images: larger files are refused before anything is sent.
constexpr uint64_t kMaxDocumentBytes = 256 << 20;

absl::StatusOr<std::string> ReadDocument(const std::string& path) {
  absl::StatusOr<std::unique_ptr<FileReader>> reader = FileReader::Open(path);
  if (!reader.ok()) return reader.status();
  if ((*reader)->size() > kMaxDocumentBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("the document is larger than ", FormatSize(kMaxDocumentBytes)));
  }
  std::string all, piece;
  for (;;) {
    if (absl::Status s = (*reader)->Read(1 << 20, &piece); !s.ok()) return s;
    if (piece.empty()) return all;
    all += piece;
  }
}

// Patient and study attributes of the study as the index holds them: the tags of one of its
// instances. NOT_FOUND when the study is not stored.
absl::StatusOr<v1::InstanceTags> StudyTags(const CommandContext& ctx, const std::string& study) {
  grpc::ClientContext context;
  SetDeadline(&context, ctx.timeout);
  v1::GetStudyRequest request;
  request.set_study_uid(study);
  v1::GetStudyResponse response;
  grpc::Status status = ctx.stub->GetStudy(&context, request, &response);
  if (!status.ok()) {
    absl::Status s = FromGrpcStatus(status);
    if (s.code() == absl::StatusCode::kNotFound) {
      return absl::NotFoundError("no such study is stored (--study)");
    }
    return s;
  }
  for (const v1::SeriesInfo& series : response.series()) {
    for (const v1::InstanceInfo& instance : series.instances()) return instance.tags();
  }
  return absl::NotFoundError("no such study is stored (--study)");
}

std::string NewUid(const char* root) {
  char uid[100];
  dcmGenerateUniqueIdentifier(uid, root);
  return uid;
}

std::string BaseName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

absl::StatusOr<v1::PutInstanceResponse> Attach(const CommandContext& ctx, const AttachArgs& args,
                                               DocumentType* type) {
  absl::StatusOr<std::string> bytes = ReadDocument(args.path);
  if (!bytes.ok()) return bytes.status();
  if (args.type.empty()) {
    absl::StatusOr<DocumentType> guessed = GuessDocumentType(*bytes);
    if (!guessed.ok()) return guessed.status();
    *type = *guessed;
  } else {
    std::optional<DocumentType> given = ParseDocumentType(args.type);
    if (!given) return absl::InvalidArgumentError("unknown --type");
    *type = *given;
  }
  if (absl::Status s = CheckDocument(*type, *bytes); !s.ok()) return s;
  absl::StatusOr<v1::InstanceTags> study = StudyTags(ctx, args.study_uid);
  if (!study.ok()) return study.status();

  DocumentContext context;
  context.study = *std::move(study);
  context.title = BaseName(args.path);
  context.sop_instance_uid = NewUid(SITE_INSTANCE_UID_ROOT);
  context.series_uid = NewUid(SITE_SERIES_UID_ROOT);
  const absl::Time now = absl::Now();
  context.content_date = absl::FormatTime("%Y%m%d", now, absl::LocalTimeZone());
  context.content_time = absl::FormatTime("%H%M%S", now, absl::LocalTimeZone());
  absl::StatusOr<std::string> instance = EncapsulateDocument(*type, *bytes, context);
  if (!instance.ok()) return instance.status();
  size_t sent = 0;
  return PutStream(
      *ctx.stub,
      [&](size_t max_bytes, std::string* piece) {
        piece->assign(*instance, sent, max_bytes);
        sent += piece->size();
        return absl::OkStatus();
      },
      ctx.timeout);
}

}  // namespace

int RunAttach(const CommandContext& ctx, const AttachArgs& args) {
  DocumentType type = DocumentType::kText;
  absl::StatusOr<v1::PutInstanceResponse> stored = Attach(ctx, args, &type);
  if (!stored.ok()) {
    *ctx.err << FormatError("attach", stored.status()) << "\n";
    return kExitFailure;
  }
  // The new instance's UID on stdout, for scripts; what it is on stderr.
  *ctx.out << stored->sop_instance_uid() << "\n";
  *ctx.err << args.path << ": attached as " << DocumentTypeName(type) << " ("
           << DocumentMediaType(type) << "), " << FormatSize(stored->size()) << " stored\n";
  return kExitOk;
}

int RunGetDocument(const CommandContext& ctx, const GetArgs& args) {
  // The instance goes through FetchInstance's checks (size, SHA-256) into a private file first.
  const std::string instance_path = absl::StrCat(args.output, ".instance.partial");
  absl::StatusOr<uint64_t> fetched = FetchInstance(*ctx.stub, *ctx.fs, args.instance_uid, 0, 0,
                                                   instance_path, ctx.timeout, ctx.retry_pause);
  absl::StatusOr<std::string> instance = fetched.ok()
                                             ? ctx.fs->ReadFile(instance_path)
                                             : absl::StatusOr<std::string>(fetched.status());
  ctx.fs->DeleteFile(instance_path).IgnoreError();
  absl::StatusOr<std::string> document =
      instance.ok() ? ExtractDocument(*instance) : instance.status();
  absl::Status written = document.status();
  if (document.ok()) {
    const std::string partial = args.output + ".partial";
    absl::StatusOr<std::unique_ptr<WritableFile>> file = ctx.fs->NewWritableFile(partial);
    written = file.status();
    if (written.ok()) written = (*file)->Append(*document);
    if (written.ok()) written = (*file)->Sync();
    if (file.ok()) {
      absl::Status closed = (*file)->Close();
      if (written.ok()) written = closed;
    }
    if (written.ok()) written = ctx.fs->Rename(partial, args.output);
    if (!written.ok()) ctx.fs->DeleteFile(partial).IgnoreError();
  }
  if (!written.ok()) {
    *ctx.err << FormatError("get", written) << "\n";
    return kExitFailure;
  }
  *ctx.err << args.output << ": " << FormatSize(document->size()) << " (the document)\n";
  return kExitOk;
}

}  // namespace medvault::cli
