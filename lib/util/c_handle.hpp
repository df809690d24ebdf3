// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <memory>

// Owning pointer types for C library handles, with a stateless deleter so the
// pointer stays pointer-sized (after folly's OpenSSLPtrTypes.h):
//   CVM_DEFINE_C_PTR(EvpMdCtx, EVP_MD_CTX, EVP_MD_CTX_free);
//   EvpMdCtxPtr ctx(EVP_MD_CTX_new());
namespace cvm::detail {
template<auto free_fn> struct CDeleter {
  template<typename T>
  void
  operator()(T *p) const noexcept {
    if (p != nullptr) {
      free_fn(p);
    }
  }
};
} // namespace cvm::detail

// A macro, not a template: it names the alias (FooPtr) as well.
// NOLINTNEXTLINE(cppcoreguidelines-macro-usage)
#define CVM_DEFINE_C_PTR(alias, c_type, free_fn)                                                             \
  using alias##Ptr = std::unique_ptr<c_type, ::cvm::detail::CDeleter<&(free_fn)>>
