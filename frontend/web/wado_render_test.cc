// Rendering through DCMTK's dcmimage (wado_render.h): query parameters, the Accept choice, and a
// generated 16-bit image rendered to a JPEG and a PNG of the expected size.
#include "frontend/web/wado_render.h"

#include <gtest/gtest.h>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>

#include <vector>

namespace medvault::frontend::web {
namespace {

// A `width` x `height` 16-bit monochrome gradient with a VOI window.
std::unique_ptr<DcmFileFormat> Gradient(Uint16 width, Uint16 height) {
  auto file = std::make_unique<DcmFileFormat>();
  DcmDataset* d = file->getDataset();
  d->putAndInsertUint16(DCM_Rows, height);
  d->putAndInsertUint16(DCM_Columns, width);
  d->putAndInsertUint16(DCM_SamplesPerPixel, 1);
  d->putAndInsertString(DCM_PhotometricInterpretation, "MONOCHROME2");
  d->putAndInsertUint16(DCM_BitsAllocated, 16);
  d->putAndInsertUint16(DCM_BitsStored, 12);
  d->putAndInsertUint16(DCM_HighBit, 11);
  d->putAndInsertUint16(DCM_PixelRepresentation, 0);
  d->putAndInsertString(DCM_WindowCenter, "2048");
  d->putAndInsertString(DCM_WindowWidth, "4096");
  std::vector<Uint16> pixels(static_cast<size_t>(width) * height);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<Uint16>(i % 4096);
  d->putAndInsertUint16Array(DCM_PixelData, pixels.data(),
                             static_cast<unsigned long>(pixels.size()));
  return file;
}

// A PNG's width and height from its IHDR chunk.
std::pair<uint32_t, uint32_t> PngSize(const std::string& png) {
  auto be32 = [&](size_t at) {
    return (static_cast<uint32_t>(static_cast<unsigned char>(png[at])) << 24) |
           (static_cast<uint32_t>(static_cast<unsigned char>(png[at + 1])) << 16) |
           (static_cast<uint32_t>(static_cast<unsigned char>(png[at + 2])) << 8) |
           static_cast<uint32_t>(static_cast<unsigned char>(png[at + 3]));
  };
  if (png.size() < 24 || png.compare(12, 4, "IHDR") != 0) return {0, 0};
  return {be32(16), be32(20)};
}

TEST(WadoRenderTest, QueryParameters) {
  absl::StatusOr<RenderRequest> r =
      ParseRenderQuery({{"window", "40,400,sigmoid"}, {"viewport", "64,32"}, {"quality", "75"}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->has_window);
  EXPECT_EQ(r->window_center, 40);
  EXPECT_EQ(r->window_width, 400);
  EXPECT_TRUE(r->sigmoid);
  EXPECT_EQ(r->viewport_width, 64u);
  EXPECT_EQ(r->viewport_height, 32u);
  EXPECT_EQ(r->quality, 75);
  for (const auto& [k, v] :
       std::vector<std::pair<std::string, std::string>>{{"window", "40"},
                                                        {"window", "40,0"},
                                                        {"window", "40,400,cubic"},
                                                        {"viewport", "64"},
                                                        {"viewport", "0,10"},
                                                        {"quality", "0"},
                                                        {"quality", "101"}}) {
    EXPECT_TRUE(absl::IsInvalidArgument(ParseRenderQuery({{k, v}}).status())) << k << "=" << v;
  }
}

TEST(WadoRenderTest, AcceptChoosesJpegOrPng) {
  EXPECT_EQ(*ChooseImageFormat(""), ImageFormat::kJpeg);
  EXPECT_EQ(*ChooseImageFormat("*/*"), ImageFormat::kJpeg);
  EXPECT_EQ(*ChooseImageFormat("image/png"), ImageFormat::kPng);
  EXPECT_EQ(*ChooseImageFormat("image/jpeg; q=0.4, image/png; q=\"0.9\""), ImageFormat::kPng);
  EXPECT_EQ(*ChooseImageFormat("image/png; q=0, image/*"), ImageFormat::kJpeg);
  EXPECT_EQ(ChooseImageFormat("application/dicom").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(WadoRenderTest, RendersJpegAndPng) {
  std::unique_ptr<DcmFileFormat> file = Gradient(64, 32);
  RenderRequest r;
  absl::StatusOr<std::string> jpeg = RenderImage(*file, r);
  ASSERT_TRUE(jpeg.ok()) << jpeg.status();
  EXPECT_EQ(jpeg->substr(0, 2), "\xFF\xD8");
  r.format = ImageFormat::kPng;
  absl::StatusOr<std::string> png = RenderImage(*file, r);
  ASSERT_TRUE(png.ok()) << png.status();
  EXPECT_EQ(png->substr(0, 4), "\x89PNG");
  EXPECT_EQ(PngSize(*png), (std::pair<uint32_t, uint32_t>(64, 32)));
  r.frame = 2;
  EXPECT_TRUE(absl::IsNotFound(RenderImage(*file, r).status()));
}

TEST(WadoRenderTest, ThumbnailsShrinkKeepingAspectAndNeverGrow) {
  RenderRequest r;
  r.format = ImageFormat::kPng;
  r.thumbnail = true;
  std::unique_ptr<DcmFileFormat> wide = Gradient(512, 128);
  absl::StatusOr<std::string> thumb = RenderImage(*wide, r);
  ASSERT_TRUE(thumb.ok()) << thumb.status();
  EXPECT_EQ(PngSize(*thumb), (std::pair<uint32_t, uint32_t>(128, 32)));
  std::unique_ptr<DcmFileFormat> small = Gradient(64, 32);
  EXPECT_EQ(PngSize(*RenderImage(*small, r)), (std::pair<uint32_t, uint32_t>(64, 32)));
  // A rendered viewport fits both ways.
  r.thumbnail = false;
  r.viewport_width = 256;
  r.viewport_height = 256;
  EXPECT_EQ(PngSize(*RenderImage(*small, r)), (std::pair<uint32_t, uint32_t>(256, 128)));
}

}  // namespace
}  // namespace medvault::frontend::web
