// SPDX-License-Identifier: Apache-2.0
// The systemd stage1: a multi-call binary dispatching on argv[0] (or argv[1]).
#include "stage1/common/diag.h"
#include "stage1/systemd/systemd.h"

#include <string>
#include <vector>

using namespace capsule::stage1;

int main(int argc, char** argv)
{
    std::vector<std::string> all(argv, argv + argc);
    // The helpers the pod's units run (not entrypoints of the interface).
    if (all.size() >= 2 && (all[1] == "app-exited" || all[1] == "exec-in-app")) {
        diag_init("systemd", false);
        std::vector<std::string> rest(all.begin() + 2, all.end());
        return all[1] == "app-exited" ? sd::app_exited(rest) : sd::exec_in_app(rest);
    }
    return stage1_main("systemd", all, { sd::run, sd::enter, sd::stop, sd::gc });
}
