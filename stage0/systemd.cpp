// SPDX-License-Identifier: Apache-2.0
#include "stage0/systemd.h"

#include "lib/dl.h"

#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <sys/stat.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-login.h>
#include <utility>

namespace capsule::stage0::systemd {

namespace {

/// The libsystemd functions stage0 calls, resolved with dlsym().
struct Api {
    decltype(&::sd_booted) booted;
    decltype(&::sd_pid_notify) pid_notify;
    decltype(&::sd_pid_get_unit) pid_get_unit;
    decltype(&::sd_bus_open_system) open_system;
    decltype(&::sd_bus_flush_close_unref) flush_close_unref;
    decltype(&::sd_bus_message_new_method_call) new_method_call;
    decltype(&::sd_bus_message_append_basic) append_basic;
    decltype(&::sd_bus_message_append_array) append_array;
    decltype(&::sd_bus_message_open_container) open_container;
    decltype(&::sd_bus_message_close_container) close_container;
    decltype(&::sd_bus_message_read_basic) read_basic;
    decltype(&::sd_bus_message_unref) message_unref;
    decltype(&::sd_bus_call) call;
    decltype(&::sd_bus_get_property_string) get_property_string;
    decltype(&::sd_bus_get_property_trivial) get_property_trivial;
    decltype(&::sd_bus_match_signal) match_signal;
    decltype(&::sd_bus_slot_unref) slot_unref;
    decltype(&::sd_bus_process) process;
    decltype(&::sd_bus_wait) wait;
    decltype(&::sd_bus_error_free) error_free;
    decltype(&::sd_bus_error_get_errno) error_get_errno;
};

Api api;

Result<const Api*> load_api()
{
    auto lib = TRY(
        DynamicLibrary::open("libsystemd.so.0", "using the host's systemd needs libsystemd (package libsystemd0): "));
    lib.symbol("sd_booted", api.booted);
    lib.symbol("sd_pid_notify", api.pid_notify);
    lib.symbol("sd_pid_get_unit", api.pid_get_unit);
    lib.symbol("sd_bus_open_system", api.open_system);
    lib.symbol("sd_bus_flush_close_unref", api.flush_close_unref);
    lib.symbol("sd_bus_message_new_method_call", api.new_method_call);
    lib.symbol("sd_bus_message_append_basic", api.append_basic);
    lib.symbol("sd_bus_message_append_array", api.append_array);
    lib.symbol("sd_bus_message_open_container", api.open_container);
    lib.symbol("sd_bus_message_close_container", api.close_container);
    lib.symbol("sd_bus_message_read_basic", api.read_basic);
    lib.symbol("sd_bus_message_unref", api.message_unref);
    lib.symbol("sd_bus_call", api.call);
    lib.symbol("sd_bus_get_property_string", api.get_property_string);
    lib.symbol("sd_bus_get_property_trivial", api.get_property_trivial);
    lib.symbol("sd_bus_match_signal", api.match_signal);
    lib.symbol("sd_bus_slot_unref", api.slot_unref);
    lib.symbol("sd_bus_process", api.process);
    lib.symbol("sd_bus_wait", api.wait);
    lib.symbol("sd_bus_error_free", api.error_free);
    lib.symbol("sd_bus_error_get_errno", api.error_get_errno);
    TRY(lib.check());
    return &api;
}

Result<const Api*> systemd_api()
{
    // Loaded once; an error is returned again to every caller.
    static Result<const Api*> loaded = load_api();
    return loaded;
}

constexpr const char* systemd_service = "org.freedesktop.systemd1";
constexpr const char* systemd_path = "/org/freedesktop/systemd1";
constexpr const char* systemd_manager = "org.freedesktop.systemd1.Manager";
constexpr const char* machined_service = "org.freedesktop.machine1";
constexpr const char* machined_path = "/org/freedesktop/machine1";
constexpr const char* machined_manager = "org.freedesktop.machine1.Manager";
constexpr const char* no_such_unit = "org.freedesktop.systemd1.NoSuchUnit";
constexpr const char* no_such_machine = "org.freedesktop.machine1.NoSuchMachine";

struct MessageUnref {
    void operator()(sd_bus_message* m) const { api.message_unref(m); }
};
using Message = std::unique_ptr<sd_bus_message, MessageUnref>;

struct SlotUnref {
    void operator()(sd_bus_slot* s) const { api.slot_unref(s); }
};
using Slot = std::unique_ptr<sd_bus_slot, SlotUnref>;

/// An sd_bus_error, freed on scope exit.
struct BusError {
    sd_bus_error e = SD_BUS_ERROR_NULL;
    BusError() = default;
    BusError(const BusError&) = delete;
    BusError& operator=(const BusError&) = delete;
    ~BusError() { api.error_free(&e); }

    bool is(const char* name) const { return e.name && std::strcmp(e.name, name) == 0; }

    /// "<subject>: <what>: <D-Bus error message>" (strerror(-r) when the failure was local).
    Error error(std::string_view subject, std::string_view what, int r) const
    {
        std::string prefix = std::string(subject) + ": " + std::string(what);
        if (!e.name)
            return Error::from_errno(prefix, -r);
        int err = api.error_get_errno(&e);
        std::string text = e.message && *e.message ? e.message : e.name;
        return Error(prefix + ": " + text, err ? err : -r);
    }
};

/// Appends to a message, keeping the first failure (sd-bus calls return -errno).
class Writer {
public:
    explicit Writer(sd_bus_message* m)
        : m_message(m)
    {
    }
    void string(const std::string& s) { step(api.append_basic(m_message, 's', s.c_str())); }
    template<typename T> void basic(char type, T value) { step(api.append_basic(m_message, type, &value)); }
    void array(char type, const void* data, size_t size) { step(api.append_array(m_message, type, data, size)); }
    void open(char type, const char* contents) { step(api.open_container(m_message, type, contents)); }
    void close() { step(api.close_container(m_message)); }
    int status() const { return m_r; }

    void strings(const std::vector<std::string>& list)
    {
        open('a', "s");
        for (auto& s : list)
            string(s);
        close();
    }

    void property(const UnitProperty& p)
    {
        open('r', "sv");
        string(p.name);
        std::visit([this](const auto& v) { variant(v); }, p.value);
        close();
    }

private:
    void step(int r)
    {
        if (m_r >= 0 && r < 0)
            m_r = r;
    }

    void variant(const std::string& v)
    {
        open('v', "s");
        string(v);
        close();
    }
    void variant(bool v)
    {
        open('v', "b");
        basic<int>('b', v);
        close();
    }
    void variant(uint64_t v)
    {
        open('v', "t");
        basic('t', v);
        close();
    }
    void variant(int32_t v)
    {
        open('v', "i");
        basic('i', v);
        close();
    }
    void variant(uint32_t v)
    {
        open('v', "u");
        basic('u', v);
        close();
    }
    void variant(const std::vector<std::string>& v)
    {
        open('v', "as");
        strings(v);
        close();
    }
    void variant(const std::vector<uint32_t>& v)
    {
        open('v', "au");
        array('u', v.data(), v.size() * sizeof(uint32_t));
        close();
    }
    void variant(const std::vector<ExecCommand>& commands)
    {
        open('v', "a(sasb)");
        open('a', "(sasb)");
        for (auto& c : commands) {
            open('r', "sasb");
            string(c.path);
            strings(c.argv);
            basic<int>('b', c.ignore_failure);
            close();
        }
        close();
        close();
    }
    void variant(const std::vector<std::vector<uint8_t>>& v)
    {
        open('v', "aay");
        open('a', "ay");
        for (auto& bytes : v)
            array('y', bytes.data(), bytes.size());
        close();
        close();
    }

    sd_bus_message* m_message;
    int m_r { 0 };
};

sd_bus* as_bus(void* bus)
{
    return static_cast<sd_bus*>(bus);
}

/// Where a method call goes.
struct Call {
    const char* service;
    const char* path;
    const char* interface;
    const char* member;
};

Result<Message> new_call(sd_bus* bus, const Call& c, std::string_view subject, std::string_view what)
{
    sd_bus_message* m = nullptr;
    if (int r = api.new_method_call(bus, &m, c.service, c.path, c.interface, c.member); r < 0)
        return Error::from_errno(std::string(subject) + ": " + std::string(what), -r);
    return Message(m);
}

/// Send `m` and wait for the reply. A D-Bus error named `tolerated` gives a null reply.
Result<Message> send(sd_bus* bus, Message m, int append_status, std::string_view subject, std::string_view what,
    const char* tolerated = nullptr)
{
    BusError error;
    if (append_status < 0)
        return error.error(subject, what, append_status);
    sd_bus_message* reply = nullptr;
    if (int r = api.call(bus, m.get(), 0, &error.e, &reply); r < 0) {
        if (tolerated && error.is(tolerated))
            return Message();
        return error.error(subject, what, r);
    }
    return Message(reply);
}

/// JobRemoved signals (`uoss`: id, job, unit, result) seen so far, by job object path.
struct JobWatch {
    std::map<std::string, std::string> results;

    static int on_job_removed(sd_bus_message* m, void* userdata, sd_bus_error*)
    {
        uint32_t id = 0;
        const char* job = nullptr;
        const char* unit = nullptr;
        const char* result = nullptr;
        if (api.read_basic(m, 'u', &id) < 0 || api.read_basic(m, 'o', &job) < 0 || api.read_basic(m, 's', &unit) < 0
            || api.read_basic(m, 's', &result) < 0)
            return 0; // not ours to fail the loop over
        static_cast<JobWatch*>(userdata)->results[job] = result;
        return 0;
    }
};

/// Subscribe to JobRemoved before the job exists: its creator receives the signal without
/// Manager.Subscribe(), but only with a match installed when it is sent.
Result<Slot> watch_jobs(sd_bus* bus, JobWatch& watch, std::string_view subject)
{
    sd_bus_slot* slot = nullptr;
    int r = api.match_signal(
        bus, &slot, systemd_service, systemd_path, systemd_manager, "JobRemoved", &JobWatch::on_job_removed, &watch);
    if (r < 0)
        return Error::from_errno(std::string(subject) + ": watch for JobRemoved", -r);
    return Slot(slot);
}

/// Read the job path from a StartUnit-like reply and process the bus until that job is removed:
/// its result ("done", "failed", "canceled", "timeout", "dependency", "skipped"…).
Result<std::string> wait_for_job(sd_bus* bus, JobWatch& watch, sd_bus_message* reply, std::string_view subject)
{
    const char* path = nullptr;
    if (int r = api.read_basic(reply, 'o', &path); r < 0)
        return Error::from_errno(std::string(subject) + ": read the job path", -r);
    std::string job = path;
    for (;;) {
        if (auto it = watch.results.find(job); it != watch.results.end())
            return it->second;
        int r = api.process(bus, nullptr);
        if (r < 0)
            return Error::from_errno(std::string(subject) + ": wait for job " + job, -r);
        if (r > 0)
            continue;
        r = api.wait(bus, UINT64_MAX);
        if (r < 0 && r != -EINTR)
            return Error::from_errno(std::string(subject) + ": wait for job " + job, -r);
    }
}

/// GetUnit: the unit's object path; nullopt when no unit of that name is loaded.
Result<std::optional<std::string>> unit_path(sd_bus* bus, const std::string& name)
{
    auto m = TRY(new_call(bus, { systemd_service, systemd_path, systemd_manager, "GetUnit" }, name, "get unit"));
    Writer w(m.get());
    w.string(name);
    auto reply = TRY(send(bus, std::move(m), w.status(), name, "get unit", no_such_unit));
    if (!reply)
        return std::optional<std::string>();
    const char* path = nullptr;
    if (int r = api.read_basic(reply.get(), 'o', &path); r < 0)
        return Error::from_errno(name + ": get unit", -r);
    return std::optional<std::string>(path);
}

Result<std::string> string_property(
    sd_bus* bus, const std::string& unit, const std::string& path, const char* interface, const char* property)
{
    BusError error;
    char* value = nullptr;
    if (int r = api.get_property_string(bus, systemd_service, path.c_str(), interface, property, &error.e, &value);
        r < 0)
        return error.error(unit, std::string("read ") + property, r);
    std::string out = value;
    std::free(value);
    return out;
}

/// The interface of a unit type's own properties (Result, MainPID…), for the types pods use.
const char* type_interface(std::string_view unit)
{
    if (unit.ends_with(".service"))
        return "org.freedesktop.systemd1.Service";
    if (unit.ends_with(".scope"))
        return "org.freedesktop.systemd1.Scope";
    return nullptr;
}

/// Why a job failed, as far as the unit says: " (failed/failed, result exit-code)", or "".
std::string failure_detail(sd_bus* bus, const std::string& name)
{
    auto path = unit_path(bus, name);
    if (!path || !*path)
        return {};
    const char* unit_iface = "org.freedesktop.systemd1.Unit";
    auto active = string_property(bus, name, **path, unit_iface, "ActiveState");
    auto sub = string_property(bus, name, **path, unit_iface, "SubState");
    if (!active || !sub)
        return {};
    std::string detail = " (" + *active + "/" + *sub;
    if (const char* iface = type_interface(name))
        if (auto result = string_property(bus, name, **path, iface, "Result"); result)
            detail += ", result " + *result;
    return detail + ")";
}

/// Call a StartUnit-like method (reply: the job path) and, with `watch`, wait for the job.
/// A D-Bus error named `tolerated` is success.
Status run_job(sd_bus* bus, Message m, int append_status, const std::string& unit, std::string_view verb,
    JobWatch* watch, const char* tolerated = nullptr)
{
    auto reply = TRY(send(bus, std::move(m), append_status, unit, verb, tolerated));
    if (!reply || !watch)
        return {};
    auto result = TRY(wait_for_job(bus, *watch, reply.get(), unit));
    if (result == "done")
        return {};
    std::string message = unit + ": " + std::string(verb) + " job " + result;
    if (result == "failed")
        message += failure_detail(bus, unit);
    return Error(message, EIO);
}

/// A method call whose reply has nothing to read.
Status simple_call(sd_bus* bus, Message m, int append_status, std::string_view subject, std::string_view what,
    const char* tolerated = nullptr)
{
    TRY(send(bus, std::move(m), append_status, subject, what, tolerated));
    return {};
}

} // namespace

bool booted()
{
    static const bool is_booted = [] {
        // sd_booted() checks for this directory; without it, the library (and its cost on every
        // `capsule run` of a host without systemd) is not needed to know the answer.
        struct stat st;
        if (::lstat("/run/systemd/system", &st) < 0)
            return false;
        auto loaded = systemd_api();
        return loaded && (*loaded)->booted() > 0;
    }();
    return is_booted;
}

Result<Bus> Bus::system()
{
    TRY(systemd_api());
    sd_bus* bus = nullptr;
    if (int r = api.open_system(&bus); r < 0)
        return Error::from_errno("connect to the system bus", -r);
    return Bus(bus);
}

Bus::Bus(void* bus)
    : m_bus(bus)
{
}

Bus::Bus(Bus&& other) noexcept
    : m_bus(std::exchange(other.m_bus, nullptr))
{
}

Bus& Bus::operator=(Bus&& other) noexcept
{
    if (this != &other) {
        if (m_bus)
            api.flush_close_unref(as_bus(m_bus));
        m_bus = std::exchange(other.m_bus, nullptr);
    }
    return *this;
}

Bus::~Bus()
{
    if (m_bus)
        api.flush_close_unref(as_bus(m_bus));
}

Status Bus::start_transient_unit(const std::string& name, const std::vector<UnitProperty>& properties, bool wait)
{
    sd_bus* bus = as_bus(m_bus);
    JobWatch watch;
    Slot slot;
    if (wait)
        slot = TRY(watch_jobs(bus, watch, name));
    auto m
        = TRY(new_call(bus, { systemd_service, systemd_path, systemd_manager, "StartTransientUnit" }, name, "start"));
    Writer w(m.get());
    w.string(name);
    w.string("fail");
    w.open('a', "(sv)");
    for (auto& p : properties)
        w.property(p);
    w.close();
    w.open('a', "(sa(sv))"); // no auxiliary units
    w.close();
    return run_job(bus, std::move(m), w.status(), name, "start", wait ? &watch : nullptr);
}

Status Bus::stop_unit(const std::string& name, bool wait)
{
    sd_bus* bus = as_bus(m_bus);
    JobWatch watch;
    Slot slot;
    if (wait)
        slot = TRY(watch_jobs(bus, watch, name));
    auto m = TRY(new_call(bus, { systemd_service, systemd_path, systemd_manager, "StopUnit" }, name, "stop"));
    Writer w(m.get());
    w.string(name);
    w.string("replace");
    return run_job(bus, std::move(m), w.status(), name, "stop", wait ? &watch : nullptr, no_such_unit);
}

Status Bus::kill_unit(const std::string& name, const std::string& who, int signal)
{
    sd_bus* bus = as_bus(m_bus);
    auto m = TRY(new_call(bus, { systemd_service, systemd_path, systemd_manager, "KillUnit" }, name, "kill"));
    Writer w(m.get());
    w.string(name);
    w.string(who);
    w.basic<int32_t>('i', signal);
    return simple_call(bus, std::move(m), w.status(), name, "kill");
}

Status Bus::set_unit_properties(const std::string& name, const std::vector<UnitProperty>& properties, bool runtime)
{
    sd_bus* bus = as_bus(m_bus);
    auto m = TRY(
        new_call(bus, { systemd_service, systemd_path, systemd_manager, "SetUnitProperties" }, name, "set properties"));
    Writer w(m.get());
    w.string(name);
    w.basic<int>('b', runtime);
    w.open('a', "(sv)");
    for (auto& p : properties)
        w.property(p);
    w.close();
    return simple_call(bus, std::move(m), w.status(), name, "set properties");
}

Status Bus::reset_failed_unit(const std::string& name)
{
    sd_bus* bus = as_bus(m_bus);
    auto m = TRY(new_call(
        bus, { systemd_service, systemd_path, systemd_manager, "ResetFailedUnit" }, name, "reset failed state"));
    Writer w(m.get());
    w.string(name);
    return simple_call(bus, std::move(m), w.status(), name, "reset failed state", no_such_unit);
}

Result<std::optional<UnitState>> Bus::unit_state(const std::string& name)
{
    sd_bus* bus = as_bus(m_bus);
    auto path = TRY(unit_path(bus, name));
    if (!path)
        return std::optional<UnitState>();
    const char* unit_iface = "org.freedesktop.systemd1.Unit";
    UnitState state;
    state.active_state = TRY(string_property(bus, name, *path, unit_iface, "ActiveState"));
    state.sub_state = TRY(string_property(bus, name, *path, unit_iface, "SubState"));
    if (name.ends_with(".service")) {
        BusError error;
        if (int r = api.get_property_trivial(bus, systemd_service, path->c_str(), "org.freedesktop.systemd1.Service",
                "MainPID", &error.e, 'u', &state.main_pid);
            r < 0)
            return error.error(name, "read MainPID", r);
    }
    return std::optional<UnitState>(std::move(state));
}

Status Bus::register_machine(const MachineRegistration& machine)
{
    sd_bus* bus = as_bus(m_bus);
    auto m = TRY(new_call(bus, { machined_service, machined_path, machined_manager, "RegisterMachine" }, machine.name,
        "register machine"));
    Writer w(m.get());
    w.string(machine.name);
    w.array('y', machine.id.data(), machine.id.size());
    w.string(machine.service);
    w.string(machine.machine_class);
    w.basic<uint32_t>('u', static_cast<uint32_t>(machine.leader));
    w.string(machine.root_directory);
    return simple_call(bus, std::move(m), w.status(), machine.name, "register machine");
}

Result<bool> Bus::machine_exists(const std::string& name)
{
    sd_bus* bus = as_bus(m_bus);
    auto m
        = TRY(new_call(bus, { machined_service, machined_path, machined_manager, "GetMachine" }, name, "get machine"));
    Writer w(m.get());
    w.string(name);
    auto reply = TRY(send(bus, std::move(m), w.status(), name, "get machine", no_such_machine));
    return reply != nullptr;
}

Status Bus::terminate_machine(const std::string& name)
{
    sd_bus* bus = as_bus(m_bus);
    auto m = TRY(new_call(
        bus, { machined_service, machined_path, machined_manager, "TerminateMachine" }, name, "terminate machine"));
    Writer w(m.get());
    w.string(name);
    return simple_call(bus, std::move(m), w.status(), name, "terminate machine", no_such_machine);
}

Result<bool> notify(pid_t pid, const std::string& state)
{
    TRY(systemd_api());
    int r = api.pid_notify(pid, 0, state.c_str());
    if (r < 0)
        return Error::from_errno("notify systemd", -r);
    return r > 0;
}

Result<std::string> unit_of_pid(pid_t pid)
{
    TRY(systemd_api());
    char* unit = nullptr;
    if (int r = api.pid_get_unit(pid, &unit); r < 0)
        return Error::from_errno("unit of PID " + std::to_string(pid), -r);
    std::string out = unit;
    std::free(unit);
    return out;
}

std::string pod_unit_name(const std::string& uuid, std::string_view suffix)
{
    return "capsule-" + uuid + "." + std::string(suffix);
}

std::string pod_machine_name(const std::string& uuid)
{
    return "capsule-" + uuid;
}

} // namespace capsule::stage0::systemd
