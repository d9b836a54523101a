// SPDX-License-Identifier: Apache-2.0
// `capsule logs UUID`: the apps' output, from the journal the pod's stage1 keeps in the pod
// directory (`<poddir>/journal/`; the systemd flavour's journald writes it), or from its log
// files (`<poddir>/logs/`; the fly and kvm stage1s write them).
#include "cmd/capsule/command.h"
#include "cmd/capsule/log_format.h"
#include "cmd/capsule/pod_journal.h"
#include "cmd/capsule/pod_logfiles.h"
#include "lib/appc/pod_manifest.h"
#include "lib/appc/types.h"
#include "lib/fs.h"
#include "lib/units.h"
#include "lib/uuid.h"
#include "stage0/host_systemd.h"
#include "stage0/pod_info.h"
#include "stage0/prepare.h"
#include "stage1/common/interface.h"

#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <thread>

namespace capsule::cmd {

namespace {

namespace iface = capsule::stage1_interface;
using stage0::PodState;

constexpr std::string_view unit_prefix = "capsule-app-";
constexpr std::string_view unit_suffix = ".service";
/// How often `--follow` looks at the pod's lock while no entries arrive.
constexpr std::chrono::milliseconds follow_poll { 250 };

struct LogsOptions {
    std::string uuid;
    std::string app;
    bool follow { false };
    std::string tail_text;
    std::string since_text;
    std::optional<std::string> tail;  ///< set when --tail was given
    std::optional<std::string> since; ///< set when --since was given
    std::string format { "short" };
};

/// The flags, checked before the pod is looked at.
struct LogsQuery {
    std::optional<uint64_t> tail;
    std::optional<uint64_t> since_usec;
    LogFormat format { LogFormat::Short };
};

Result<uint64_t> parse_tail(const std::string& s)
{
    uint64_t n = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size())
        return Error::msg("--tail: '" + s + "' is not a number of entries");
    return n;
}

/// An RFC 3339 time, or a duration meaning that long ago.
Result<uint64_t> parse_since(const std::string& s)
{
    if (auto t = parse_rfc3339(s))
        return *t < 0 ? 0 : static_cast<uint64_t>(*t);
    auto d = parse_duration(s);
    if (!d)
        return Error::msg(
            "--since: '" + s + "' is neither an RFC 3339 time (2026-11-28T04:18:30Z) nor a duration (10m, 2h, 1h30m)");
    auto now
        = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch());
    auto ago = std::chrono::duration_cast<std::chrono::microseconds>(*d);
    return now > ago ? static_cast<uint64_t>((now - ago).count()) : 0;
}

Result<LogsQuery> parse_query(const LogsOptions& o)
{
    LogsQuery q;
    if (o.tail)
        q.tail = TRY(parse_tail(*o.tail));
    if (o.since)
        q.since_usec = TRY(parse_since(*o.since));
    q.format = o.format == "json" ? LogFormat::Json : o.format == "cat" ? LogFormat::Cat : LogFormat::Short;
    return q;
}

std::string unit_of(const std::string& app)
{
    return std::string(unit_prefix) + app + std::string(unit_suffix);
}

/// The app an entry belongs to: from its unit, else its syslog identifier.
std::string app_of(const JournalEntry& e)
{
    std::string_view u = e.unit;
    if (u.starts_with(unit_prefix) && u.ends_with(unit_suffix) && u.size() > unit_prefix.size() + unit_suffix.size())
        return std::string(u.substr(unit_prefix.size(), u.size() - unit_prefix.size() - unit_suffix.size()));
    return e.identifier;
}

void print_record(const LogRecord& r, LogFormat format)
{
    auto line = format_log_record(r, format);
    std::fwrite(line.data(), 1, line.size(), stdout);
}

std::string list_apps(const std::vector<appc::RuntimeApp>& apps)
{
    std::string out;
    for (auto& a : apps)
        out += (out.empty() ? "" : ", ") + a.name;
    return out;
}

/// A pod that has not run has no logs, whatever its stage1.
Status check_ran(const stage0::PodInfo& info)
{
    switch (info.state) {
    case PodState::Embryo:
    case PodState::Preparing:
    case PodState::AbortedPrepare:
    case PodState::Prepared:
        return Error(
            "pod " + info.ref.uuid + ": no logs: it has not run (it is " + std::string(state_name(info.state)) + ")",
            ENOENT);
    default:
        return {};
    }
}

/// What keeps a pod's logs: the journal (systemd flavour) or log files (fly, kvm).
enum class LogSource { Journal, Files };

std::optional<LogSource> existing_source(const stage0::PodRef& ref)
{
    if (is_directory(path_join(ref.path, "journal")))
        return LogSource::Journal;
    if (is_directory(path_join(ref.path, iface::logs_dir)))
        return LogSource::Files;
    return std::nullopt;
}

/// Where the pod's logs are; nullopt when a running pod's stage1 has not made them yet.
Result<std::optional<LogSource>> log_source(const stage0::PodInfo& info)
{
    if (auto source = existing_source(info.ref))
        return source;
    auto flavour = stage0::pod_flavour(info.ref);
    if (stage0::read_run_options(info.ref.path).interactive)
        return Error(
            "pod " + info.ref.uuid + ": no logs: it ran with --interactive (its apps wrote to the terminal)", ENOENT);
    // The stage1 makes journal/ or logs/ as it starts: a pod that has only just started may
    // not have it yet.
    if (info.state == PodState::Running && (flavour == "systemd" || flavour == "fly" || flavour == "kvm"))
        return std::optional<LogSource>();
    return Error("pod " + info.ref.uuid + ": no logs: its stage1" + (flavour ? " (" + *flavour + ")" : std::string())
            + " keeps none",
        ENOENT);
}

bool running(const stage0::PodRef& ref)
{
    return stage0::probe_state(ref) == PodState::Running;
}

Result<PodJournal> open_journal(const std::string& dir, const appc::PodManifest& manifest, const std::string& app)
{
    auto journal = TRY(PodJournal::open(dir));
    // App output only: entries of the apps' units, not those of the pod's systemd and journald.
    for (auto& a : manifest.apps)
        if (app.empty() || a.name == app)
            TRY(journal.add_match("_SYSTEMD_UNIT=" + unit_of(a.name)));
    return journal;
}

/// Position the journal so that next() gives the first entry to show; true when the current
/// entry is one (after --tail moved back onto it).
Result<bool> seek_start(PodJournal& journal, const LogsQuery& q)
{
    if (q.tail) {
        TRY(journal.seek_tail());
        if (*q.tail > 0)
            return TRY(journal.previous(*q.tail)) > 0;
        // --tail=0: onto the last entry, shown already as not new; an empty journal from its head.
        if (TRY(journal.previous(1)) == 0)
            TRY(journal.seek_head());
        return false;
    }
    if (q.since_usec)
        TRY(journal.seek_realtime(*q.since_usec));
    else
        TRY(journal.seek_head());
    return false;
}

/// Print from the current position (if `current`) to the end.
Status print_rest(PodJournal& journal, const LogsQuery& q, bool current)
{
    while (current || TRY(journal.next())) {
        current = false;
        auto e = TRY(journal.entry());
        if (q.since_usec && e.realtime_usec < *q.since_usec)
            continue;
        print_record({ e.realtime_usec, app_of(e), std::move(e.message), e.priority, std::nullopt }, q.format);
    }
    std::fflush(stdout);
    return {};
}

Result<int> show_journal(const stage0::PodInfo& info, const LogsOptions& o, const LogsQuery& q)
{
    auto journal = TRY(open_journal(path_join(info.ref.path, "journal"), *info.manifest, o.app));
    TRY(print_rest(journal, q, TRY(seek_start(journal, q))));
    if (!o.follow)
        return 0;
    // Until the stage1 lets go of the pod's lock; the entries written before it did are
    // on disk by then, so one last pass gets them all.
    for (;;) {
        bool still_running = running(info.ref);
        TRY(journal.wait(still_running ? std::chrono::microseconds(follow_poll) : std::chrono::microseconds(0)));
        TRY(print_rest(journal, q, false));
        if (!still_running)
            return 0;
    }
}

Result<int> show_files(const stage0::PodInfo& info, const LogsOptions& o, const LogsQuery& q)
{
    std::vector<std::string> apps;
    for (auto& a : info.manifest->apps)
        if (o.app.empty() || a.name == o.app)
            apps.push_back(a.name);
    auto files = TRY(PodLogFiles::open(path_join(info.ref.path, iface::logs_dir), std::move(apps)));
    for (auto& r : select_records(TRY(files.read_all()), q.since_usec, q.tail))
        print_record(r, q.format);
    std::fflush(stdout);
    if (!o.follow)
        return 0;
    // Until the stage1 lets go of the pod's lock: it wrote the app's last lines before.
    for (;;) {
        bool still_running = running(info.ref);
        if (still_running)
            files.wait(follow_poll);
        for (auto& r : TRY(files.read_new()))
            if (!q.since_usec || r.realtime_usec >= *q.since_usec)
                print_record(r, q.format);
        std::fflush(stdout);
        if (!still_running)
            return 0;
    }
}

/// A collected pod whose journal lived in the host's /var/log/journal/<machine-id> (linked
/// there by stage0 on a systemd host): it outlives the pod directory, found by the full UUID.
std::optional<std::string> collected_journal(std::string_view uuid_arg)
{
    auto uuid = parse_uuid(uuid_arg);
    if (!uuid)
        return std::nullopt;
    auto dir = path_join(stage0::host_journal_dir, iface::pod_machine_id(*uuid));
    if (!is_directory(dir))
        return std::nullopt;
    return dir;
}

Result<int> show_collected(const std::string& dir, const LogsOptions& o, const LogsQuery& q)
{
    auto uuid = TRY(parse_uuid(o.uuid));
    auto journal = TRY(PodJournal::open(dir));
    TRY(journal.add_match("CAPSULE_POD=" + uuid));
    if (!o.app.empty())
        TRY(journal.add_match("CAPSULE_APP=" + o.app));
    TRY(print_rest(journal, q, TRY(seek_start(journal, q))));
    return 0;
}

Result<int> show_logs(const GlobalOptions& g, const LogsOptions& o)
{
    auto q = TRY(parse_query(o));
    auto ref = stage0::find_pod(g.dir, o.uuid);
    if (!ref) {
        if (auto dir = collected_journal(o.uuid))
            return show_collected(*dir, o, q);
        return ref.release_error();
    }
    auto info = stage0::read_pod_info(*ref);
    TRY(check_ran(info));
    if (!info.manifest) {
        // read_pod_info() leaves it out when it cannot be read or parsed: say which.
        auto text = TRY(stage0::read_pod_manifest_text(info.ref));
        info.manifest = TRY_CTX(appc::parse_pod_manifest(text), "pod " + info.ref.uuid + ": manifest");
    }
    if (!o.app.empty() && !info.manifest->find_app(o.app))
        return Error(
            "pod " + info.ref.uuid + " has no app '" + o.app + "' (its apps: " + list_apps(info.manifest->apps) + ")",
            ENOENT);
    auto source = TRY(log_source(info));
    // A running pod whose logs are not there yet: nothing to show, or wait for them.
    while (!source && o.follow) {
        bool was_running = running(info.ref);
        if (was_running)
            std::this_thread::sleep_for(follow_poll);
        source = existing_source(info.ref);
        if (!source && !was_running)
            return 0;
    }
    if (!source)
        return 0;
    return *source == LogSource::Journal ? show_journal(info, o, q) : show_files(info, o, q);
}

void setup(CommandContext& ctx)
{
    auto opts = std::make_shared<LogsOptions>();
    auto* sub = add_subcommand(
        ctx, "logs", "Show the output of a pod's apps (from the journal or log files its stage1 keeps)");
    sub->add_option("UUID", opts->uuid, "Pod UUID (a unique prefix is enough)")->required();
    sub->add_option("--app", opts->app, "Only this app's output");
    sub->add_flag("-f,--follow", opts->follow, "Keep printing new output until the pod exits");
    auto* tail = sub->add_option("--tail", opts->tail_text, "Show only the last N entries (then follow, with -f)")
                     ->type_name("N");
    auto* since = sub->add_option(
                         "--since", opts->since_text, "Only entries since an RFC 3339 time or a duration ago (10m, 2h)")
                      ->type_name("TIME");
    sub->add_option("--format", opts->format, "short (default), cat (messages only) or json (one object a line)")
        ->check(CLI::IsMember({ "short", "cat", "json" }));
    sub->callback([opts, tail, since, &g = ctx.globals, set = ctx.set_action] {
        // Given but empty (`--tail=`) is an error, not the default.
        if (tail->count() > 0)
            opts->tail = opts->tail_text;
        if (since->count() > 0)
            opts->since = opts->since_text;
        set([opts, &g]() -> Result<int> { return show_logs(g, *opts); });
    });
}

const CommandRegistration registration("logs", 47, setup);

} // namespace

} // namespace capsule::cmd
