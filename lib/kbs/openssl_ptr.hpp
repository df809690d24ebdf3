// SPDX-License-Identifier: Apache-2.0
#pragma once

// Internal to lib/kbs (included only from .cpp files): owning pointers for
// the OpenSSL handles this library uses.
#include "lib/util/c_handle.hpp"

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/params.h>

namespace cvm::kbs {

CVM_DEFINE_C_PTR(EvpPkey, EVP_PKEY, EVP_PKEY_free);
CVM_DEFINE_C_PTR(EvpPkeyCtx, EVP_PKEY_CTX, EVP_PKEY_CTX_free);
CVM_DEFINE_C_PTR(EvpCipherCtx, EVP_CIPHER_CTX, EVP_CIPHER_CTX_free);
CVM_DEFINE_C_PTR(Bignum, BIGNUM, BN_free);
CVM_DEFINE_C_PTR(OsslParamBld, OSSL_PARAM_BLD, OSSL_PARAM_BLD_free);
CVM_DEFINE_C_PTR(OsslParam, OSSL_PARAM, OSSL_PARAM_free);

} // namespace cvm::kbs
