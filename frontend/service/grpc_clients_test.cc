// The chunk write's wire form: a WriteChunkRequest any protobuf parser reads back, whose data is
// the caller's sealed buffer itself rather than a copy.
#include "frontend/service/grpc_clients.h"

#include <gtest/gtest.h>

#include <vector>

namespace medvault::frontend {
namespace {

TEST(SerializeWriteChunkTest, ParsesBackAndSharesTheDataBuffer) {
  for (size_t size : {size_t{0}, size_t{1}, size_t{127}, size_t{128}, size_t{1} << 20}) {
    ReplicatedChunkWrite write;
    write.chunk_id = std::string(16, '\x07');
    write.crc32c = size == 0 ? 0 : 0xE3069283u;
    std::string sealed(size, '\0');
    for (size_t i = 0; i < size; ++i) sealed[i] = static_cast<char>(i * 31);
    write.data = std::make_shared<const std::string>(std::move(sealed));
    std::weak_ptr<const std::string> watch = write.data;

    grpc::ByteBuffer buffer = SerializeWriteChunk(write);
    std::vector<grpc::Slice> slices;
    ASSERT_TRUE(buffer.Dump(&slices).ok());
    std::string wire;
    bool shares = false;
    for (const grpc::Slice& s : slices) {
      wire.append(reinterpret_cast<const char*>(s.begin()), s.size());
      if (size > 0 && reinterpret_cast<const char*>(s.begin()) == write.data->data()) shares = true;
    }
    v1::WriteChunkRequest parsed;
    ASSERT_TRUE(parsed.ParseFromString(wire)) << size;
    EXPECT_EQ(parsed.chunk_id(), write.chunk_id);
    EXPECT_EQ(parsed.crc32c(), write.crc32c);
    EXPECT_EQ(parsed.data(), *write.data) << size;
    EXPECT_TRUE(size == 0 || shares) << "the data was copied, size " << size;

    // The buffer keeps the bytes alive after the caller lets go, and frees them when it goes.
    write.data.reset();
    if (size > 0) {
      EXPECT_FALSE(watch.expired());
    }
    slices.clear();
    buffer.Clear();
    EXPECT_TRUE(watch.expired()) << size;
  }
}

}  // namespace
}  // namespace medvault::frontend
