// SPDX-License-Identifier: Apache-2.0
#include "cmd/capsule/command.h"
#include "stage0/kvm_config.h"
#include "stage0/stage1_image.h"

#include <cstdio>
#include <nlohmann/json.hpp>

namespace capsule::cmd {

namespace {

/// The kvm flavour's effective kvm.json: a key not configured is null (the stage1 picks the
/// kernel and qemu), and the accelerator "auto".
nlohmann::json kvm_json(const stage0::KvmConfig& c)
{
    auto value = [](const std::optional<std::string>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); };
    return { { "kernel", value(c.kernel) }, { "qemu", value(c.qemu) },
        { "accelerator", c.accelerator.value_or("auto") } };
}

void setup(CommandContext& ctx)
{
    auto* sub = add_subcommand(ctx, "config", "Print the effective configuration as JSON");
    sub->callback([&g = ctx.globals, set = ctx.set_action] {
        set([&g]() -> Result<int> {
            std::string insecure = g.insecure_options_text.empty() ? "none" : g.insecure_options_text;
            auto kvm = TRY(stage0::load_kvm_config(g.system_config, g.local_config));
            nlohmann::json j = {
                { "paths",
                    {
                        { "data", g.dir },
                        { "store", g.dir + "/store" },
                        { "pods", g.dir + "/pods" },
                        { "localConfig", g.local_config },
                        { "systemConfig", g.system_config },
                        { "userConfig", g.user_config },
                    } },
                { "insecureOptions", insecure },
                { "trustKeysFromHttps", g.trust_keys_from_https },
                { "stage1", { { "defaultFlavour", stage0::default_stage1_flavour() } } },
                { "kvm", kvm_json(kvm) },
            };
            std::puts(j.dump(2).c_str());
            return 0;
        });
    });
}

const CommandRegistration registration("config", 91, setup);

} // namespace

} // namespace capsule::cmd
