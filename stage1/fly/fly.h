// SPDX-License-Identifier: Apache-2.0
#pragma once

// The fly flavour's entrypoints, one static multi-call binary (`/stage1/fly` with symlinks
// run, enter, stop and gc). Each returns the process exit status.

#include "stage1/common/args.h"
#include "stage1/common/pod.h"

namespace capsule::stage1::fly {

int run(const Stage1Args&);
int enter(const Stage1Args&);
int stop(const Stage1Args&);
int gc(const Stage1Args&);

} // namespace capsule::stage1::fly
