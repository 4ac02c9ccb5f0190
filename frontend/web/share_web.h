// The recipient's side of a share on the HTTPS port, in front of the DICOMweb door:
//   POST /share/api/redeem   code=...&pin=... (form-encoded): opens a session. The cookie is
//                            HttpOnly, Secure, SameSite=Strict; the answer carries the session's
//                            CSRF token. Refusals: 403 (one message for every share that is
//                            expired, revoked, used up or locked, and for codes that open nothing;
//                            a wrong PIN on an open share says how many attempts remain), 429 when
//                            the address made too many failed attempts.
//   GET  /, /share/app/FILE  the page (frontend/web/page/, built at build time, from `page_dir`),
//                            under a strict Content-Security-Policy (scripts from this origin
//                            only).
//   GET  /share/api/session  the shared studies (patient, date, description, series) as JSON.
//   POST /share/api/logout   ends the session (X-CSRF-Token required).
//   GET  /share/api/download?study=UID
//                            when the share allows downloads: the study as a ZIP in the IHE PDI
//                            layout (common/media/pdi.h, the same writer as `medvault export
//                            --zip`: DICOMDIR, INDEX.HTM, README.TXT and the offline viewer),
//                            streamed as it is written; logged in
//                            the share's log ("download") like every read. 403 when the share
//                            does not allow it, 404 for a study outside the share.
//   /dicomweb/...            with the session cookie and no client certificate: the DICOMweb door
//                            with the session's identity (role kShareSessionRole), authorised by
//                            the frontend's one Authorizer, restricted to the share's studies.
//                            Any other study, series or instance -- even guessed -- gets the same
//                            404 as a missing one.
// Every request of a session is logged in the share's log and checked against the share: a revoked
// or expired share ends the session at its next request (401). Cross-origin POSTs are refused
// (Origin must be this host); state-changing session requests need the CSRF token.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "common/access_policy.h"
#include "common/env.h"
#include "frontend/core/image_store_core.h"
#include "frontend/core/share_desk.h"
#include "frontend/web/https_server.h"
#include "frontend/web/share_sessions.h"

namespace medvault::frontend::web {

inline constexpr char kShareCookie[] = "mv_share";

class ShareWeb {
 public:
  // Everything must outlive this. `next` serves whatever is not a share session's (DicomWeb).
  // `page_dir` (read through `fs`) holds the built page; empty or null: no page is served.
  // `scratch_dir` is where a download's DICOMDIR is built (common/media/pdi.h); empty: /dev/shm
  // (memory, so no plaintext reaches a disk) when it exists, else $TMPDIR or /tmp.
  // `viewer_dir` holds the built offline viewer (media::FindViewerDir): a download carries it
  // under VIEWER/ as `medvault export` does; empty: downloads without a viewer.
  ShareWeb(ShareDesk* desk, ShareSessions* sessions, ImageStoreCore* core, HttpHandler next,
           Filesystem* fs = nullptr, std::string page_dir = "", std::string scratch_dir = "",
           std::string viewer_dir = "")
      : desk_(desk),
        sessions_(sessions),
        core_(core),
        next_(std::move(next)),
        fs_(fs),
        page_dir_(std::move(page_dir)),
        scratch_dir_(std::move(scratch_dir)),
        viewer_dir_(std::move(viewer_dir)) {}

  // The handler for HttpsServer.
  absl::Status Handle(const HttpRequest& request, HttpResponder& out);

  // The value of cookie `name` in a Cookie header ("" when absent).
  static std::string CookieValue(const std::string& header, absl::string_view name);

 private:
  absl::Status Redeem(const HttpRequest& request, HttpResponder& out);
  // One file of the page, or 404.
  absl::Status PageFile(const std::string& name, HttpResponder& out);
  absl::Status SessionInfo(const ShareSession& session, HttpResponder& out);
  // GET /share/api/download.
  absl::Status Download(const HttpRequest& request, const std::string& cookie,
                        const ShareSession& session, HttpResponder& out);
  // A DICOMweb request of a session: scope check, log, then `next_` with the session identity.
  absl::Status SessionDicomWeb(const HttpRequest& request, const std::string& cookie,
                               const ShareSession& session, HttpResponder& out);
  // OK when the request's target lies within the session's studies; NOT_FOUND otherwise.
  absl::Status InScope(const HttpRequest& request, const ShareSession& session);

  ShareDesk* const desk_;
  ShareSessions* const sessions_;
  ImageStoreCore* const core_;
  const HttpHandler next_;
  Filesystem* const fs_;
  const std::string page_dir_;
  const std::string scratch_dir_;
  const std::string viewer_dir_;
};

}  // namespace medvault::frontend::web
