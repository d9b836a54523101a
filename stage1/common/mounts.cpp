// SPDX-License-Identifier: Apache-2.0
namespace capsule::stage1 {
}
