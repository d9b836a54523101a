// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cerrno>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace capsule {

/// An error as a value: a human sentence that grows context as it travels up
/// ("fetch x.aci: open 'x.aci': No such file or directory") and the errno, if any.
class Error {
public:
    Error() = default;
    explicit Error(std::string message, int code = 0)
        : m_message(std::move(message))
        , m_code(code)
    {
    }

    /// `what: strerror(err)`.
    static Error from_errno(std::string_view what, int err = errno);
    /// A plain message without errno.
    static Error msg(std::string message) { return Error(std::move(message)); }

    /// Prefix the message with `context: ` (the errno is kept).
    [[nodiscard]] Error wrap(std::string_view context) const&;
    [[nodiscard]] Error wrap(std::string_view context) &&;

    const std::string& message() const { return m_message; }
    int code() const { return m_code; }

private:
    std::string m_message;
    int m_code { 0 };
};

/// Shaped like C++23 std::expected<T, Error>.
template<typename T> class [[nodiscard]] Result {
public:
    Result(T value)
        : m_value(std::move(value))
    {
    }
    Result(Error error)
        : m_value(std::move(error))
    {
    }
    template<typename U>
    requires(std::is_constructible_v<T,
                 U&&> && !std::is_same_v<std::remove_cvref_t<U>, Error> && !std::is_same_v<std::remove_cvref_t<U>, T>)
        Result(U&& value)
        : m_value(T(std::forward<U>(value)))
    {
    }

    bool has_value() const { return m_value.index() == 0; }
    explicit operator bool() const { return has_value(); }

    T& value() & { return std::get<0>(m_value); }
    const T& value() const& { return std::get<0>(m_value); }
    T&& value() && { return std::get<0>(std::move(m_value)); }
    T release_value() { return std::get<0>(std::move(m_value)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

    const Error& error() const& { return std::get<1>(m_value); }
    Error release_error() { return std::get<1>(std::move(m_value)); }

    /// Wrap the error, if any, with context; a no-op on success.
    Result wrap(std::string_view context) &&
    {
        if (has_value())
            return std::move(*this);
        return std::get<1>(std::move(m_value)).wrap(context);
    }

private:
    std::variant<T, Error> m_value;
};

template<> class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error)
        : m_error(std::move(error))
        , m_failed(true)
    {
    }
    bool has_value() const { return !m_failed; }
    explicit operator bool() const { return !m_failed; }
    void release_value() { }
    const Error& error() const& { return m_error; }
    Error release_error() { return std::move(m_error); }
    Result wrap(std::string_view context) &&
    {
        if (!m_failed)
            return {};
        return std::move(m_error).wrap(context);
    }

private:
    Error m_error;
    bool m_failed { false };
};

using Status = Result<void>;

} // namespace capsule

/// Evaluate a Result; on error return it from the enclosing function, else yield the value.
#define TRY(expr)                                                                                                      \
    ({                                                                                                                 \
        auto _try_result = (expr);                                                                                     \
        if (!_try_result) [[unlikely]]                                                                                 \
            return _try_result.release_error();                                                                        \
        _try_result.release_value();                                                                                   \
    })

/// Like TRY, but wraps the error with `context` (evaluated only on failure).
#define TRY_CTX(expr, context)                                                                                         \
    ({                                                                                                                 \
        auto _try_result = (expr);                                                                                     \
        if (!_try_result) [[unlikely]]                                                                                 \
            return _try_result.release_error().wrap(context);                                                          \
        _try_result.release_value();                                                                                   \
    })
