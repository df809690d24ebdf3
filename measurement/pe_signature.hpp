// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

// The Authenticode digests a PE image's own signature vouches for: the
// messageDigest of the SpcIndirectDataContent inside each PKCS#7 SignedData
// of the certificate table. Used as an oracle for authenticode_digest() and to
// show in `cvmforge measure` output whether a shipped image is the signed one.
namespace cvm::measure {

struct EmbeddedDigest {
  std::string algorithm; // OpenSSL short name, lower case: "sha256", "sha384", "sha1"
  std::vector<std::byte> digest;
};

// One entry per WIN_CERT_TYPE_PKCS_SIGNED_DATA certificate, in table order;
// empty for an unsigned image. Throws cvm::Error(input) naming the offset for
// a certificate table or WIN_CERTIFICATE outside the file, or a PKCS#7 blob
// that does not hold an SpcIndirectDataContent with a DigestInfo.
std::vector<EmbeddedDigest> embedded_authenticode_digests(std::span<const std::byte> image);

} // namespace cvm::measure
