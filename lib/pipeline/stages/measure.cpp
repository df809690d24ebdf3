// SPDX-License-Identifier: Apache-2.0
// Stage measure: TDX reference values for the manifest's platform profile.
#include "lib/pipeline/stages.hpp"

#include "lib/util/error.hpp"

namespace cvm::pipeline::stages {

void
measure(BuildContext& /*ctx*/)
{
  throw Error(ErrorKind::not_implemented,
              "reference values at build time are not available in this build yet; remove measurement.profile "
              "and run 'cvmforge measure' on the image");
}

} // namespace cvm::pipeline::stages
