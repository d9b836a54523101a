// SPDX-License-Identifier: Apache-2.0
#include "cmd/capsule/app_args.h"

#include "lib/linux_names.h"
#include "lib/units.h"
#include "stage0/systemd.h"

#include <algorithm>
#include <cctype>
#include <optional>

namespace capsule::cmd {

namespace {

enum class Level { Pod, App, Global };
enum class Arity { Bool, Value };

struct FlagDef {
    std::string_view name;
    Level level;
    Arity arity;
    std::string_view help;
};

constexpr FlagDef flag_defs[] = {
    { "stage1", Level::Pod, Arity::Value, "stage1 flavour: systemd (default; $CAPSULE_STAGE1 overrides), fly or kvm" },
    { "stage1-path", Level::Pod, Arity::Value, "stage1 image from a file" },
    { "stage1-name", Level::Pod, Arity::Value, "stage1 image by name (fetched like an image)" },
    { "stage1-hash", Level::Pod, Arity::Value, "stage1 image by stored image ID" },
    { "interactive", Level::Pod, Arity::Bool, "pass stdin (a terminal or a pipe) to the app" },
    { "set-env", Level::Pod, Arity::Value, "K=V for every app (repeatable)" },
    { "set-env-file", Level::Pod, Arity::Value, "file of K=V lines for every app" },
    { "inherit-env", Level::Pod, Arity::Bool, "apps inherit capsule's environment" },
    { "volume", Level::Pod, Arity::Value, "NAME,kind=host|empty[,source=PATH][,readOnly=true]" },
    { "hostname", Level::Pod, Arity::Value, "pod hostname (fly shares the host's)" },
    { "net", Level::Pod, Arity::Value, "network: host (the only one fly has)" },
    { "uuid-file-save", Level::Pod, Arity::Value, "write the pod UUID to FILE" },
    { "no-overlay", Level::Pod, Arity::Bool, "copy the image instead of an overlayfs" },
    { "insecure-options", Level::Pod, Arity::Value, "as the global flag" },
    { "pull-policy", Level::Pod, Arity::Value, "never, new (default) or update, for every image" },
    { "platform", Level::Pod, Arity::Value, "OS/ARCH[/VARIANT] to pick from multi-platform images" },
    { "detach", Level::Pod, Arity::Bool,
        "run as the service capsule-<uuid>.service, print the UUID, return (systemd)" },
    { "restart", Level::Pod, Arity::Value, "with --detach: no (default), on-failure or always" },
    { "unit-property", Level::Pod, Arity::Value, "K=V for the pod's scope or service (repeatable; systemd)" },
    { "dir", Level::Global, Arity::Value, "" },
    { "local-config", Level::Global, Arity::Value, "" },
    { "system-config", Level::Global, Arity::Value, "" },
    { "user-config", Level::Global, Arity::Value, "" },
    { "trust-keys-from-https", Level::Global, Arity::Bool, "" },
    { "debug", Level::Global, Arity::Bool, "" },
    { "quiet", Level::Global, Arity::Bool, "" },
    { "exec", Level::App, Arity::Value, "command to run instead of the image's" },
    { "user", Level::App, Arity::Value, "user (UID or name in the image)" },
    { "group", Level::App, Arity::Value, "group (GID or name in the image)" },
    { "working-dir", Level::App, Arity::Value, "working directory (absolute)" },
    { "mount", Level::App, Arity::Value, "volume=NAME,target=PATH (repeatable)" },
    { "environment", Level::App, Arity::Value, "K=V for this app (repeatable)" },
    { "name", Level::App, Arity::Value, "app name (default: from the image name)" },
    { "memory", Level::App, Arity::Value, "memory limit (64M, 1Gi…; the pod's cgroup and the app's isolator)" },
    { "cpu", Level::App, Arity::Value, "CPU limit in millicores (500m, 2…; the pod's cgroup and the app's isolator)" },
    { "cap-retain", Level::App, Arity::Value, "CAP[,CAP...]: the only capabilities the app keeps" },
    { "cap-remove", Level::App, Arity::Value, "CAP[,CAP...]: capabilities taken from the app's default set" },
    { "seccomp", Level::App, Arity::Value, "mode=retain|remove[,errno=ENAME],SYSCALL[,@GROUP...]" },
};

const FlagDef* find_flag(std::string_view name)
{
    for (auto& f : flag_defs)
        if (f.name == name)
            return &f;
    return nullptr;
}

Result<bool> parse_bool(std::string_view flag, std::optional<std::string> value)
{
    if (!value || *value == "true")
        return true;
    if (*value == "false")
        return false;
    return Error::msg("--" + std::string(flag) + ": expected true or false, not '" + *value + "'");
}

Status apply_pod_flag(stage0::PodSpec& s, std::string_view name, const std::optional<std::string>& value)
{
    using Kind = stage0::Stage1Selection::Kind;
    auto v = value.value_or("");
    if (name == "stage1" || name == "stage1-path" || name == "stage1-name" || name == "stage1-hash") {
        if (v.empty())
            return Error::msg("--" + std::string(name) + ": empty value");
        s.stage1.kind = name == "stage1" ? Kind::Flavour
            : name == "stage1-path"      ? Kind::Path
            : name == "stage1-name"      ? Kind::Name
                                         : Kind::Hash;
        s.stage1.value = v;
    } else if (name == "interactive")
        s.interactive = TRY(parse_bool(name, value));
    else if (name == "inherit-env")
        s.inherit_env = TRY(parse_bool(name, value));
    else if (name == "no-overlay")
        s.no_overlay = TRY(parse_bool(name, value));
    else if (name == "set-env")
        s.set_env.push_back(TRY_CTX(stage0::parse_env_assignment(v), "--set-env"));
    else if (name == "set-env-file")
        s.set_env_files.push_back(v);
    else if (name == "volume")
        s.volumes.push_back(TRY_CTX(appc::parse_volume_string(v), "--volume"));
    else if (name == "hostname")
        s.hostname = v;
    else if (name == "net") {
        if (v != "host")
            return Error::msg("--net=" + v + ": only --net=host is supported by this build");
    } else if (name == "uuid-file-save")
        s.uuid_file_save = v;
    else if (name == "insecure-options")
        s.insecure_options = v;
    else if (name == "pull-policy")
        s.pull_policy = TRY(parse_pull_policy(v));
    else if (name == "platform")
        s.platform = TRY(oci::parse_platform(v));
    else if (name == "detach")
        s.detach = TRY(parse_bool(name, value));
    else if (name == "restart") {
        if (v != "no" && v != "on-failure" && v != "always")
            return Error::msg("--restart=" + v + ": expected no, on-failure or always");
        s.restart = v;
    } else if (name == "unit-property") {
        TRY_CTX(stage0::systemd::parse_unit_property(v), "--unit-property");
        s.unit_properties.push_back(v);
    }
    return {};
}

/// --cap-retain/--cap-remove: repeatable, sets add up; the two kinds exclude each other (appc).
Status add_capabilities(stage0::AppSpec& a, std::string_view flag, const std::string& v)
{
    using stage0::SetMode;
    auto mode = flag == "cap-retain" ? SetMode::Retain : SetMode::Remove;
    auto set = TRY(parse_capability_list(flag, v));
    if (!a.capabilities)
        a.capabilities = stage0::CapabilitySpec { mode, {} };
    else if (a.capabilities->mode != mode)
        return Error::msg("--cap-retain and --cap-remove exclude each other (image " + a.image + ")");
    auto& out = a.capabilities->set;
    for (auto& c : set)
        if (std::find(out.begin(), out.end(), c) == out.end())
            out.push_back(c);
    return {};
}

Status apply_app_flag(stage0::AppSpec& a, std::string_view name, const std::string& v)
{
    if (name == "exec") {
        if (v.empty())
            return Error::msg("--exec: empty command");
        a.exec = v;
    } else if (name == "user")
        a.user = v;
    else if (name == "group")
        a.group = v;
    else if (name == "working-dir")
        a.working_dir = v;
    else if (name == "mount")
        a.mounts.push_back(TRY(parse_mount_flag(v)));
    else if (name == "environment")
        a.environment.push_back(TRY_CTX(stage0::parse_env_assignment(v), "--environment"));
    else if (name == "name")
        a.name = v;
    else if (name == "memory")
        a.memory = TRY(parse_memory_flag(v));
    else if (name == "cpu")
        a.cpu_millicores = TRY(parse_cpu_flag(v));
    else if (name == "cap-retain" || name == "cap-remove")
        TRY(add_capabilities(a, name, v));
    else if (name == "seccomp") {
        if (a.seccomp)
            return Error::msg("--seccomp given twice for image " + a.image + " (one filter per app)");
        a.seccomp = TRY(parse_seccomp_flag(v));
    }
    return {};
}

/// One `--flag[=value]` (taking the next argument as value when needed).
Status take_flag(RunArgs& out, const std::vector<std::string>& args, size_t& i)
{
    std::string_view arg = args[i];
    auto body = arg.substr(2);
    auto eq = body.find('=');
    std::string name(body.substr(0, eq));
    std::optional<std::string> value;
    if (eq != std::string_view::npos)
        value = std::string(body.substr(eq + 1));
    auto* def = find_flag(name);
    if (!def)
        return Error::msg("unknown flag '--" + name + "' (see 'capsule run --help')");
    if (def->arity == Arity::Value && !value) {
        if (i + 1 >= args.size())
            return Error::msg("--" + name + " needs a value");
        value = args[++i];
    }
    auto& apps = out.spec.apps;
    if (def->level == Level::Global) {
        if (!apps.empty())
            return Error::msg("--" + name + " is a global flag: give it before the first image");
        out.globals.emplace_back(name, value.value_or("true"));
        return {};
    }
    if (def->level == Level::Pod) {
        if (!apps.empty())
            return Error::msg("--" + name + " is a pod flag: give it before the first image");
        return apply_pod_flag(out.spec, name, value);
    }
    if (apps.empty())
        return Error::msg("--" + name + " is an app flag: give it after the image it applies to");
    return apply_app_flag(apps.back(), name, *value);
}

} // namespace

Result<fetch::PullPolicy> parse_pull_policy(std::string_view s)
{
    if (s == "never")
        return fetch::PullPolicy::Never;
    if (s == "new")
        return fetch::PullPolicy::New;
    if (s == "update")
        return fetch::PullPolicy::Update;
    return Error::msg("--pull-policy=" + std::string(s) + ": expected never, new or update");
}

Result<uint64_t> parse_memory_flag(std::string_view s)
{
    auto bytes = TRY_CTX(parse_quantity(s), "--memory=" + std::string(s));
    // Below a page the kernel refuses (v1) or the pod cannot start at all.
    if (bytes < 4096)
        return Error::msg("--memory=" + std::string(s) + ": at least 4096 bytes");
    return bytes;
}

Result<uint64_t> parse_cpu_flag(std::string_view s)
{
    auto millicores = TRY_CTX(parse_millicores(s), "--cpu=" + std::string(s));
    // The CFS quota is at least 1ms per 100ms period.
    if (millicores < 10)
        return Error::msg("--cpu=" + std::string(s) + ": at least 10m");
    return millicores;
}

namespace {

/// `s` split at commas, empty items kept (callers refuse them).
std::vector<std::string_view> split_commas(std::string_view s)
{
    std::vector<std::string_view> out;
    size_t start = 0;
    while (true) {
        auto comma = s.find(',', start);
        out.push_back(s.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
        if (comma == std::string_view::npos)
            return out;
        start = comma + 1;
    }
}

std::string upper(std::string_view s)
{
    std::string out;
    for (char c : s)
        out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

} // namespace

Result<std::vector<std::string>> parse_capability_list(std::string_view flag, std::string_view s)
{
    auto what = "--" + std::string(flag) + "=" + std::string(s);
    std::vector<std::string> out;
    for (auto item : split_commas(s)) {
        if (item.empty())
            return Error::msg(what + ": expected CAP[,CAP...] without empty names");
        auto cap = find_capability(item);
        if (!cap)
            return Error::msg(what + ": unknown capability '" + std::string(item) + "'");
        if (std::find(out.begin(), out.end(), cap->name) == out.end())
            out.emplace_back(cap->name);
    }
    return out;
}

Result<stage0::SeccompSpec> parse_seccomp_flag(std::string_view s)
{
    auto what = "--seccomp=" + std::string(s);
    auto items = split_commas(s);
    stage0::SeccompSpec out;
    if (items[0] == "mode=retain")
        out.mode = stage0::SetMode::Retain;
    else if (items[0] == "mode=remove")
        out.mode = stage0::SetMode::Remove;
    else
        return Error::msg(what + ": expected mode=retain or mode=remove first");
    size_t i = 1;
    if (i < items.size() && items[i].starts_with("errno=")) {
        auto name = upper(items[i].substr(6));
        if (!errno_from_name(name))
            return Error::msg(what + ": unknown errno name '" + std::string(items[i].substr(6)) + "'");
        out.errno_name = name;
        i++;
    }
    for (; i < items.size(); i++) {
        auto item = items[i];
        if (item.find('=') != std::string_view::npos)
            return Error::msg(what + ": '" + std::string(item) + "' out of place (mode= comes first, errno= second)");
        if (!is_syscall_name(item))
            return Error::msg(what + ": '" + std::string(item) + "' is not a system call name or @group");
        if (std::find(out.set.begin(), out.set.end(), item) == out.set.end())
            out.set.emplace_back(item);
    }
    if (out.set.empty())
        return Error::msg(what + ": no system calls given");
    return out;
}

Result<appc::PodMount> parse_mount_flag(std::string_view s)
{
    appc::PodMount m;
    size_t start = 0;
    while (start <= s.size()) {
        auto comma = s.find(',', start);
        auto part = s.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
        start = comma == std::string_view::npos ? s.size() + 1 : comma + 1;
        auto eq = part.find('=');
        auto key = part.substr(0, eq);
        auto value = eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1);
        if (key == "volume")
            m.volume = value;
        else if (key == "target")
            m.path = value;
        else
            return Error::msg("--mount '" + std::string(s) + "': unknown key '" + std::string(key) + "'");
    }
    if (m.volume.empty() || m.path.empty())
        return Error::msg("--mount '" + std::string(s) + "': expected volume=NAME,target=PATH");
    return m;
}

Result<RunArgs> parse_run_args(const std::vector<std::string>& args)
{
    RunArgs out;
    bool want_image = true; // at the start, and after `---`
    for (size_t i = 0; i < args.size(); i++) {
        const std::string& arg = args[i];
        if (arg == "--help" || arg == "-h") {
            out.help = true;
            return out;
        }
        if (arg == "---") {
            if (out.spec.apps.empty() || want_image)
                return Error::msg("'---' must separate two images");
            want_image = true;
        } else if (arg == "--") {
            if (out.spec.apps.empty() || want_image)
                return Error::msg("'--' must follow an image (its arguments come after it)");
            auto& app = out.spec.apps.back();
            for (i++; i < args.size() && args[i] != "---"; i++)
                app.args.push_back(args[i]);
            if (i < args.size())
                want_image = true;
        } else if (arg.starts_with("--")) {
            TRY(take_flag(out, args, i));
        } else if (arg == "-q" && out.spec.apps.empty()) {
            out.globals.emplace_back("quiet", "true");
        } else if (arg.starts_with("-") && arg.size() > 1) {
            return Error::msg("unknown flag '" + arg + "' (see 'capsule run --help')");
        } else {
            if (!want_image)
                return Error::msg("unexpected argument '" + arg
                    + "': one image per app; separate apps with '---', pass arguments after '--'");
            out.spec.apps.push_back({});
            out.spec.apps.back().image = arg;
            want_image = false;
        }
    }
    if (out.spec.apps.empty())
        return Error::msg("no image given");
    if (want_image)
        return Error::msg("'---' must be followed by an image");
    return out;
}

std::string run_args_help()
{
    std::string out = "Pod flags (before the first image):\n";
    auto add = [&](Level level) {
        for (auto& f : flag_defs) {
            if (f.level != level)
                continue;
            std::string left = "  --" + std::string(f.name) + (f.arity == Arity::Value ? "=VALUE" : "");
            left.resize(std::max<size_t>(left.size() + 2, 28), ' ');
            out += left + std::string(f.help) + "\n";
        }
    };
    add(Level::Pod);
    out += "App flags (after the image they apply to):\n";
    add(Level::App);
    out += "  -- ARGS...                append ARGS to the app's exec (up to '---')\n";
    out += "  ---                       start the next app (the fly stage1 runs one)\n";
    return out;
}

} // namespace capsule::cmd
