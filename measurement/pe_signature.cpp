// SPDX-License-Identifier: Apache-2.0
#include "measurement/pe_signature.hpp"

#include "lib/util/c_handle.hpp"
#include "lib/util/error.hpp"
#include "measurement/byte_reader.hpp"
#include "measurement/pe.hpp"

#include <climits>
#include <fmt/core.h>
#include <openssl/asn1.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>

namespace cvm::measure {

namespace {

CVM_DEFINE_C_PTR(Pkcs7, PKCS7, PKCS7_free);
CVM_DEFINE_C_PTR(X509Sig, X509_SIG, X509_SIG_free);
CVM_DEFINE_C_PTR(Asn1Object, ASN1_OBJECT, ASN1_OBJECT_free);

void
free_asn1_sequence(ASN1_SEQUENCE_ANY *seq) {
  sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
}
CVM_DEFINE_C_PTR(Asn1SequenceAny, ASN1_SEQUENCE_ANY, free_asn1_sequence);

constexpr std::string_view k_what = "PE certificate table";
constexpr std::uint16_t k_win_cert_revision_2 = 0x0200;
constexpr std::uint16_t k_win_cert_type_pkcs_signed_data = 0x0002;
// SPC_INDIRECT_DATA_OBJID
constexpr const char *k_spc_indirect_data_oid = "1.3.6.1.4.1.311.2.1.4";

[[noreturn]] void
bad_signature(std::size_t offset, std::string_view problem) {
  throw Error(ErrorKind::input, "{}: PKCS#7 signature at offset {:#x}: {}", k_what, offset, problem);
}

EmbeddedDigest
digest_from_pkcs7(std::span<const std::byte> der, std::size_t offset) {
  if (der.size() > static_cast<std::size_t>(LONG_MAX)) {
    bad_signature(offset, "too large");
  }
  const auto *p = reinterpret_cast<const unsigned char *>(der.data());
  Pkcs7Ptr p7(d2i_PKCS7(nullptr, &p, static_cast<long>(der.size())));
  if (!p7) {
    bad_signature(offset, "not DER-encoded PKCS#7");
  }
  if (PKCS7_type_is_signed(p7.get()) == 0 || p7->d.sign == nullptr || p7->d.sign->contents == nullptr) {
    bad_signature(offset, "not a PKCS#7 SignedData");
  }
  PKCS7 *contents = p7->d.sign->contents;
  Asn1ObjectPtr spc(OBJ_txt2obj(k_spc_indirect_data_oid, 1));
  if (!spc || contents->type == nullptr || OBJ_cmp(contents->type, spc.get()) != 0) {
    bad_signature(offset, "content type is not SpcIndirectDataContent");
  }
  // OpenSSL keeps content of an unknown type as an ASN1_TYPE.
  const ASN1_TYPE *other = contents->d.other;
  if (other == nullptr || other->type != V_ASN1_SEQUENCE || other->value.sequence == nullptr) {
    bad_signature(offset, "SpcIndirectDataContent is not a SEQUENCE");
  }
  const unsigned char *sp = other->value.sequence->data;
  Asn1SequenceAnyPtr seq(d2i_ASN1_SEQUENCE_ANY(nullptr, &sp, other->value.sequence->length));
  if (!seq || sk_ASN1_TYPE_num(seq.get()) != 2) {
    bad_signature(offset, "SpcIndirectDataContent is not SEQUENCE { data, messageDigest }");
  }
  const ASN1_TYPE *digest_info = sk_ASN1_TYPE_value(seq.get(), 1);
  if (digest_info == nullptr || digest_info->type != V_ASN1_SEQUENCE ||
      digest_info->value.sequence == nullptr) {
    bad_signature(offset, "messageDigest is not a DigestInfo SEQUENCE");
  }
  const unsigned char *dp = digest_info->value.sequence->data;
  X509SigPtr sig(d2i_X509_SIG(nullptr, &dp, digest_info->value.sequence->length));
  if (!sig) {
    bad_signature(offset, "messageDigest is not a DigestInfo");
  }
  const X509_ALGOR *alg = nullptr;
  const ASN1_OCTET_STRING *digest = nullptr;
  X509_SIG_get0(sig.get(), &alg, &digest);
  if (alg == nullptr || digest == nullptr) {
    bad_signature(offset, "DigestInfo without algorithm or digest");
  }
  const ASN1_OBJECT *alg_oid = nullptr;
  X509_ALGOR_get0(&alg_oid, nullptr, nullptr, alg);
  const int nid = OBJ_obj2nid(alg_oid);
  const char *name = nid == NID_undef ? nullptr : OBJ_nid2sn(nid);
  EmbeddedDigest out;
  out.algorithm = name == nullptr ? "unknown" : name;
  std::transform(out.algorithm.begin(), out.algorithm.end(), out.algorithm.begin(), [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  });
  const auto *bytes = reinterpret_cast<const std::byte *>(ASN1_STRING_get0_data(digest));
  out.digest.assign(bytes, bytes + ASN1_STRING_length(digest));
  return out;
}

} // namespace

std::vector<EmbeddedDigest>
embedded_authenticode_digests(std::span<const std::byte> image) {
  const PeImage pe = parse_pe(image);
  std::vector<EmbeddedDigest> out;
  if (pe.security_entry_offset == 0 || pe.certificate_table_size == 0) {
    return out;
  }
  const auto table = checked_subspan(
      image, pe.certificate_table_offset, pe.certificate_table_size, k_what, "certificate table");
  ByteReader r(table, k_what, pe.certificate_table_offset);
  while (r.remaining() >= 8) {
    const std::size_t at = r.offset();
    const std::uint32_t length = r.u32("WIN_CERTIFICATE dwLength");
    const std::uint16_t revision = r.u16("wRevision");
    const std::uint16_t type = r.u16("wCertificateType");
    if (length < 8) {
      r.fail("WIN_CERTIFICATE dwLength", fmt::format("{} is shorter than its header", length));
    }
    const auto body = r.bytes(length - 8, "WIN_CERTIFICATE bCertificate");
    if (revision == k_win_cert_revision_2 && type == k_win_cert_type_pkcs_signed_data) {
      out.push_back(digest_from_pkcs7(body, at + 8));
    }
    // Entries are 8-byte aligned.
    const std::size_t pad = (8 - length % 8) % 8;
    if (pad > r.remaining()) {
      break;
    }
    r.skip(pad, "WIN_CERTIFICATE padding");
  }
  return out;
}

} // namespace cvm::measure
