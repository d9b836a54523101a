// SPDX-License-Identifier: Apache-2.0
// The fly stage1: a multi-call binary dispatching on argv[0] (or argv[1]).
#include "stage1/fly/fly.h"

#include <string>
#include <vector>

using namespace capsule::stage1;

int main(int argc, char** argv)
{
    return stage1_main(
        "fly", std::vector<std::string>(argv, argv + argc), { fly::run, fly::enter, fly::stop, fly::gc });
}
