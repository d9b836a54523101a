// SPDX-License-Identifier: Apache-2.0
// The fly stage1: a multi-call binary dispatching on argv[0] (or argv[1]).
#include "stage1/common/diag.h"
#include "stage1/fly/fly.h"

#include <string>
#include <vector>

using namespace capsule::stage1;

int main(int argc, char** argv)
{
    diag_init("fly", false);
    std::vector<std::string> all(argv, argv + argc);
    auto picked = pick_entrypoint(all);
    if (!picked) {
        diag_error(picked.error());
        return exit_stage1_error;
    }
    auto [entry, first] = *picked;
    auto args = parse_stage1_args(entry, std::vector<std::string>(all.begin() + first, all.end()));
    if (!args) {
        diag_error(args.error());
        return exit_stage1_error;
    }
    diag_init("fly", args->debug);
    switch (entry) {
    case Entrypoint::Run:
        return fly::run(*args);
    case Entrypoint::Enter:
        return fly::enter(*args);
    case Entrypoint::Stop:
        return fly::stop(*args);
    case Entrypoint::Gc:
        return fly::gc(*args);
    }
    return exit_stage1_error;
}
