// SPDX-License-Identifier: Apache-2.0
// The systemd stage1: a multi-call binary dispatching on argv[0] (or argv[1]).
#include "stage1/common/diag.h"
#include "stage1/systemd/systemd.h"

#include <string>
#include <vector>

using namespace capsule::stage1;

int main(int argc, char** argv)
{
    diag_init("systemd", false);
    std::vector<std::string> all(argv, argv + argc);
    // The helpers the pod's units run (not entrypoints of the interface).
    if (all.size() >= 2 && all[1] == "app-exited")
        return sd::app_exited(std::vector<std::string>(all.begin() + 2, all.end()));
    if (all.size() >= 2 && all[1] == "exec-in-app")
        return sd::exec_in_app(std::vector<std::string>(all.begin() + 2, all.end()));
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
    diag_init("systemd", args->debug);
    switch (entry) {
    case Entrypoint::Run:
        return sd::run(*args);
    case Entrypoint::Enter:
        return sd::enter(*args);
    case Entrypoint::Stop:
        return sd::stop(*args);
    case Entrypoint::Gc:
        return sd::gc(*args);
    }
    return exit_stage1_error;
}
