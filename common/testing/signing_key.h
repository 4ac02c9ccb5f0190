// A fresh Ed25519 private key on disk, as an operator provisions the key service's audit signing
// key (--audit_signing_key): for the audit-chain tests, unit and cluster. Test-only.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include <string>

#include <gtest/gtest.h>

namespace medvault::testing {

// Writes a new Ed25519 private key as PEM (mode 0600) to `path` and returns `path`.
inline std::string WriteSigningKey(const std::string& path) {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  EXPECT_NE(key, nullptr);
  BIO* bio = BIO_new_file(path.c_str(), "w");
  EXPECT_EQ(PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr), 1);
  BIO_free(bio);
  EVP_PKEY_free(key);
  ::chmod(path.c_str(), 0600);
  return path;
}

}  // namespace medvault::testing
