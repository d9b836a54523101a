// SPDX-License-Identifier: Apache-2.0
#pragma once

// The host's systemd, through libsystemd (Documentation/using-capsule-with-systemd.md):
// sd_booted(), sd-bus to systemd (transient units) and systemd-machined (machine
// registration), sd_pid_notify() and sd_pid_get_unit().
//
// libsystemd is loaded with dlopen() on first use (lib/dl.h), as for `logs`: linking it would
// cost every start of capsule, and hosts without systemd never need it. Without libsystemd,
// booted() is false and every other call fails with one line naming the package.

#include "lib/result.h"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <variant>
#include <vector>

namespace capsule::stage0::systemd {

/// sd_booted(): the host was booted with systemd as init (false when libsystemd is missing).
bool booted();

/// One entry of ExecStart= (D-Bus signature `(sasb)`).
struct ExecCommand {
    std::string path;
    std::vector<std::string> argv; ///< argv[0] included
    bool ignore_failure { false };
};

/// A unit property as StartTransientUnit and SetUnitProperties take it: D-Bus types
/// s, b, t, i, u, as, au (PIDs), a(sasb) (ExecStart…), aay (LogExtraFields).
using PropertyValue = std::variant<std::string, bool, uint64_t, int32_t, uint32_t, std::vector<std::string>,
    std::vector<uint32_t>, std::vector<ExecCommand>, std::vector<std::vector<uint8_t>>>;

struct UnitProperty {
    std::string name; ///< the D-Bus property name (MemoryMax, CPUQuotaPerSecUSec, ExecStart…)
    PropertyValue value;
};

/// Parse one `--unit-property=NAME=VALUE` in unit-file syntax (`MemoryMax=1G`, `CPUQuota=50%`,
/// `RestartSec=2s`, `Environment=A=1 B=2`, `After=x.service`…) into the typed D-Bus property
/// (CPUQuota becomes CPUQuotaPerSecUSec, RestartSec RestartUSec…). Pure. An unknown NAME or a bad
/// VALUE is a one-line error naming it and why.
Result<UnitProperty> parse_unit_property(std::string_view assignment);

/// The names parse_unit_property() accepts, sorted (for --help, docs, completions).
const std::vector<std::string>& supported_unit_properties();

/// A loaded unit's state (org.freedesktop.systemd1.Unit).
struct UnitState {
    std::string active_state; ///< active, activating, deactivating, inactive, failed, reloading
    std::string sub_state;    ///< running, auto-restart, dead, exited…
    uint32_t main_pid { 0 };  ///< services only (0 otherwise or when none)
};

/// What RegisterMachine takes (org.freedesktop.machine1.Manager).
struct MachineRegistration {
    std::string name;              ///< "capsule-<uuid>"
    std::array<uint8_t, 16> id {}; ///< the pod UUID's 16 bytes
    std::string service { "capsule" };
    std::string machine_class { "container" }; ///< "container", or "vm" (the kvm flavour)
    pid_t leader { 0 };
    std::string root_directory; ///< absolute, or empty (a VM: its files are not on the host)
};

/// A connection to the system bus. Errors say which call failed on which unit/machine, with
/// the D-Bus error's message ("capsule-….scope: start: Unit … already exists").
class Bus {
public:
    /// sd_bus_open_system().
    static Result<Bus> system();

    Bus(Bus&&) noexcept;
    Bus& operator=(Bus&&) noexcept;
    Bus(const Bus&) = delete;
    Bus& operator=(const Bus&) = delete;
    ~Bus();

    /// StartTransientUnit(name, "fail", properties, no aux units). With `wait`, block until the
    /// start job finishes; a job that ends other than "done" is an error naming its result.
    Status start_transient_unit(const std::string& name, const std::vector<UnitProperty>&, bool wait = true);
    /// StopUnit(name, "replace"); with `wait`, until the stop job finishes. A unit that is not
    /// loaded is not an error.
    Status stop_unit(const std::string& name, bool wait = false);
    /// KillUnit(name, who ("all", "main", "control"), signal).
    Status kill_unit(const std::string& name, const std::string& who, int signal);
    /// SetUnitProperties(name, runtime, properties).
    Status set_unit_properties(const std::string& name, const std::vector<UnitProperty>&, bool runtime = true);
    /// ResetFailedUnit(name); a unit that is not loaded is not an error.
    Status reset_failed_unit(const std::string& name);
    /// The unit's state; nullopt when no unit of that name is loaded.
    Result<std::optional<UnitState>> unit_state(const std::string& name);

    /// machined: RegisterMachine (the machine joins the leader's unit).
    Status register_machine(const MachineRegistration&);
    /// machined: whether a machine of that name is registered.
    Result<bool> machine_exists(const std::string& name);
    /// machined: TerminateMachine; an unknown machine is not an error.
    Status terminate_machine(const std::string& name);

private:
    explicit Bus(void* bus);
    void* m_bus { nullptr }; ///< sd_bus*
};

/// sd_pid_notify(pid, 0, state): `state` ("READY=1\nSTATUS=…") to $NOTIFY_SOCKET on behalf of
/// `pid` (0: this process). false when there is no $NOTIFY_SOCKET.
Result<bool> notify(pid_t pid, const std::string& state);

/// sd_pid_get_unit(): the system unit `pid` belongs to ("foo.service").
Result<std::string> unit_of_pid(pid_t pid);

/// The unit name systemd gives a pod: "capsule-<uuid>.<suffix>" (suffix "scope" or "service").
std::string pod_unit_name(const std::string& uuid, std::string_view suffix);
/// The machine name machined shows for a pod: "capsule-<uuid>".
std::string pod_machine_name(const std::string& uuid);

} // namespace capsule::stage0::systemd
